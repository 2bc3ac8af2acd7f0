// An rt guest program on the netbridge: lwIP on the guest's packet ports, a telnet console on
// TCP port 23, and ping answered (IPv4, and IPv6 when the plan has address6).
//
// nkd starts it as the rt guest's process with NK_NET_PLAN set from the guest's `net = {...}`
// table; from a linux guest of the platform:
//
//   ping 10.77.2.1                 # lwIP answers
//   telnet 10.77.2.1               # rt> help | status | tasks | counters | echo TEXT | quit
//
// Its heartbeat (nk::heartbeat, period argv[1] ms, default 100, 3 misses) is beaten from the
// console's loop, so a stuck console is found hung by nkd. It stops cleanly on SIGTERM.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "nk/nanokernel/guest.hpp"
#include "nk/nanokernel/heartbeat.hpp"
#include "nk/netbridge/console.hpp"
#include "nk/netbridge/lwip_stack.hpp"

namespace {

std::atomic<bool> stop_requested{false};

void request_stop(int) { stop_requested.store(true, std::memory_order_relaxed); }

int fail(const char* what, const nk::Error& error) {
    std::fprintf(stderr, "rt console: %s: %s\n", what, error.message.c_str());
    return 1;
}

}  // namespace

int main(int argc, char** argv) {
    struct sigaction action {};
    action.sa_handler = request_stop;
    sigaction(SIGTERM, &action, nullptr);
    sigaction(SIGINT, &action, nullptr);
    const int beat_ms = argc > 1 ? std::max(10, std::atoi(argv[1])) : 100;

    const char* line = std::getenv("NK_NET_PLAN");
    if (line == nullptr || *line == '\0') {
        std::fprintf(stderr, "rt console: NK_NET_PLAN is not set: give the rt guest a net = {...} table in the "
                             "platform config (nkd sets it then)\n");
        return 1;
    }
    auto plan = nk::netbridge::decode_plan(line);
    if (!plan) return fail("NK_NET_PLAN", plan.error());
    auto attached = nk::guest::attach();
    if (!attached) return fail("cannot attach", attached.error());
    nk::Region& region = attached->get();

    auto stack = nk::netbridge::LwipStack::start(region, *plan);
    if (!stack) return fail("lwIP", stack.error());
    nk::netbridge::Console console({.port = 23, .banner = "nk rt guest '" + plan->guest + "' console"});
    nk::netbridge::add_guest_commands(console, region, (*stack)->plan());
    if (auto listening = console.listen(); !listening) return fail("console", listening.error());
    if (auto armed = nk::heartbeat::arm(region, std::chrono::milliseconds(beat_ms), 3); !armed)
        return fail("heartbeat", armed.error());
    std::printf("rt console: up at %s%s%s, telnet port 23, %zu peer(s)\n", plan->address.text().c_str(),
                plan->address6 ? ", " : "", plan->address6 ? plan->address6->text().c_str() : "", plan->peers.size());
    std::fflush(stdout);

    // The console is this program's one task: serve, beat, look at the stop flag.
    const auto slice = std::chrono::milliseconds(std::max(5, beat_ms / 4));
    while (!stop_requested.load(std::memory_order_relaxed)) {
        console.serve_once(slice);
        (void)nk::heartbeat::beat(region, 0);
    }
    console.stop();
    (void)nk::heartbeat::disarm(region);
    const auto totals = (*stack)->totals();
    stack->reset();
    std::printf("rt console: stopped (%llu packets in, %llu out)\n", static_cast<unsigned long long>(totals.received),
                static_cast<unsigned long long>(totals.sent));
    return 0;
}
