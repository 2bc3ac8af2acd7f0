// Fuzz target: the netbridge's packet code on packets a guest gone wild (or a kernel offload the
// router has not seen) could hand it. The input is a VnetHeader and the bytes after it, patched
// most of the time into a plausible IPv4/IPv6 TCP header so the checks behind the first ones are
// reached. The routing core, the ICMP error builder and the segmenter must not crash, and what
// they emit must be well-formed: every segment an IP packet whose lengths add up, never larger
// than the bytes it came from plus headers, every ICMP error an IP packet of its family.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "nk/netbridge/gso.hpp"
#include "nk/netbridge/icmp_error.hpp"
#include "nk/netbridge/route_table.hpp"

namespace {

void check(bool ok) {
    if (!ok) std::abort();
}

const nk::netbridge::RouteTable& routes() {
    static const nk::netbridge::RouteTable table(*nk::netbridge::decode_plan(
        "self=alpha;id=1;kind=linux;mtu=1500;tun=nk0;address=10.77.1.1/24;address6=fd77:1::1/64;"
        "peer=beta,2,linux,10.77.2.1/24,fd77:2::1/64;peer=gw,3,gateway,10.77.3.1/24;peer=rt,4,rt,10.77.4.1/24"));
    return table;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace nk::netbridge;
    if (size < sizeof(VnetHeader) + 1) return 0;
    VnetHeader header{};
    std::memcpy(&header, data, sizeof header);
    std::vector<std::uint8_t> packet(data + sizeof header, data + size);
    const std::uint8_t choice = data[0];
    // Most inputs get a plausible IP + TCP header: version, IHL, protocol, data offset.
    if ((choice & 0x03) != 0 && packet.size() >= 60) {
        const bool v6 = choice & 0x04;
        packet[0] = v6 ? 0x60 : static_cast<std::uint8_t>(0x45 + (choice & 0x08 ? packet[0] & 0x0F : 0) % 4);
        const std::size_t ip = v6 ? 40 : std::size_t{packet[0] & 0x0FU} * 4;
        if (v6) packet[6] = 6; else packet[9] = 6;
        if (!(choice & 0x10)) {  // lengths that tell the truth
            if (v6) {
                packet[4] = static_cast<std::uint8_t>((packet.size() - 40) >> 8);
                packet[5] = static_cast<std::uint8_t>(packet.size() - 40);
            } else {
                packet[2] = static_cast<std::uint8_t>(packet.size() >> 8);
                packet[3] = static_cast<std::uint8_t>(packet.size());
            }
        }
        if (ip + 13 < packet.size()) packet[ip + 12] = static_cast<std::uint8_t>(0x50 + (packet[ip + 12] & 0xF0));
        header.gso_type = v6 ? kGsoTcpV6 : kGsoTcpV4;
        if (choice & 0x20) header.gso_size = static_cast<std::uint16_t>(1 + header.gso_size % 2000);
    }

    const Route route = routes().route(packet);
    check(route.kind != Verdict::Deliver || route.peer < routes().plan().peers.size());

    const auto facts = read_facts(packet);
    if (auto reply = unreachable_for(packet, choice & 0x40 ? Unreachable::Host : Unreachable::Network)) {
        const auto reply_facts = read_facts(*reply);
        check(reply_facts && facts && reply_facts->version == facts->version && reply_facts->total_length == reply->size());
    }

    std::size_t emitted = 0, bytes = 0;
    const auto made = to_plain_packets(header, packet, [&](std::span<const std::uint8_t> one) {
        const auto one_facts = read_facts(one);
        check(one_facts.has_value() && one_facts->total_length == one.size() && one.size() <= 65535);
        ++emitted;
        bytes += one.size();
    });
    if (made) {
        check(*made == emitted && facts.has_value());
        // Each segment repeats at most the headers; the payload is never invented.
        check(bytes <= facts->total_length + emitted * (facts->header_length + 60));
    } else {
        check(emitted == 0);
    }
    return 0;
}
