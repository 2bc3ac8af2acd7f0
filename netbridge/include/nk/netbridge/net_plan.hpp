// nk::netbridge::NetPlan: what one guest's end of the netbridge needs to know, from the platform
// config: its own address, and for every peer it may reach (a linked guest with a net address)
// the subnets that peer owns. A linux guest's nk-netbridge and an rt guest's lwIP netif both run
// from a plan; nkd hands it to them as one line of text (an argument or NK_NET_PLAN), so a guest
// needs neither the config file nor the host's view of it.
//
//   auto plan = nk::netbridge::plan_for(config, *config.find_guest("alpha"));
//   std::string line = encode(*plan);                 // nkd: --plan LINE
//   auto again = nk::netbridge::decode_plan(line);    // nk-netbridge
//
// The line is `key=value` fields separated by ';': self, kind, mtu, tun, address, address6,
// forward, outside, outside_address, and one `peer=NAME,ID,KIND,PREFIX[,PREFIX...]` per peer; a
// peer whose kind is `gateway` also takes every destination no guest owns.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "nk/nanokernel/ip_prefix.hpp"
#include "nk/nanokernel/platform_config.hpp"
#include "nk/nanokernel/region_error.hpp"
#include "nk/nanokernel/result.hpp"

namespace nk::netbridge {

struct NetPeer {
    std::string guest;                // its name: the ports are named after it
    std::uint16_t guest_id = 0;
    bool is_linux = false;               // a kernel stack (takes offloaded super-packets) or lwIP
    bool gateway = false;             // it forwards to the outside: destinations no guest owns go there
    std::vector<IpPrefix> subnets;    // what it owns (its address's subnets)
};

struct NetPlan {
    std::string guest;                // this guest
    std::uint16_t guest_id = 0;
    bool is_linux = true;
    std::uint32_t mtu = 1500;
    std::string tun = "nk0";
    IpPrefix address;
    std::optional<IpPrefix> address6;
    bool forward = false;
    std::string outside;
    std::optional<IpPrefix> outside_address;
    std::vector<NetPeer> peers;
};

// The plan of `guest` (which must have a net table) from its config: its peers are the guests
// linked to it that have one too.
[[nodiscard]] Result<NetPlan> plan_for(const PlatformConfig& config, const GuestConfig& guest);
[[nodiscard]] std::string encode(const NetPlan& plan);
[[nodiscard]] Result<NetPlan> decode_plan(std::string_view line);

}  // namespace nk::netbridge
