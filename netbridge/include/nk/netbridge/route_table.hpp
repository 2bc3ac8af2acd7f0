// nk::netbridge::RouteTable: the pure routing core (boringtun's shape): a packet in, a verdict
// out. No sockets, no region: tests drive it with byte arrays.
//
//   RouteTable routes(plan);
//   auto verdict = routes.route(packet);
//   if (verdict.kind == Verdict::Deliver) send to plan.peers[verdict.peer] ...
//
// A destination inside a peer's subnet goes to that peer; one that no guest owns goes to the
// gateway peer (the guest that forwards to the outside) if there is one and this guest is not it;
// anything else has no route and earns an ICMP unreachable.
#pragma once

#include <cstddef>
#include <span>

#include "nk/netbridge/net_plan.hpp"
#include "nk/netbridge/packet.hpp"

namespace nk::netbridge {

enum class Verdict { Deliver, Local, NoRoute, Malformed };

struct Route {
    Verdict kind = Verdict::Malformed;
    std::size_t peer = 0;  // index into plan.peers, for Deliver
};

class RouteTable {
public:
    explicit RouteTable(NetPlan plan) : plan_(std::move(plan)) {}
    [[nodiscard]] Route route(std::span<const std::uint8_t> packet) const;
    [[nodiscard]] Route route(const PacketFacts& facts) const;
    [[nodiscard]] const NetPlan& plan() const { return plan_; }

private:
    NetPlan plan_;
};

}  // namespace nk::netbridge
