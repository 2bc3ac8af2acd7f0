// nk::rt::Executive: the rt guest's executive, a small fixed-priority runtime over the nanokernel.
//
// Every task is a thread of the rt guest's process at its own SCHED_FIFO priority (a higher one
// preempts a lower one at once), pinned to the guest's CPUs, with the process's memory locked and
// each stack prefaulted, so a running task takes no page fault. Three kinds of task:
//
//   - spawn(): a thread running the caller's loop until its StopToken says stop (a console, a
//     protocol stack's core thread);
//   - periodic(): activations driven by one of the guest's virtual timers (vtimer.hpp); each
//     activation's dispatch delay (deadline to the body running) goes into the task's histogram,
//     and deadlines that pass without their own activation are counted as overruns;
//   - on_interrupt(): handlers bound to virtual interrupt lines (interrupts.hpp), run by one
//     dispatcher thread at ExecutiveOptions::interrupt_priority.
//
// The executive publishes every task's record (state, activations, overruns, delay histogram) in
// a named segment, "rt.exec" by default (exec_layout.hpp), which `nkctl rt` shows.
//
//   auto exec = nk::rt::Executive::create(region, {.status_where = "linux"});
//   (void)(*exec)->periodic("control", 80, 1ms, [](const nk::rt::Activation& a) { step(a.delay_ns); });
//   (void)(*exec)->spawn("console", 20, [](nk::rt::StopToken stop) { while (!stop.wait_for(10ms)) serve(); });
//   (void)(*exec)->on_interrupt("rt.command", [](const nk::irq::Interrupt&) { ... });
//   if (auto started = (*exec)->start(); !started) fail(started.error());
//   ...
//   (*exec)->stop();  // asks every task to stop, wakes and joins them, disarms their timers
//
// Concurrency: create, add tasks, start, stop and report from one thread (the guest's main
// thread). Tasks added after start() start at once; interrupt handlers only before it.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "nk/nanokernel/interrupts.hpp"
#include "nk/nanokernel/region.hpp"
#include "nk/rt/exec_status.hpp"

namespace nk::rt {

namespace detail {
struct StopState;
}

// What a spawned task is told: whether the executive is stopping. Copyable; valid while the
// executive lives.
class StopToken {
public:
    [[nodiscard]] bool stop_requested() const noexcept;
    // Sleeps up to `timeout`; returns true as soon as a stop is requested (at once if it was).
    [[nodiscard]] bool wait_for(std::chrono::nanoseconds timeout) const;
    // A descriptor that becomes readable when a stop is requested: poll it beside a socket.
    [[nodiscard]] int fd() const noexcept;

private:
    friend class Executive;
    explicit StopToken(const detail::StopState* state) : state_(state) {}
    const detail::StopState* state_;
};

// One activation of a periodic task.
// A late task serves several deadlines with one activation: the latest is the one it works for,
// the earliest the one whose response was delayed most, which is what delay_ns measures (as
// cyclictest measures a late wake-up from the time it was due).
struct Activation {
    std::uint64_t index = 0;        // deadlines since the task started, the latest one included (1, 2, ...)
    std::uint64_t deadline_ns = 0;  // CLOCK_MONOTONIC of the latest deadline that passed
    std::uint64_t delay_ns = 0;     // from the earliest deadline it serves to the body starting
    std::uint64_t missed = 0;       // deadlines served without an activation of their own (index - previous index - 1)
};

struct ExecutiveOptions {
    std::string status_name = "rt.exec";
    // Where the status segment lives, as for ipc::Segment::create: "" the common area, a guest's
    // name the link to it (the default platform uses "linux", beside rt.status).
    std::string status_where;
    std::uint32_t max_tasks = 8;  // records the status segment has room for (1..layout::kMaxTasks)
    std::vector<int> cpus;        // the tasks' CPUs; empty: the calling thread's affinity at create()
    bool lock_memory = true;      // mlockall(MCL_CURRENT | MCL_FUTURE) at create()
    std::size_t stack_size = 256 * 1024;  // each task's stack; its first 64 KiB are touched before the body runs
    int interrupt_priority = 0;   // the interrupt handlers' thread; 0: the calling thread's priority at create()
};

class Executive {
public:
    using TaskBody = std::function<void(StopToken)>;
    using PeriodicBody = std::function<void(const Activation&)>;
    using InterruptHandler = irq::Dispatcher::Handler;

    // An executive for the calling guest (a Region attached as a guest): makes (or takes over, in a
    // restarted guest) its status segment and locks memory. No task runs until start().
    [[nodiscard]] static Result<std::unique_ptr<Executive>> create(const Region& region, ExecutiveOptions options = {});
    ~Executive();  // stop()
    Executive(const Executive&) = delete;
    Executive& operator=(const Executive&) = delete;

    // A task running `body(stop)` at SCHED_FIFO `priority` (1..99; 0: SCHED_OTHER). The body
    // should return soon after stop.stop_requested() becomes true: stop() joins it.
    [[nodiscard]] Result<void> spawn(std::string_view name, int priority, TaskBody body);

    // A task activated every `period` (50 µs .. 1 s) by the next free virtual timer of the
    // guest (8 per guest), from one period after start() (or after this call, once started).
    [[nodiscard]] Result<void> periodic(std::string_view name, int priority, std::chrono::nanoseconds period,
                                        PeriodicBody body);

    // A handler of the guest's interrupt line (0..63, or a configured line's name). Before start().
    [[nodiscard]] Result<void> on_interrupt(unsigned line, InterruptHandler handler);
    [[nodiscard]] Result<void> on_interrupt(std::string_view line_name, InterruptHandler handler);

    // Starts every task added so far. A task whose thread cannot start (a priority the host
    // refuses) fails the call, with its name; the tasks started before it keep running, and a
    // later start() tries the rest again.
    [[nodiscard]] Result<void> start();

    // Asks every task to stop, wakes and joins their threads, disarms their timers. Idempotent.
    void stop();

    // Every task's record, read back from the status segment as nkctl reads it.
    [[nodiscard]] Result<ExecStatus> report() const;

    // The status segment's bytes (for tests and tools in the same process).
    [[nodiscard]] std::span<const std::byte> status_bytes() const;

private:
    struct Impl;
    explicit Executive(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace nk::rt
