// The ICMP (IPv4) or ICMPv6 "destination unreachable" the router writes back for a packet it
// cannot deliver, so a client fails at once (telnet: "No route to host") instead of waiting out
// its retries.
//
//   auto reply = unreachable_for(packet, Unreachable::Host);
//   if (reply) tun.write(*reply);
//
// None is made (RFC 1122 3.2.2, RFC 4443 2.4) for an ICMP error, a fragment other than the
// first, a multicast or broadcast destination, or a source that is not a single host.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>


namespace nk::netbridge {

enum class Unreachable {
    Network,  // no guest owns the destination
    Host,     // its guest is down
};

// The complete IP packet of the error. It comes from the address the packet was for: the guest's
// own kernel drops a packet that arrives with one of its own addresses as source (a martian), so
// the error cannot come from the router's guest address, and the unreachable address stands in
// for the router on the path as a host's own "unreachable" would.
[[nodiscard]] std::optional<std::vector<std::uint8_t>> unreachable_for(std::span<const std::uint8_t> packet,
                                                                       Unreachable why);

}  // namespace nk::netbridge
