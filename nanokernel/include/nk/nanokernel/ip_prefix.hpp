// nk::IpPrefix: an IPv4 or IPv6 address with a prefix length ("10.77.1.1/24", "fd77:1::1/64").
//
// The platform config gives each guest its netbridge address this way; nkd refuses configs whose
// guests' subnets overlap (an address belongs to one guest, like a device), and the netbridge
// routes a packet to the guest whose subnet holds its destination.
//
//   auto p = nk::IpPrefix::parse("10.77.1.1/24");   // std::nullopt when malformed
//   p->contains(other_address);  p->network_text() == "10.77.1.0/24"
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace nk {

struct IpPrefix {
    int family = 0;                     // AF_INET or AF_INET6
    std::array<std::uint8_t, 16> bytes{};  // the address as written, network order (IPv4: first 4)
    std::uint8_t length = 0;            // prefix length in bits

    // "ADDRESS/LENGTH"; a missing "/LENGTH" means a host address (/32 or /128).
    [[nodiscard]] static std::optional<IpPrefix> parse(std::string_view text);

    [[nodiscard]] bool is_v4() const;
    // Whether `address` (4 or 16 bytes, network order, of this family) lies in this prefix.
    [[nodiscard]] bool contains(std::span<const std::uint8_t> address) const;
    // Whether the two subnets share any address.
    [[nodiscard]] bool overlaps(const IpPrefix& other) const;
    // Whether the address is the subnet's network address itself (host part all zero), which
    // cannot be a guest's own address.
    [[nodiscard]] bool host_part_zero() const;

    [[nodiscard]] std::string address_text() const;  // "10.77.1.1"
    [[nodiscard]] std::string text() const;          // "10.77.1.1/24"
    [[nodiscard]] std::string network_text() const;  // "10.77.1.0/24"
};

}  // namespace nk
