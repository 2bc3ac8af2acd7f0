// The netbridge's wire format between guests, and the few IP header facts the router reads.
//
// One message on a packet port is one packet: a 10-byte virtio-net header (linux/virtio_net.h,
// what a TUN with IFF_VNET_HDR reads and writes) followed by the IPv4 or IPv6 packet. Between
// two linux guests the header carries the kernel's offloads as they are (a TCP super-packet of up
// to 64 KB with its checksum left to finish), so the receiving kernel takes it whole. A guest
// without a kernel stack (lwIP) gets only plain packets: header all zero, checksums complete,
// at most its MTU; the sending router segments and checksums for it (gso.hpp).
//
// Ports: guest B receives what A sends it on the port "net.B.A", in the link area of A and B,
// which B makes (and remakes after each restart) and A opens.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace nk::netbridge {

// struct virtio_net_hdr, spelled out so lwIP guests need no kernel headers; checked against the
// virtio spec (as tun_device.cpp notes).
struct VnetHeader {
    std::uint8_t flags;         // 1: NEEDS_CSUM (checksum at csum_start + csum_offset left to do)
    std::uint8_t gso_type;      // 0 none, 1 TCPv4, 3 UDP, 4 TCPv6, 0x80 ECN
    std::uint16_t hdr_len;      // little-endian on x86 (the TUN's native order)
    std::uint16_t gso_size;
    std::uint16_t csum_start;
    std::uint16_t csum_offset;
};
static_assert(sizeof(VnetHeader) == 10);
static_assert(offsetof(VnetHeader, gso_size) == 4 && offsetof(VnetHeader, csum_offset) == 8);

inline constexpr std::uint8_t kVnetNeedsCsum = 1;
inline constexpr std::uint8_t kGsoNone = 0, kGsoTcpV4 = 1, kGsoUdp = 3, kGsoTcpV6 = 4, kGsoEcn = 0x80;

// The largest message: header plus the largest IP packet.
inline constexpr std::size_t kMaxPacket = 65535;
inline constexpr std::size_t kMaxMessage = sizeof(VnetHeader) + kMaxPacket;
// Each packet port's ring: room for a few dozen super-packets or ~700 MTU-sized ones.
inline constexpr std::uint32_t kPortCapacity = 1U << 20;

[[nodiscard]] std::string port_name(std::string_view receiver, std::string_view sender);

// What the router needs from an IP packet, read with every length checked.
struct PacketFacts {
    int version = 0;                        // 4 or 6
    std::span<const std::uint8_t> source;   // 4 or 16 bytes inside the packet
    std::span<const std::uint8_t> destination;
    std::uint8_t protocol = 0;              // IPv4 protocol or IPv6 next header
    std::size_t header_length = 0;          // IPv4 IHL * 4, IPv6 40
    std::size_t total_length = 0;           // from the header; <= the bytes given
};

// Facts of `packet`, or std::nullopt when it is not a well-formed IPv4/IPv6 header.
[[nodiscard]] std::optional<PacketFacts> read_facts(std::span<const std::uint8_t> packet);
// The same from the packet's first bytes (`head`, a copy of at least its IP header) and its whole
// size: lengths are checked against `packet_size`, the facts point into `head`.
[[nodiscard]] std::optional<PacketFacts> read_facts(std::span<const std::uint8_t> head, std::size_t packet_size);

// The Internet checksum (RFC 1071): add `bytes` to the running `sum` (every call but the last
// with an even length, so words stay aligned), then fold it.
[[nodiscard]] std::uint32_t checksum_add(std::uint32_t sum, std::span<const std::uint8_t> bytes);
[[nodiscard]] std::uint16_t checksum_fold(std::uint32_t sum);

}  // namespace nk::netbridge
