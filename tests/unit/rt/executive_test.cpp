// The rt executive in one process: a guest's region, nkd's timer core, real SCHED_FIFO threads.
#include <poll.h>
#include <sched.h>

#include <atomic>
#include <chrono>
#include <thread>

#include <gtest/gtest.h>

#include "nk/nanokernel/clock.hpp"
#include "nk/nanokernel/interrupts.hpp"
#include "nk/nanokernel/timer_core.hpp"
#include "nk/nanokernel/vtimer.hpp"
#include "nk/rt/executive.hpp"
#include "nk/rt/latency_histogram.hpp"
#include "test_platform.hpp"

namespace nk::rt {
namespace {

using namespace std::chrono_literals;

class Executive : public ::testing::Test {
protected:
    void SetUp() override {
        NK_REQUIRE_ROOT();
        auto created = Region::create(test::small_platform(
            "[[interrupts]]\nname = \"rt.kick\"\nowner = \"rt\"\nline = 20\nraisers = [\"linux\"]\n"));
        ASSERT_TRUE(created) << created.error().message;
        creator.emplace(std::move(*created));
        linux_guest.emplace(test::attach_as_guest(*creator, 1));
        rt_guest.emplace(test::attach_as_guest(*creator, 2));
        TimerCore::Options options;
        options.timers = true;
        auto core = TimerCore::start(*creator, std::move(options));
        ASSERT_TRUE(core) << core.error().message;
        timers = std::move(*core);
    }

    // The executive on one CPU, as an rt guest pinned to it: priorities decide who runs.
    std::unique_ptr<nk::rt::Executive> make(std::uint32_t max_tasks = 8) {
        cpu_set_t allowed;
        CPU_ZERO(&allowed);
        sched_getaffinity(0, sizeof allowed, &allowed);
        int cpu = 0;
        while (cpu < CPU_SETSIZE && !CPU_ISSET(cpu, &allowed)) ++cpu;
        ExecutiveOptions options;
        options.cpus = {cpu};
        options.max_tasks = max_tasks;
        options.interrupt_priority = 30;
        auto exec = nk::rt::Executive::create(*rt_guest, options);
        EXPECT_TRUE(exec) << exec.error().message;
        return exec ? std::move(*exec) : nullptr;
    }

    static const TaskStatus* find(const ExecStatus& status, std::string_view name) {
        for (const auto& t : status.tasks)
            if (t.name == name) return &t;
        return nullptr;
    }

