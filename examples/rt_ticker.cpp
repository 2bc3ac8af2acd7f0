// The default platform's rt guest program: a 1 kHz periodic loop driven by a virtual timer.
//
// nkd starts it as the rt guest's one process (pinned, SCHED_FIFO). It arms its virtual timer 0
// at 1 ms; the nanokernel's timer core raises its timer line at every deadline, and its
// dispatcher runs the tick: it measures how late it runs after the deadline and writes a line of
// text into the segment "rt.status" in its link to the linux guest, which the linux guest may
// read (the default platform's access rules let it read "rt.*" objects only):
//
//   nkctl exec linux -- nk_example_shared_segment read rt.status
//   rt guest: 12000 ticks at 1000 Hz (virtual timer), SCHED_FIFO 80, lateness max 57 us, last 4 us, overruns 0
//
// It also answers interrupt line "rt.command" (raisable by the linux guest): each raise prints a
// line on its console, and it tells when its peer goes down and comes back (peer lines).
//
//   nkctl exec linux -- nk_example_raise rt.command
//
// Its heartbeat (nk::heartbeat, period argv[2] ms, default 50, 3 misses) is beaten from the tick,
// so a stuck ticker is found hung by nkd and by the linux guests' watchdogs.
//
// It stops cleanly on SIGTERM. (The rt executive of a later issue replaces this loop.)
#include <sched.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "nk/ipc/segment.hpp"
#include "nk/nanokernel/clock.hpp"
#include "nk/nanokernel/guest.hpp"
#include "nk/nanokernel/heartbeat.hpp"
#include "nk/nanokernel/interrupts.hpp"
#include "nk/nanokernel/vtimer.hpp"

namespace {

std::atomic<bool> stop_requested{false};

void request_stop(int) { stop_requested.store(true, std::memory_order_relaxed); }

int fail(const char* what, const nk::Error& error) {
    std::fprintf(stderr, "rt ticker: %s: %s\n", what, error.message.c_str());
    return 1;
}

}  // namespace

int main(int argc, char** argv) {
    // First of all: as PID 1 of its guest, a signal without a handler would be ignored, and nkd
    // may stop the guest at any moment.
    struct sigaction action {};
    action.sa_handler = request_stop;
    sigaction(SIGTERM, &action, nullptr);
    sigaction(SIGINT, &action, nullptr);
    const char* peer = argc > 1 ? argv[1] : "linux";
    const int beat_ms = argc > 2 ? std::max(1, std::atoi(argv[2])) : 50;
    auto attached = nk::guest::attach();
    if (!attached) return fail("cannot attach", attached.error());
    nk::Region& region = attached->get();
    // A restarted rt guest finds its segment again (it survives in the link area).
    auto segment = nk::ipc::Segment::create(region, "rt.status", 4096, peer);
    if (!segment) segment = nk::ipc::Segment::open(region, "rt.status");
    if (!segment) return fail("segment rt.status", segment.error());
    sched_param param{};
    const int policy = sched_getscheduler(0);
    sched_getparam(0, &param);
    const char* policy_name = policy == SCHED_FIFO ? "SCHED_FIFO" : "SCHED_OTHER";

    auto dispatcher = nk::irq::Dispatcher::open(region);
    if (!dispatcher) return fail("interrupt dispatcher", dispatcher.error());
    constexpr auto kPeriod = std::chrono::milliseconds(1);
    std::uint64_t ticks = 0, overruns = 0;
    std::int64_t worst_ns = 0;
    std::uint64_t first_deadline_ns = 0;
    auto bytes = segment->bytes();
    auto tick = [&](const nk::irq::Interrupt& irq) {
        ticks += irq.expirations;
        overruns += irq.expirations - 1;
        // The latest deadline that passed: the timer's first plus one period per expiry.
        const std::uint64_t deadline = first_deadline_ns + (ticks - 1) * static_cast<std::uint64_t>(kPeriod.count()) * 1'000'000;
        const auto late = static_cast<std::int64_t>(nk::clock::monotonic_ns() - deadline);
        worst_ns = std::max(worst_ns, late);
        char line[256];
        const int n = std::snprintf(line, sizeof line,
                                    "rt guest: %llu ticks at 1000 Hz (virtual timer), %s %d, lateness max %lld us, "
                                    "last %lld us, overruns %llu",
                                    static_cast<unsigned long long>(ticks), policy_name, param.sched_priority,
                                    static_cast<long long>(worst_ns / 1000), static_cast<long long>(late / 1000),
                                    static_cast<unsigned long long>(overruns));
        // A reader may see a line mid-update; it is a status display, not a protocol.
        std::memcpy(bytes.data(), line, static_cast<std::size_t>(n) + 1);
        if (ticks / static_cast<std::uint64_t>(beat_ms) != (ticks - irq.expirations) / static_cast<std::uint64_t>(beat_ms))
            (void)nk::heartbeat::beat(region, overruns);  // the health word: overruns so far
    };
    if (auto on = dispatcher->on(nk::irq::timer_line(0), tick); !on) return fail("timer line", on.error());
    auto say_peer = [&](const char* what) {
        return [&region, what](const nk::irq::Interrupt& irq) {
            auto who = region.guest(irq.peer);
            std::printf("rt ticker: peer '%s' %s\n", who ? who->name.c_str() : "?", what);
            std::fflush(stdout);
        };
    };
    if (auto on = dispatcher->on(nk::irq::kPeerDownLine, say_peer("went down")); !on) return fail("peer line", on.error());
    if (auto on = dispatcher->on(nk::irq::kPeerUpLine, say_peer("is up")); !on) return fail("peer line", on.error());
    if (nk::irq::find_line(region, "rt.command")) {
        auto on = dispatcher->on("rt.command", [&](const nk::irq::Interrupt& irq) {
            auto who = region.guest(irq.source);
            std::printf("rt ticker: rt.command from guest '%s' at tick %llu\n", who ? who->name.c_str() : "?",
                        static_cast<unsigned long long>(ticks));
            std::fflush(stdout);
        });
        if (!on) return fail("line rt.command", on.error());
    }

    if (auto armed = nk::heartbeat::arm(region, std::chrono::milliseconds(beat_ms), 3); !armed)
        return fail("heartbeat", armed.error());
    if (auto armed = nk::vtimer::arm(region, 0, kPeriod, kPeriod); !armed) return fail("virtual timer 0", armed.error());
    if (auto state = nk::vtimer::read(region, region.identity().guest_id, 0)) first_deadline_ns = state->first_ns;
    std::printf("rt ticker: up, virtual timer 0 at 1 ms, publishing rt.status (%s %d)\n", policy_name, param.sched_priority);
    std::fflush(stdout);
    while (!stop_requested.load(std::memory_order_relaxed)) {
        // A bounded wait, so SIGTERM's flag is seen within 100 ms even without interrupts.
        if (auto waited = dispatcher->wait_for(std::chrono::milliseconds(100)); !waited) return fail("wait", waited.error());
    }
    (void)nk::vtimer::disarm(region, 0);
    (void)nk::heartbeat::disarm(region);
    std::printf("rt ticker: stopped after %llu ticks (%llu overruns)\n", static_cast<unsigned long long>(ticks),
                static_cast<unsigned long long>(overruns));
    return 0;
}
