// The ICMP (IPv4) or ICMPv6 "destination unreachable" the router writes back for a packet it
// cannot deliver, so a client fails at once (telnet: "No route to host") instead of waiting out
// its retries.
//
//   auto reply = unreachable_for(packet, plan.address, plan.address6, Unreachable::Host);
//   if (reply) tun.write(*reply);
//
// None is made (RFC 1122 3.2.2, RFC 4443 2.4) for an ICMP error, a fragment other than the
// first, a multicast or broadcast destination, or a source that is not a single host.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "nk/nanokernel/ip_prefix.hpp"

namespace nk::netbridge {

enum class Unreachable {
    Network,  // no guest owns the destination
    Host,     // its guest is down
};

// The complete IP packet of the error, from `from` (this guest's address of the packet's family;
// std::nullopt when this guest has none of that family: no error then).
[[nodiscard]] std::optional<std::vector<std::uint8_t>> unreachable_for(std::span<const std::uint8_t> packet,
                                                                       const IpPrefix& from4,
                                                                       const std::optional<IpPrefix>& from6,
                                                                       Unreachable why);

}  // namespace nk::netbridge
