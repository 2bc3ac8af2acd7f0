// nk::TimerCore: the nanokernel's timer sharing, and its ear for the guests' calls to it.
//
// The Nanokernel paper merges every OS's timer requests into the one hardware timer. Here one
// thread of nkd does it: it keeps the virtual timers of every guest (vtimer.hpp), sleeps until
// the nearest deadline among all of them, and at each expiry counts it in the timer and raises
// the owner's timer line. The same sleep watches each guest's doorbell toward the nanokernel, so
// an arm that moves the nearest deadline wakes it at once, and nk::panic()'s panic line reaches
// nkd without waiting for the guest to end.
//
// The sleep is one futex_waitv(2) with an absolute CLOCK_MONOTONIC timeout: one kernel hrtimer
// armed at the nearest deadline, as one timerfd would be, but in the same call that watches the
// doorbells (a guest cannot write to an fd of nkd's; docs/ARCHITECTURE.md, "Virtual timers").
// The thread runs at SCHED_FIFO when it may, with no timer slack.
//
// nkd runs two: the region keeper's (region_keeper.hpp) serves the timers, so they keep firing
// while nkd is away or restarting, and nkd's own hears the panic lines. Each takes from the
// doorbells only the lines it serves.
//
//   nk::TimerCore::Options options;
//   options.timers = true;
//   auto timers = nk::TimerCore::start(region, std::move(options));
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "nk/nanokernel/region.hpp"

namespace nk {

class TimerCore {
public:
    // Called from the core's thread when a guest raises its panic line.
    using PanicHandler = std::function<void(std::uint16_t guest_id)>;

    struct Options {
        bool timers = false;     // serve the guests' virtual timers
        PanicHandler on_panic;   // hear the panic lines (empty: leave them to another core)
        PanicHandler on_recovery_request;  // hear watchdogs' recovery requests (recovery.hpp), same rule
        int fifo_priority = 90;  // the thread's SCHED_FIFO priority; 0: SCHED_OTHER. A refusal is logged, not fatal.
        // CPUs the thread runs on (empty: wherever the scheduler puts it). On the rt guests' CPUs
        // a timer line wakes its task on the same CPU, without the cross-CPU wake-up (an IPI)
        // that otherwise sits between every deadline and the task. A refusal is logged, not fatal.
        std::vector<std::uint32_t> cpus;
    };

    // The CPUs of the region's rt guests (each of their CPUs once, in order): where the keeper's
    // core runs, so that the timer lines of the guests that care most are raised locally.
    [[nodiscard]] static std::vector<std::uint32_t> rt_guest_cpus(const Region& region);

    // Starts the core's thread on a region this process created (nkd, or its region keeper).
    [[nodiscard]] static Result<std::unique_ptr<TimerCore>> start(const Region& region, Options options);
    ~TimerCore();  // stops and joins the thread
    TimerCore(const TimerCore&) = delete;
    TimerCore& operator=(const TimerCore&) = delete;

    struct Counters {
        std::uint64_t raises = 0;     // timer lines raised
        std::uint64_t overruns = 0;   // expiries that passed while the core was late (counted, one raise)
        std::uint64_t rejected = 0;   // timer requests refused as malformed or stale
        std::uint64_t wakeups = 0;
    };
    [[nodiscard]] Counters counters() const;

private:
    struct Impl;
    explicit TimerCore(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace nk