    std::optional<Region> creator, linux_guest, rt_guest;
    std::unique_ptr<TimerCore> timers;
};

// Busy-waits on the calling thread's CPU for `d` (never yields it).
void spin_for(std::chrono::nanoseconds d) {
    const auto end = std::chrono::steady_clock::now() + d;
    while (std::chrono::steady_clock::now() < end) {
    }
}

TEST_F(Executive, AHigherPriorityTaskPreemptsALowerOne) {
    auto exec = make();
    ASSERT_TRUE(exec);
    std::atomic<std::uint64_t> low_progress{0};
    std::atomic<bool> low_spinning{false}, done{false};
    std::atomic<std::uint64_t> during_high{UINT64_MAX};
    std::atomic<int> high_runs_while_low_spins{0};
    // The low task never yields its CPU until the high one has run (or 600 ms pass).
    ASSERT_TRUE(exec->spawn("low", 10, [&](StopToken stop) {
        const auto end = std::chrono::steady_clock::now() + 600ms;
        low_spinning.store(true);
        while (!done.load() && !stop.stop_requested() && std::chrono::steady_clock::now() < end)
            low_progress.fetch_add(1, std::memory_order_relaxed);
        low_spinning.store(false);
    }));
    ASSERT_TRUE(exec->periodic("high", 20, 5ms, [&](const Activation&) {
        if (!low_spinning.load() || done.load()) return;
        // While this runs on the shared CPU, the low task must not advance.
        const std::uint64_t before = low_progress.load();
        spin_for(20ms);
        during_high.store(low_progress.load() - before);
        high_runs_while_low_spins.fetch_add(1);
        done.store(true);
    }));
    ASSERT_TRUE(exec->start());
    const auto end = std::chrono::steady_clock::now() + 5s;
    while (!done.load() && std::chrono::steady_clock::now() < end) std::this_thread::sleep_for(1ms);
    exec->stop();
    ASSERT_EQ(high_runs_while_low_spins.load(), 1) << "the high task never ran while the low one spun: not preempted";
    EXPECT_EQ(during_high.load(), 0U) << "the low task ran while the higher one held the CPU";
    EXPECT_GT(low_progress.load(), 0U);
    auto status = exec->report();
    ASSERT_TRUE(status) << status.error().message;
    ASSERT_NE(find(*status, "low"), nullptr);
    EXPECT_EQ(find(*status, "low")->priority, 10);
    EXPECT_EQ(find(*status, "high")->state, layout::TaskState::Stopped);
}

TEST_F(Executive, APeriodicTaskMissesNoActivationWhenIdle) {
    auto exec = make();
    ASSERT_TRUE(exec);
    // 20 ms: this VM stalls even cyclictest at SCHED_FIFO 90 for up to ~9 ms a few times a
    // minute (hypervisor), which no guest can hide; a miss here is the executive's own.
    // scripts/bench.sh rt measures 1 kHz, with its overruns reported.
    constexpr auto kPeriod = 20ms;
    constexpr std::uint64_t kWanted = 100;  // two seconds
    std::atomic<std::uint64_t> activations{0}, missed{0}, out_of_order{0};
    std::atomic<bool> reached{false};
    ASSERT_TRUE(exec->periodic("tick", 50, kPeriod, [&](const Activation& a) {
        const std::uint64_t n = activations.fetch_add(1) + 1;
        missed.fetch_add(a.missed);
        if (a.index != n + missed.load()) out_of_order.fetch_add(1);
        if (n == kWanted) reached.store(true);
    }));
    ASSERT_TRUE(exec->start());
    const auto end = std::chrono::steady_clock::now() + 10s;
    while (!reached.load() && std::chrono::steady_clock::now() < end) std::this_thread::sleep_for(5ms);
    exec->stop();
    ASSERT_TRUE(reached.load()) << activations.load() << " activations in 10 s";
    EXPECT_EQ(missed.load(), 0U);
    EXPECT_EQ(out_of_order.load(), 0U);
    auto status = exec->report();
    ASSERT_TRUE(status) << status.error().message;
    const TaskStatus* tick = find(*status, "tick");
    ASSERT_NE(tick, nullptr);
    EXPECT_EQ(tick->kind, layout::TaskKind::Periodic);
    EXPECT_EQ(tick->period_ns, 20'000'000U);
    EXPECT_EQ(tick->activations, activations.load());
    EXPECT_EQ(tick->overruns, 0U) << "worst dispatch delay " << tick->delay_max_ns / 1000 << " us";
    EXPECT_EQ(total(tick->buckets), tick->activations) << "every activation is in the histogram";
    EXPECT_LE(tick->delay_min_ns, tick->delay_max_ns);
    // Every deadline of the timer was an activation of its own: the core's count agrees.
    auto timer = vtimer::read(*rt_guest, 2, tick->line);
    ASSERT_TRUE(timer);
    EXPECT_FALSE(timer->armed) << "stop() disarms the task's timer";
    // (Deadlines between its last activation and stop()'s disarm were never due to run: at most a couple.)
    EXPECT_GE(timer->expirations, tick->activations + tick->overruns);
    EXPECT_LE(timer->expirations, tick->activations + tick->overruns + 2);
}

TEST_F(Executive, OverrunsAreCountedAndReported) {
    auto exec = make();
    ASSERT_TRUE(exec);
    std::atomic<std::uint64_t> activations{0}, missed_seen{0};
    std::atomic<bool> finished{false};
    ASSERT_TRUE(exec->periodic("slow", 50, 2ms, [&](const Activation& a) {
        missed_seen.fetch_add(a.missed);
        const std::uint64_t n = activations.fetch_add(1) + 1;
        // Three bodies run past three deadlines each: the next activation serves the latest of
        // them (late), the other two are missed.
        if (n % 10 == 0 && n <= 30) spin_for(7ms);
        if (n == 40) finished.store(true);
    }));
    ASSERT_TRUE(exec->start());
    const auto end = std::chrono::steady_clock::now() + 10s;
    while (!finished.load() && std::chrono::steady_clock::now() < end) std::this_thread::sleep_for(5ms);
    exec->stop();
    ASSERT_TRUE(finished.load());
    EXPECT_GE(missed_seen.load(), 6U) << "each 7 ms body on a 2 ms period misses 2 activations";
    auto status = exec->report();
    ASSERT_TRUE(status) << status.error().message;
    const TaskStatus* slow = find(*status, "slow");
    ASSERT_NE(slow, nullptr);
    EXPECT_EQ(slow->overruns, missed_seen.load()) << "the record counts what the task was told";
    EXPECT_GE(slow->runtime_max_ns, 7'000'000U);
    EXPECT_EQ(total(slow->buckets), slow->activations);
    auto timer = vtimer::read(*rt_guest, 2, slow->line);
    ASSERT_TRUE(timer);
    EXPECT_GE(timer->expirations, slow->activations + slow->overruns);
    EXPECT_LE(timer->expirations, slow->activations + slow->overruns + 2) << "no expiry is hidden";
}

TEST_F(Executive, SpawnedTasksStopWhenAskedAndTheirStopFdIsReadable) {
    auto exec = make();
    ASSERT_TRUE(exec);
    std::atomic<int> loops{0};
    std::atomic<bool> fd_readable{false};
    ASSERT_TRUE(exec->spawn("console", 5, [&](StopToken stop) {
        while (!stop.wait_for(1h)) loops.fetch_add(1);  // only a stop ends the wait
        pollfd p{stop.fd(), POLLIN, 0};
        fd_readable.store(::poll(&p, 1, 0) == 1);
    }));
    ASSERT_TRUE(exec->start());
    std::this_thread::sleep_for(20ms);
    const auto before = std::chrono::steady_clock::now();
    exec->stop();
    EXPECT_LT(std::chrono::steady_clock::now() - before, 2s);
    EXPECT_EQ(loops.load(), 0);
    EXPECT_TRUE(fd_readable.load());
    EXPECT_EQ(find(*exec->report(), "console")->state, layout::TaskState::Stopped);
    EXPECT_FALSE(exec->spawn("late", 5, [](StopToken) {})) << "a stopped executive takes no task";
}

TEST_F(Executive, InterruptHandlersRunOnTheirLineAndAreCounted) {
    auto exec = make();
    ASSERT_TRUE(exec);
    std::atomic<int> kicks{0};
    std::atomic<std::uint16_t> source{0};
    ASSERT_TRUE(exec->on_interrupt("rt.kick", [&](const irq::Interrupt& irq) {
        source.store(irq.source);
        kicks.fetch_add(1);
    }));
    EXPECT_FALSE(exec->on_interrupt(0U, [](const irq::Interrupt&) {})) << "timer lines belong to periodic tasks";
    EXPECT_FALSE(exec->on_interrupt(20U, [](const irq::Interrupt&) {})) << "one handler per line";
    ASSERT_TRUE(exec->start());
    for (int i = 0; i < 3; ++i) {
        ASSERT_TRUE(irq::raise(*linux_guest, "rt.kick"));
        const auto end = std::chrono::steady_clock::now() + 2s;
        while (kicks.load() <= i && std::chrono::steady_clock::now() < end) std::this_thread::sleep_for(1ms);
    }
    exec->stop();
    EXPECT_EQ(kicks.load(), 3);
    EXPECT_EQ(source.load(), 1);
    auto status = exec->report();
    ASSERT_TRUE(status) << status.error().message;
    const TaskStatus* handler = find(*status, "irq.rt.kick");
    ASSERT_NE(handler, nullptr);
    EXPECT_EQ(handler->kind, layout::TaskKind::Interrupt);
    EXPECT_EQ(handler->activations, 3U);
    EXPECT_EQ(handler->priority, 30);
}

TEST_F(Executive, RefusesWhatItCannotHonour) {
    auto exec = make(2);
    ASSERT_TRUE(exec);
    EXPECT_FALSE(exec->spawn("", 5, [](StopToken) {}));
    EXPECT_FALSE(exec->spawn("bad", 100, [](StopToken) {}));
    EXPECT_FALSE(exec->periodic("fast", 5, 10us, [](const Activation&) {}));
    ASSERT_TRUE(exec->spawn("a", 5, [](StopToken s) { (void)s.wait_for(1h); }));
    EXPECT_FALSE(exec->spawn("a", 5, [](StopToken) {})) << "names are unique";
    ASSERT_TRUE(exec->spawn("b", 5, [](StopToken s) { (void)s.wait_for(1h); }));
    auto third = exec->spawn("c", 5, [](StopToken) {});
    ASSERT_FALSE(third);
    EXPECT_NE(third.error().message.find("room for 2"), std::string::npos) << third.error().message;
}

}  // namespace
}  // namespace nk::rt
