// The two ports a client of an rpc service holds: a sender to the service's port, and a reply
// port of its own with a name no other caller has, placed where the server can reach it.
// Channel and NoHeapChannel open theirs the same way; a topic subscriber names its inbox so.
#pragma once

#include <string>
#include <string_view>

#include "nk/ipc/port.hpp"
#include "nk/rpc/channel.hpp"

namespace nk::rpc::detail {

// "prefix.GUEST.PID.RANDOM": unique among the processes and the channels of one process.
std::string unique_port_name(const Region& region, std::string_view prefix);

struct ClientPorts {
    ipc::PortSender sender;
    ipc::Port reply_port;
    std::string reply_name;
};

// Fails when the caller is not a guest, the service port is missing or names no guest, or the
// reply name would not fit a frame's reply-to field.
Result<ClientPorts> open_client_ports(const Region& region, std::string_view service_port, const ChannelOptions& options);

}  // namespace nk::rpc::detail
