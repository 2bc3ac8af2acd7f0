#include "nk/netbridge/icmp_error.hpp"

#include <algorithm>

#include "nk/netbridge/packet.hpp"

namespace nk::netbridge {
namespace {

constexpr std::uint8_t kProtoIcmp = 1, kProtoIcmp6 = 58;

void put16(std::vector<std::uint8_t>& out, std::size_t at, std::uint16_t value) {
    out[at] = static_cast<std::uint8_t>(value >> 8);
    out[at + 1] = static_cast<std::uint8_t>(value);
}

bool is_icmp_error(const PacketFacts& facts, std::span<const std::uint8_t> packet) {
    const std::uint8_t proto = facts.version == 4 ? kProtoIcmp : kProtoIcmp6;
    if (facts.protocol != proto || packet.size() <= facts.header_length) return false;
    const std::uint8_t type = packet[facts.header_length];
    return facts.version == 4 ? (type == 3 || type == 4 || type == 5 || type == 11 || type == 12) : type < 128;
}

std::vector<std::uint8_t> icmp4(std::span<const std::uint8_t> packet, const PacketFacts& facts, Unreachable why) {
    // The original header and the first 8 bytes of its payload (RFC 792).
    const std::size_t quoted = std::min(packet.size(), facts.header_length + 8);
    std::vector<std::uint8_t> out(20 + 8 + quoted, 0);
    out[0] = 0x45;
    put16(out, 2, static_cast<std::uint16_t>(out.size()));
    out[8] = 64;  // TTL
    out[9] = kProtoIcmp;
    std::copy(facts.destination.begin(), facts.destination.end(), out.begin() + 12);
    std::copy(facts.source.begin(), facts.source.end(), out.begin() + 16);
    put16(out, 10, checksum_fold(checksum_add(0, {out.data(), 20})));
    out[20] = 3;                                     // destination unreachable
    out[21] = why == Unreachable::Network ? 0 : 1;   // net / host unreachable
    std::copy_n(packet.begin(), quoted, out.begin() + 28);
    put16(out, 22, checksum_fold(checksum_add(0, {out.data() + 20, out.size() - 20})));
    return out;
}

std::vector<std::uint8_t> icmp6(std::span<const std::uint8_t> packet, const PacketFacts& facts, Unreachable why) {
    // As much of the original as fits in the minimum MTU (RFC 4443 3.1).
    const std::size_t quoted = std::min<std::size_t>(packet.size(), 1280 - 40 - 8);
    const std::size_t payload = 8 + quoted;
    std::vector<std::uint8_t> out(40 + payload, 0);
    out[0] = 0x60;
    put16(out, 4, static_cast<std::uint16_t>(payload));
    out[6] = kProtoIcmp6;
    out[7] = 64;  // hop limit
    std::copy(facts.destination.begin(), facts.destination.end(), out.begin() + 8);
    std::copy(facts.source.begin(), facts.source.end(), out.begin() + 24);
    out[40] = 1;                                     // destination unreachable
    out[41] = why == Unreachable::Network ? 0 : 3;   // no route / address unreachable
    std::copy_n(packet.begin(), quoted, out.begin() + 48);
    // The pseudo-header: source, destination, length, next header.
    std::uint32_t sum = checksum_add(0, {out.data() + 8, 32});
    sum += static_cast<std::uint32_t>(payload);
    sum += kProtoIcmp6;
    put16(out, 42, checksum_fold(checksum_add(sum, {out.data() + 40, payload})));
    return out;
}

}  // namespace

std::optional<std::vector<std::uint8_t>> unreachable_for(std::span<const std::uint8_t> packet, Unreachable why) {
    const auto facts = read_facts(packet);
    if (!facts || is_icmp_error(*facts, packet)) return std::nullopt;
    const auto& src = facts->source;
    const auto& dst = facts->destination;
    if (facts->version == 4) {
        const bool fragment = ((packet[6] & 0x1FU) | packet[7]) != 0;  // offset != 0: not the first
        const bool multicast = (dst[0] & 0xF0U) == 0xE0U || (dst[0] == 255 && dst[1] == 255 && dst[2] == 255 && dst[3] == 255);
        const bool bad_source = src[0] == 0 || (src[0] & 0xF0U) == 0xE0U || src[0] == 127;
        if (fragment || multicast || bad_source) return std::nullopt;
        return icmp4(packet, *facts, why);
    }
    const bool multicast = dst[0] == 0xFF;
    const bool bad_source = src[0] == 0xFF || std::all_of(src.begin(), src.end(), [](std::uint8_t b) { return b == 0; });
    if (multicast || bad_source) return std::nullopt;
    return icmp6(packet, *facts, why);
}

}  // namespace nk::netbridge
