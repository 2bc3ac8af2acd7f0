// open_client_ports and unique_port_name (client_ports.hpp).
#include "client_ports.hpp"

#include <unistd.h>

#include <random>

#include "nk/rpc/frame.hpp"

namespace nk::rpc::detail {
namespace {

std::string hex32(std::uint32_t value) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out(8, '0');
    for (int i = 7; i >= 0; --i, value >>= 4) out[static_cast<std::size_t>(i)] = kDigits[value & 0xf];
    return out;
}

}  // namespace

std::string unique_port_name(const Region& region, std::string_view prefix) {
    std::random_device random;
    return std::string(prefix) + "." + std::to_string(region.identity().guest_id) + "." + std::to_string(::getpid()) +
           "." + hex32(random());
}

Result<ClientPorts> open_client_ports(const Region& region, std::string_view service_port, const ChannelOptions& options) {
    if (region.identity().role != Role::Guest)
        return fail(RegionError::InvalidArgument, "an rpc channel receives replies on a port of its own: attach as a guest");
    auto sender = ipc::PortSender::open(region, service_port);
    if (!sender) return fail(context(std::move(sender.error()), "open rpc service port '" + std::string(service_port) + "'"));
    const auto server = region.guest(sender->owner_guest());
    if (!server) return fail(RegionError::Corrupt, "service port '" + std::string(service_port) + "' names no guest");
    std::string reply_name = unique_port_name(region, options.reply_prefix);
    if (reply_name.size() > kMaxReplyToLength)
        return fail(RegionError::InvalidArgument, "reply port name '" + reply_name + "' is longer than " +
                                                      std::to_string(kMaxReplyToLength) + " bytes: shorten reply_prefix");
    // In the link between the two guests, where both can reach it; a server of this guest: the default area.
    const std::string where = sender->owner_guest() == region.identity().guest_id ? std::string() : server->name;
    auto reply_port = ipc::Port::create(region, reply_name, {options.reply_capacity, sender->max_message(), where});
    if (!reply_port) return fail(context(std::move(reply_port.error()), "make rpc reply port"));
    return ClientPorts{std::move(*sender), std::move(*reply_port), std::move(reply_name)};
}

}  // namespace nk::rpc::detail
