// nk::netbridge::LwipStack: lwIP in a guest without a kernel stack (the rt guest), on the
// netbridge's packet ports.
//
// lwIP (Debian's liblwip, NO_SYS=0) runs its core in its own tcpip thread. The stack adds one
// IP-level netif ("nk", no Ethernet, no ARP) with the plan's address (and address6): what lwIP
// sends goes through netif->output / output_ip6 into the route table and out on the peer's
// packet port (header all zero, lwIP's own complete checksums); one receive pump thread waits on
// every inbound port and hands each packet to lwIP through netif->input (ip_input, under lwIP's
// core lock taken once per batch). The
// counters go to "net.stats.GUEST" (net_stats.hpp), which `nkctl net` and the console show.
//
//   auto plan = nk::netbridge::decode_plan(std::getenv("NK_NET_PLAN"));
//   auto stack = nk::netbridge::LwipStack::start(region, *plan);
//   // lwIP's sockets API (lwip_socket, ...) from any thread now; raw API only via tcpip_callback
//   stack->reset();    // stop: the netif goes away, the pump ends
//
// lwIP is one per process: at most one LwipStack exists at a time (start() says Busy for a
// second). lwIP's tcpip thread, once started, lives as long as the process; a later start() (a
// test's next case) reuses it with a new netif. The region and plan must outlive the stack.
#pragma once

#include <memory>

#include "nk/nanokernel/region.hpp"
#include "nk/nanokernel/result.hpp"
#include "nk/netbridge/net_plan.hpp"

namespace nk::netbridge {

class LwipStack {
public:
    // Initialises lwIP once per process, makes the inbound ports and the stats segment, adds the
    // netif with the plan's addresses (up, default route) and starts the receive pump.
    // Errors: Busy (a stack runs already), InvalidArgument (plan not for an lwIP guest), and
    // those of PacketLinks::open and NetStats::create.
    [[nodiscard]] static Result<std::unique_ptr<LwipStack>> start(const Region& region, const NetPlan& plan);
    ~LwipStack();
    LwipStack(const LwipStack&) = delete;
    LwipStack& operator=(const LwipStack&) = delete;

    [[nodiscard]] const NetPlan& plan() const;
    // Packets handed to lwIP / sent, and what the pump dropped (for the console and tests).
    struct Totals {
        std::uint64_t received = 0, sent = 0, dropped_in = 0, dropped_out = 0;
    };
    [[nodiscard]] Totals totals() const;

    struct State;  // netbridge/lwip/src: the netif's state (lwip_stack.cpp)

private:
    explicit LwipStack(std::unique_ptr<State> state);
    std::unique_ptr<State> state_;
};

}  // namespace nk::netbridge
