#include "nk/netbridge/route_table.hpp"

namespace nk::netbridge {

Route RouteTable::route(std::span<const std::uint8_t> packet) const {
    const auto facts = read_facts(packet);
    if (!facts) return {Verdict::Malformed};
    return route(*facts);
}

Route RouteTable::route(const PacketFacts& facts) const {
    const auto& dst = facts.destination;
    const bool mine = plan_.address.contains(dst) || (plan_.address6 && plan_.address6->contains(dst)) ||
                      (plan_.outside_address && plan_.outside_address->contains(dst));
    if (mine) return {Verdict::Local};
    std::optional<std::size_t> gateway;
    for (std::size_t i = 0; i < plan_.peers.size(); ++i) {
        for (const IpPrefix& subnet : plan_.peers[i].subnets)
            if (subnet.contains(dst)) return {Verdict::Deliver, i};
        if (plan_.peers[i].gateway) gateway = i;
    }
    if (gateway && !plan_.forward) return {Verdict::Deliver, *gateway};
    return {Verdict::NoRoute};
}

}  // namespace nk::netbridge
