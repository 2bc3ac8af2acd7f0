// nk::netbridge::NetStats: one guest's netbridge counters, per route, in the region, so that
// `nkctl net` shows them from the host while the traffic runs.
//
// Each guest's router (or lwIP netif) makes the segment "net.stats.GUEST" in the common area
// and is its only writer; readers (nkctl) copy it and check every count before use. Counters are
// 64-bit relaxed atomics: a reader may see one counter a packet ahead of another, never a torn
// value.
//
//   auto stats = NetStats::create(region, plan);     // the router, at start
//   stats->route(peer).tx_packets += ...             // through add()
//   auto copy = read_net_stats(region, "beta");      // nkctl
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "nk/ipc/segment.hpp"
#include "nk/nanokernel/layout.hpp"
#include "nk/netbridge/net_plan.hpp"

namespace nk::netbridge {

inline constexpr std::uint64_t kNetStatsMagic = 0x4e4b'4e45'5453'0001ULL;  // "NKNETS" 0001
inline constexpr std::uint32_t kNetStatsVersion = 2;
inline constexpr std::uint32_t kMaxRoutes = layout::kMaxGuests;

// One peer's counters. "tx" is toward the peer, "rx" from it. Every field is atomic.
struct NetRouteCounters {
    std::uint16_t guest_id;
    std::uint16_t reserved0;
    std::uint32_t reserved1;
    std::uint64_t tx_packets, tx_bytes;
    std::uint64_t rx_packets, rx_bytes;
    std::uint64_t drop_peer_down;   // the peer was down: an ICMP unreachable went back
    std::uint64_t drop_full;        // its port was full (TCP retransmits; UDP loses it)
    std::uint64_t drop_too_large;   // larger than the port takes
    std::uint64_t segmented;        // super-packets cut into MTU-sized ones for an lwIP peer
    std::uint64_t reserved2;
};
static_assert(std::is_standard_layout_v<NetRouteCounters> && std::is_trivially_copyable_v<NetRouteCounters>);
static_assert(sizeof(NetRouteCounters) == 80 && offsetof(NetRouteCounters, tx_packets) == 8);
static_assert(offsetof(NetRouteCounters, drop_peer_down) == 40 && offsetof(NetRouteCounters, segmented) == 64);
static_assert(std::atomic_ref<std::uint64_t>::is_always_lock_free);

struct NetStatsHeader {
    std::uint64_t magic;            // atomic; stored last (release)
    std::uint32_t version;
    std::uint32_t route_count;      // <= kMaxRoutes
    std::uint16_t guest_id;         // the writer
    std::uint16_t reserved0;
    std::uint32_t reserved1;
    std::uint64_t no_route;         // atomic: destinations nobody owns (an ICMP unreachable went back)
    std::uint64_t malformed;        // atomic: packets that were not IPv4/IPv6, or lied about their length
    std::uint64_t icmp_sent;        // atomic: unreachables written back to the sender
    std::uint64_t local_errors;     // atomic: TUN or port errors other than the drops above
    std::uint64_t reserved2;
    // Who the writer is on the net, for `nkctl net` (which may have no config to look at).
    std::uint8_t address4[4];       // network order
    std::uint8_t prefix4;
    std::uint8_t prefix6;           // 0: no IPv6 address
    std::uint8_t is_linux;          // 1: a TUN router, 0: an lwIP netif
    std::uint8_t reserved3;
    std::uint8_t address6[16];
    char interface[16];             // the TUN device ("" for lwIP), NUL-terminated
    std::uint8_t reserved4[24];
};
static_assert(std::is_standard_layout_v<NetStatsHeader> && sizeof(NetStatsHeader) == 128);
static_assert(offsetof(NetStatsHeader, route_count) == 12 && offsetof(NetStatsHeader, no_route) == 24);
static_assert(offsetof(NetStatsHeader, address4) == 64 && offsetof(NetStatsHeader, address6) == 72 &&
              offsetof(NetStatsHeader, interface) == 88);

struct NetStatsTable {
    NetStatsHeader header;
    NetRouteCounters routes[kMaxRoutes];
};
static_assert(sizeof(NetStatsTable) == 128 + 80 * kMaxRoutes);

[[nodiscard]] std::string stats_name(std::string_view guest);

// The writer's side.
class NetStats {
public:
    [[nodiscard]] static Result<NetStats> create(const Region& region, const NetPlan& plan);

    // Adds `n` to a counter of this guest's table (the router's two threads may share one).
    static void add(std::uint64_t& counter, std::uint64_t n = 1) {
        layout::atomic(counter).fetch_add(n, std::memory_order_relaxed);  // relaxed: counters only
    }
    [[nodiscard]] NetRouteCounters& route(std::size_t peer) { return table_->routes[peer]; }
    [[nodiscard]] NetStatsHeader& header() { return table_->header; }

private:
    NetStats(ipc::Segment segment, NetStatsTable* table) : segment_(std::move(segment)), table_(table) {}
    ipc::Segment segment_;
    NetStatsTable* table_;
};

// The reader's side: a checked copy, or an error saying what is wrong with the segment.
struct NetStatsCopy {
    NetStatsHeader header;  // counters as loaded; the address fields as written
    std::optional<IpPrefix> address, address6;
    std::string interface;
    std::vector<NetRouteCounters> routes;
};
[[nodiscard]] Result<NetStatsCopy> read_net_stats(const Region& region, std::string_view guest);

}  // namespace nk::netbridge
