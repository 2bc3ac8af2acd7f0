#include "nk/netbridge/net_stats.hpp"

#include <sys/socket.h>

#include <cstring>

namespace nk::netbridge {

std::string stats_name(std::string_view guest) { return "net.stats." + std::string(guest); }

Result<NetStats> NetStats::create(const Region& region, const NetPlan& plan) {
    if (plan.peers.size() > kMaxRoutes) return fail(RegionError::InvalidArgument, "netbridge: more peers than routes");
    const std::string name = stats_name(plan.guest);
    // A restarted guest's old table was reclaimed by nkd; one left by a router that was only
    // restarted inside the guest is ours to reuse.
    auto segment = ipc::Segment::open(region, name);
    if (!segment) segment = ipc::Segment::create(region, name, sizeof(NetStatsTable));
    if (!segment) return fail(std::move(segment.error()));
    if (segment->bytes().size() < sizeof(NetStatsTable))
        return fail(RegionError::Corrupt, "netbridge: segment '" + name + "' is smaller than a stats table");
    auto* table = reinterpret_cast<NetStatsTable*>(segment->bytes().data());
    layout::atomic(table->header.magic).store(0, std::memory_order_relaxed);
    std::memset(static_cast<void*>(table), 0, sizeof *table);
    table->header.version = kNetStatsVersion;
    table->header.route_count = static_cast<std::uint32_t>(plan.peers.size());
    table->header.guest_id = plan.guest_id;
    for (std::size_t i = 0; i < plan.peers.size(); ++i) table->routes[i].guest_id = plan.peers[i].guest_id;
    std::memcpy(table->header.address4, plan.address.bytes.data(), 4);
    table->header.prefix4 = plan.address.length;
    if (plan.address6) {
        std::memcpy(table->header.address6, plan.address6->bytes.data(), 16);
        table->header.prefix6 = plan.address6->length;
    }
    table->header.is_linux = plan.is_linux ? 1 : 0;
    if (plan.is_linux) std::strncpy(table->header.interface, plan.tun.c_str(), sizeof table->header.interface - 1);
    // release: the shape above is seen before the magic; pairs with the acquire in read_net_stats().
    layout::atomic(table->header.magic).store(kNetStatsMagic, std::memory_order_release);
    return NetStats(std::move(*segment), table);
}

Result<NetStatsCopy> read_net_stats(const Region& region, std::string_view guest) {
    const std::string name = stats_name(guest);
    auto segment = ipc::Segment::open(region, name, Rights::Read);
    if (!segment) return fail(std::move(segment.error()));
    if (segment->bytes().size() < sizeof(NetStatsTable))
        return fail(RegionError::Corrupt, "segment '" + name + "' is smaller than a stats table");
    auto* table = reinterpret_cast<NetStatsTable*>(segment->bytes().data());
    // acquire: pairs with the release in NetStats::create().
    if (layout::atomic(table->header.magic).load(std::memory_order_acquire) != kNetStatsMagic)
        return fail(RegionError::Corrupt, "segment '" + name + "' is not a netbridge stats table (bad magic)");
    NetStatsCopy copy;
    auto load = [](std::uint64_t& field) { return layout::atomic(field).load(std::memory_order_relaxed); };
    copy.header = NetStatsHeader{};
    copy.header.magic = kNetStatsMagic;
    copy.header.version = table->header.version;  // plain: written before the magic was published
    copy.header.route_count = table->header.route_count;
    copy.header.guest_id = table->header.guest_id;
    copy.header.is_linux = table->header.is_linux;
    // The address fields are checked as any guest-written bytes: a bad prefix is shown as none.
    auto prefix = [](const std::uint8_t* bytes, std::size_t size, unsigned length) -> std::optional<IpPrefix> {
        if (length == 0 || length > size * 8) return std::nullopt;
        IpPrefix p;
        p.family = size == 4 ? AF_INET : AF_INET6;
        std::memcpy(p.bytes.data(), bytes, size);
        p.length = static_cast<std::uint8_t>(length);
        return p;
    };
    copy.address = prefix(table->header.address4, 4, table->header.prefix4);
    copy.address6 = prefix(table->header.address6, 16, table->header.prefix6);
    copy.interface.assign(table->header.interface, strnlen(table->header.interface, sizeof table->header.interface));
    copy.header.no_route = load(table->header.no_route);
    copy.header.malformed = load(table->header.malformed);
    copy.header.icmp_sent = load(table->header.icmp_sent);
    copy.header.local_errors = load(table->header.local_errors);
    if (copy.header.version != kNetStatsVersion || copy.header.route_count > kMaxRoutes)
        return fail(RegionError::Corrupt, "segment '" + name + "' has version " + std::to_string(copy.header.version) +
                                              " and " + std::to_string(copy.header.route_count) + " routes (at most " +
                                              std::to_string(kMaxRoutes) + ")");
    for (std::uint32_t i = 0; i < copy.header.route_count; ++i) {
        NetRouteCounters& r = table->routes[i];
        NetRouteCounters c{};
        c.guest_id = r.guest_id;
        c.tx_packets = load(r.tx_packets);
        c.tx_bytes = load(r.tx_bytes);
        c.rx_packets = load(r.rx_packets);
        c.rx_bytes = load(r.rx_bytes);
        c.drop_peer_down = load(r.drop_peer_down);
        c.drop_full = load(r.drop_full);
        c.drop_too_large = load(r.drop_too_large);
        c.segmented = load(r.segmented);
        copy.routes.push_back(c);
    }
    return copy;
}

}  // namespace nk::netbridge
