// The default platform's rt guest program: a 1 kHz periodic task of the rt executive (nk::rt).
//
// nkd starts it as the rt guest's one process (pinned, SCHED_FIFO). It runs an executive with
// one periodic task, "tick", on virtual timer 0 at 1 ms: the nanokernel's timer core raises the
// timer's line at every deadline and the executive runs the tick at the guest's priority. The
// executive records each tick's dispatch delay in its status segment "rt.exec" (`nkctl rt`
// shows it), and the tick writes a line of text into the segment "rt.status" in its link to the
// linux guest, which the linux guest may read (the default platform's access rules let it read
// "rt.*" objects only):
//
//   nkctl exec linux -- nk_example_shared_segment read rt.status
//   rt guest: 12000 ticks at 1000 Hz (virtual timer), SCHED_FIFO 80, lateness max 57 us, last 4 us, overruns 0
//
// It also answers interrupt line "rt.command" (raisable by the linux guest): each raise prints a
// line on its console, and it tells when its peer goes down and comes back (peer lines); these
// handlers run on the executive's interrupt thread, one priority below the tick.
//
//   nkctl exec linux -- nk_example_raise rt.command
//
// Its heartbeat (nk::heartbeat, period argv[2] ms, default 50, 3 misses) is beaten from the tick,
// so a stuck ticker is found hung by nkd and by the linux guests' watchdogs.
//
// It stops cleanly on SIGTERM.
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "nk/ipc/segment.hpp"
#include "nk/nanokernel/guest.hpp"
#include "nk/nanokernel/heartbeat.hpp"
#include "nk/nanokernel/interrupts.hpp"
#include "nk/rt/executive.hpp"
#include "nk/rt/stop_signals.hpp"
#include "nk/rt/watchdog_task.hpp"

namespace {

int fail(const char* what, const nk::Error& error) {
    std::fprintf(stderr, "rt ticker: %s: %s\n", what, error.message.c_str());
    return 1;
}

}  // namespace

int main(int argc, char** argv) {
    // First of all, before any task thread exists: nkd may stop the guest at any moment.
    const nk::rt::StopSignals stop_signals;

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
    const bool fifo = policy == SCHED_FIFO;
    const char* policy_name = fifo ? "SCHED_FIFO" : "SCHED_OTHER";

    nk::rt::ExecutiveOptions options;
    options.status_where = peer;  // beside rt.status: the linux guest and nkctl read it there
    // tick and three interrupt handlers, and the watchdog task when the config gives the guest one
    // (the status segment lives in the link area: no spare records).
    options.max_tasks = 4 + nk::rt::watchdog_tasks_from_env();
    options.interrupt_priority = fifo ? std::max(1, param.sched_priority - 1) : 0;
    auto exec = nk::rt::Executive::create(region, options);
    if (!exec) return fail("executive", exec.error());

    constexpr auto kPeriod = std::chrono::milliseconds(1);
    std::uint64_t overruns = 0, worst_ns = 0;  // the tick's thread only (and main after stop())
    std::atomic<std::uint64_t> ticks{0};       // read by the interrupt thread; relaxed: a count for a person
    auto bytes = segment->bytes();
    auto tick = [&](const nk::rt::Activation& a) {
        overruns += a.missed;
        ticks.store(a.index, std::memory_order_relaxed);
        worst_ns = std::max(worst_ns, a.delay_ns);
        char line[256];
        const int n = std::snprintf(line, sizeof line,
                                    "rt guest: %llu ticks at 1000 Hz (virtual timer), %s %d, lateness max %llu us, "
                                    "last %llu us, overruns %llu",
                                    static_cast<unsigned long long>(a.index), policy_name, param.sched_priority,
                                    static_cast<unsigned long long>(worst_ns / 1000),
                                    static_cast<unsigned long long>(a.delay_ns / 1000),
                                    static_cast<unsigned long long>(overruns));
        // A reader may see a line mid-update; it is a status display, not a protocol.
        std::memcpy(bytes.data(), line, static_cast<std::size_t>(n) + 1);
        const auto beat = static_cast<std::uint64_t>(beat_ms);
        if (a.index / beat != (a.index - a.missed - 1) / beat)
            (void)nk::heartbeat::beat(region, overruns);  // the health word: overruns so far
    };
    if (auto ok = (*exec)->periodic("tick", fifo ? param.sched_priority : 0, kPeriod, tick); !ok)
        return fail("task tick", ok.error());
    auto say_peer = [&](const char* what) {
        return [&region, what](const nk::irq::Interrupt& irq) {
            auto who = region.guest(irq.peer);
            std::printf("rt ticker: peer '%s' %s\n", who ? who->name.c_str() : "?", what);
            std::fflush(stdout);
        };
    };
    if (auto ok = (*exec)->on_interrupt(nk::irq::kPeerDownLine, say_peer("went down")); !ok) return fail("peer line", ok.error());
    if (auto ok = (*exec)->on_interrupt(nk::irq::kPeerUpLine, say_peer("is up")); !ok) return fail("peer line", ok.error());
    if (nk::irq::find_line(region, "rt.command")) {
        auto ok = (*exec)->on_interrupt("rt.command", [&](const nk::irq::Interrupt& irq) {
            auto who = region.guest(irq.source);
            std::printf("rt ticker: rt.command from guest '%s' at tick %llu\n", who ? who->name.c_str() : "?",
                        static_cast<unsigned long long>(ticks.load(std::memory_order_relaxed)));
            std::fflush(stdout);
        });
        if (!ok) return fail("line rt.command", ok.error());
    }

    if (auto armed = nk::heartbeat::arm(region, std::chrono::milliseconds(beat_ms), 3); !armed)
        return fail("heartbeat", armed.error());
    // The guest's watchdog task, when the config gives it one (NK_WATCHDOG from nkd).
    if (auto watchdog = nk::rt::add_watchdog_from_env(**exec, region); !watchdog) return fail("watchdog", watchdog.error());
    if (auto started = (*exec)->start(); !started) return fail("start", started.error());
    std::printf("rt ticker: up, task tick on virtual timer 0 at 1 ms, publishing rt.status and rt.exec (%s %d)\n",
                policy_name, param.sched_priority);
    std::fflush(stdout);
    (void)stop_signals.wait();
    (*exec)->stop();
    (void)nk::heartbeat::disarm(region);
    std::printf("rt ticker: stopped after %llu ticks (%llu overruns)\n",
                static_cast<unsigned long long>(ticks.load(std::memory_order_relaxed)),
                static_cast<unsigned long long>(overruns));
    return 0;
}
