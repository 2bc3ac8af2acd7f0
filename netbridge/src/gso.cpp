#include "nk/netbridge/gso.hpp"

#include <algorithm>
#include <vector>

namespace nk::netbridge {
namespace {

constexpr std::uint8_t kProtoTcp = 6;
constexpr std::uint8_t kTcpFin = 0x01, kTcpPsh = 0x08, kTcpCwr = 0x80;

std::uint16_t get16(const std::uint8_t* p) { return static_cast<std::uint16_t>(p[0] << 8 | p[1]); }
void put16(std::uint8_t* p, std::uint32_t v) {
    p[0] = static_cast<std::uint8_t>(v >> 8);
    p[1] = static_cast<std::uint8_t>(v);
}
void put32(std::uint8_t* p, std::uint32_t v) {
    put16(p, v >> 16);
    put16(p + 2, v & 0xFFFFU);
}

// The transport checksum over the pseudo-header and `l4` (its checksum field zeroed first).
std::uint16_t transport_checksum(const PacketFacts& facts, std::span<const std::uint8_t> l4) {
    std::uint32_t sum = checksum_add(0, facts.source);
    sum = checksum_add(sum, facts.destination);
    sum += facts.protocol;
    sum += static_cast<std::uint32_t>(l4.size() & 0xFFFFU) + static_cast<std::uint32_t>(l4.size() >> 16);
    return checksum_fold(checksum_add(sum, l4));
}

void fix_ip_header(std::vector<std::uint8_t>& p, const PacketFacts& facts, std::uint16_t id_step) {
    if (facts.version == 4) {
        put16(&p[2], static_cast<std::uint32_t>(p.size()));
        put16(&p[4], get16(&p[4]) + id_step);
        put16(&p[10], 0);
        put16(&p[10], checksum_fold(checksum_add(0, {p.data(), facts.header_length})));
    } else {
        put16(&p[4], static_cast<std::uint32_t>(p.size() - 40));
    }
}

}  // namespace

std::optional<std::size_t> to_plain_packets(const VnetHeader& header, std::span<const std::uint8_t> packet,
                                            const PacketSink& sink) {
    const auto facts = read_facts(packet);
    if (!facts) return std::nullopt;
    const std::uint8_t gso = header.gso_type & static_cast<std::uint8_t>(~kGsoEcn);
    if (gso == kGsoNone) {
        if (!(header.flags & kVnetNeedsCsum)) {
            sink(packet.first(facts->total_length));  // without bytes past the IP length (padding)
            return 1;
        }
        // The field holds the pseudo-header sum already (the kernel's CHECKSUM_PARTIAL); the sum
        // from csum_start to the end, folded, finishes it.
        const std::size_t start = header.csum_start, at = start + header.csum_offset;
        // The checksum lies in the transport part: never in the IP header the router reads.
        if (start < facts->header_length || start >= facts->total_length || at + 2 > facts->total_length)
            return std::nullopt;
        std::vector<std::uint8_t> copy(packet.begin(), packet.begin() + static_cast<std::ptrdiff_t>(facts->total_length));
        put16(&copy[at], checksum_fold(checksum_add(0, {copy.data() + start, copy.size() - start})));
        sink(copy);
        return 1;
    }
    if ((gso != kGsoTcpV4 && gso != kGsoTcpV6) || facts->protocol != kProtoTcp || header.gso_size == 0) return std::nullopt;
    if ((gso == kGsoTcpV4) != (facts->version == 4)) return std::nullopt;
    const std::size_t ip_len = facts->header_length;
    if (facts->total_length < ip_len + 20) return std::nullopt;
    const std::size_t tcp_len = static_cast<std::size_t>(packet[ip_len + 12] >> 4) * 4;
    const std::size_t headers = ip_len + tcp_len;
    if (tcp_len < 20 || headers > facts->total_length) return std::nullopt;
    const std::uint8_t* tcp = packet.data() + ip_len;
    const std::uint32_t seq = std::uint32_t{get16(tcp + 4)} << 16 | get16(tcp + 6);
    const std::uint8_t flags = tcp[13];
    const std::size_t payload = facts->total_length - headers, mss = header.gso_size;
    std::size_t made = 0;
    for (std::size_t offset = 0; offset < payload || made == 0; offset += mss) {
        const std::size_t chunk = std::min(mss, payload - offset);
        const bool first = offset == 0, last = offset + chunk >= payload;
        std::vector<std::uint8_t> one(headers + chunk);
        std::copy_n(packet.begin(), headers, one.begin());
        std::copy_n(packet.begin() + static_cast<std::ptrdiff_t>(headers + offset), chunk, one.begin() + static_cast<std::ptrdiff_t>(headers));
        fix_ip_header(one, *facts, static_cast<std::uint16_t>(made));
        std::uint8_t* t = one.data() + ip_len;
        put32(t + 4, seq + static_cast<std::uint32_t>(offset));
        t[13] = static_cast<std::uint8_t>(flags & ~((last ? 0 : kTcpFin | kTcpPsh) | (first ? 0 : kTcpCwr)));
        put16(t + 16, 0);
        auto one_facts = read_facts(one);
        if (!one_facts) return std::nullopt;
        put16(t + 16, transport_checksum(*one_facts, {t, one.size() - ip_len}));
        sink(one);
        ++made;
        if (chunk == 0) break;
    }
    return made;
}

}  // namespace nk::netbridge
