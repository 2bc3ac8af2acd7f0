#include "nk/netbridge/packet.hpp"

namespace nk::netbridge {

std::string port_name(std::string_view receiver, std::string_view sender) {
    return "net." + std::string(receiver) + "." + std::string(sender);
}

std::optional<PacketFacts> read_facts(std::span<const std::uint8_t> packet) { return read_facts(packet, packet.size()); }

std::optional<PacketFacts> read_facts(std::span<const std::uint8_t> packet, std::size_t packet_size) {
    if (packet.empty() || packet_size < packet.size()) return std::nullopt;
    PacketFacts facts;
    facts.version = packet[0] >> 4;
    if (facts.version == 4) {
        if (packet.size() < 20) return std::nullopt;
        facts.header_length = std::size_t{packet[0] & 0x0FU} * 4;
        facts.total_length = std::size_t{packet[2]} << 8 | packet[3];
        // A TSO super-packet may say 0 here and be longer than 64 KB never; take the bytes given then.
        if (facts.total_length == 0) facts.total_length = packet_size;
        if (facts.header_length < 20 || facts.header_length > facts.total_length || facts.total_length > packet_size)
            return std::nullopt;
        facts.protocol = packet[9];
        facts.source = packet.subspan(12, 4);
        facts.destination = packet.subspan(16, 4);
        return facts;
    }
    if (facts.version == 6) {
        if (packet.size() < 40) return std::nullopt;
        facts.header_length = 40;
        facts.total_length = 40 + (std::size_t{packet[4]} << 8 | packet[5]);
        if (facts.total_length > packet_size) return std::nullopt;
        facts.protocol = packet[6];
        facts.source = packet.subspan(8, 16);
        facts.destination = packet.subspan(24, 16);
        return facts;
    }
    return std::nullopt;
}

std::uint32_t checksum_add(std::uint32_t sum, std::span<const std::uint8_t> bytes) {
    std::size_t i = 0;
    for (; i + 1 < bytes.size(); i += 2) sum += std::uint32_t{bytes[i]} << 8 | bytes[i + 1];
    if (i < bytes.size()) sum += std::uint32_t{bytes[i]} << 8;
    while (sum >> 16) sum = (sum & 0xFFFFU) + (sum >> 16);
    return sum;
}

std::uint16_t checksum_fold(std::uint32_t sum) {
    while (sum >> 16) sum = (sum & 0xFFFFU) + (sum >> 16);
    return static_cast<std::uint16_t>(~sum & 0xFFFFU);
}

}  // namespace nk::netbridge
