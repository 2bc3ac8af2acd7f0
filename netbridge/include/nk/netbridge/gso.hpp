// Software segmentation and checksumming, for packets bound to a guest without a kernel stack.
//
// A linux guest's TUN with offloads hands the router TCP super-packets (VnetHeader gso_type
// TCPv4/TCPv6, up to 64 KB) and packets whose checksum is left to finish (NEEDS_CSUM). lwIP
// takes neither, so for an lwIP peer the router cuts each super-packet into MSS-sized TCP
// segments with their own headers (sequence numbers, IPv4 ids, lengths, flags: FIN and PSH on the
// last only, CWR on the first only) and finishes every checksum, as a NIC would.
//
//   auto done = to_plain_packets(header, packet, [&](std::span<const std::uint8_t> one) { send(one); });
//
// Returns the number of packets made, or std::nullopt when the super-packet is malformed
// (lengths or offsets that do not add up): nothing is emitted then.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>

#include "nk/netbridge/packet.hpp"

namespace nk::netbridge {

using PacketSink = std::function<void(std::span<const std::uint8_t>)>;

[[nodiscard]] std::optional<std::size_t> to_plain_packets(const VnetHeader& header, std::span<const std::uint8_t> packet,
                                                          const PacketSink& sink);

}  // namespace nk::netbridge
