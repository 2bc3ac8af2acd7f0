// Virtual interrupt lines and virtual timers (interrupts.hpp, vtimer.hpp, timer_core.hpp):
// routing by the static table, refusals, hostile doorbells, waits across processes, the timer
// core's rates and its isolation between guests, and the Asio integration.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <gtest/gtest.h>

#include "nk/nanokernel/asio_interrupts.hpp"
#include "nk/nanokernel/detail/futex.hpp"
#include "nk/nanokernel/interrupts.hpp"
#include "nk/nanokernel/timer_core.hpp"
#include "nk/nanokernel/vtimer.hpp"
#include "test_platform.hpp"

namespace nk::irq {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

using test::kSanitized;

// rt.command: linux -> rt. linux.data: any guest linked to linux (so rt), and linux itself.
// rt.self: only rt. mon has no link at all.
const char* kLines =
    "[[interrupts]]\nname = \"rt.command\"\nowner = \"rt\"\nline = 16\nraisers = [\"linux\"]\n"
    "[[interrupts]]\nname = \"linux.data\"\nowner = \"linux\"\nline = 20\nraisers = [\"*\"]\n"
    "[[interrupts]]\nname = \"rt.self\"\nowner = \"rt\"\nline = 17\nraisers = [\"rt\"]\n";

class Interrupts : public ::testing::Test {
protected:
    void SetUp() override {
        NK_REQUIRE_ROOT();
        auto created = Region::create(test::small_platform(kLines));
        ASSERT_TRUE(created) << created.error().message;
        creator.emplace(std::move(*created));
        linux_guest.emplace(test::attach_as_guest(*creator, 1));
        rt_guest.emplace(test::attach_as_guest(*creator, 2));
        mon_guest.emplace(test::attach_as_guest(*creator, 3));
    }
    Dispatcher dispatcher_of(const Region& region) {
        auto d = Dispatcher::open(region);
        EXPECT_TRUE(d) << d.error().message;
        return std::move(*d);
    }
    layout::Doorbell& link_doorbell_toward_rt() {
        const AreaInfo* link = creator->link_area(1, 2);
        auto bytes = creator->bytes(link->offset, sizeof(layout::AreaHeader), true);
        return reinterpret_cast<layout::AreaHeader*>(*bytes)->doorbells[link->owner_guest == 2 ? 0 : 1];
    }
    std::optional<Region> creator, linux_guest, rt_guest, mon_guest;
};

TEST_F(Interrupts, ConfiguredLinesAreInTheStaticTable) {
    const auto all = lines(*rt_guest);
    ASSERT_EQ(all.size(), 3U);
    auto command = find_line(*mon_guest, "rt.command");
    ASSERT_TRUE(command) << command.error().message;
    EXPECT_EQ(command->owner, 2);
    EXPECT_EQ(command->line, 16U);
    EXPECT_EQ(command->raiser_mask, 1U);  // guests[0] = linux
    EXPECT_EQ(find_line(*linux_guest, "linux.data")->raiser_mask, 3U);  // "*": linux and its peer rt, not mon
    EXPECT_FALSE(find_line(*rt_guest, "no.such"));
}

TEST_F(Interrupts, RaisedLineRunsTheOwnersHandlerOnceWithItsSource) {
    auto rt = dispatcher_of(*rt_guest);
    std::vector<Interrupt> seen;
    ASSERT_TRUE(rt.on("rt.command", [&](const Interrupt& irq) { seen.push_back(irq); }));
    EXPECT_EQ(rt.poll(), 0U);
    ASSERT_TRUE(raise(*linux_guest, "rt.command"));
    EXPECT_EQ(rt.poll(), 1U);
    ASSERT_EQ(seen.size(), 1U);
    EXPECT_EQ(seen[0].line, 16U);
    EXPECT_EQ(seen[0].source, 1);
    EXPECT_EQ(rt.poll(), 0U);  // taken
    EXPECT_EQ(rt.counters().dispatched, 1U);
}

TEST_F(Interrupts, RaisesOfOneLineCoalesceUntilTaken) {
    auto rt = dispatcher_of(*rt_guest);
    int calls = 0;
    ASSERT_TRUE(rt.on(16, [&](const Interrupt&) { ++calls; }));
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(raise(*linux_guest, "rt.command"));
    EXPECT_EQ(rt.poll(), 1U);
    EXPECT_EQ(calls, 1);
}

TEST_F(Interrupts, TheTableDecidesWhoMayRaise) {
    // rt may raise linux.data ("*" covers linked guests) and its own rt.self.
    EXPECT_TRUE(raise(*rt_guest, "linux.data"));
    EXPECT_TRUE(raise(*rt_guest, "rt.self"));
    // linux is not among rt.self's raisers.
    auto refused = raise(*linux_guest, "rt.self");
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code, make_error_code(RegionError::AccessDenied));
    EXPECT_NE(refused.error().message.find("test.toml:"), std::string::npos) << refused.error().message;
    EXPECT_NE(refused.error().message.find("rt.self"), std::string::npos);
    // mon has no link and is no raiser of anything.
    EXPECT_EQ(raise(*mon_guest, "rt.command").error().code, make_error_code(RegionError::AccessDenied));
    EXPECT_EQ(raise(*mon_guest, "linux.data").error().code, make_error_code(RegionError::AccessDenied));
    // Unknown lines and the nanokernel's own lines.
    EXPECT_EQ(raise(*linux_guest, "no.such").error().code, make_error_code(RegionError::NotFound));
    EXPECT_EQ(raise(*linux_guest, 2, 40).error().code, make_error_code(RegionError::NotFound));
    EXPECT_EQ(raise(*linux_guest, 2, kPeerDownLine).error().code, make_error_code(RegionError::AccessDenied));
    EXPECT_EQ(raise(*linux_guest, 2, 64).error().code, make_error_code(RegionError::InvalidArgument));
    // A dispatcher takes only its own guest's configured lines by name.
    auto rt = dispatcher_of(*rt_guest);
    EXPECT_EQ(rt.on("linux.data", [](const Interrupt&) {}).error().code, make_error_code(RegionError::AccessDenied));
}

TEST_F(Interrupts, RaisingALineOfAGuestThatIsDownFailsAtOnce) {
    creator->set_guest_state(2, layout::GuestState::Down, true);
    auto refused = raise(*linux_guest, "rt.command");
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code, make_error_code(RegionError::NotRunning));
    creator->set_guest_state(2, layout::GuestState::Running, false);
    EXPECT_TRUE(raise(*linux_guest, "rt.command"));
}

TEST_F(Interrupts, BitsASourceMayNotRaiseAreDroppedAndCounted) {
    auto rt = dispatcher_of(*rt_guest);
    int calls = 0;
    for (unsigned line : {16U, 17U, 40U, 3U}) ASSERT_TRUE(rt.on(line, [&](const Interrupt&) { ++calls; }));
    // A hostile linux writes the link doorbell by hand: rt.self (17) is not linux's to raise, 40
    // is no line at all, 3 is a timer line (the nanokernel's, never in a link doorbell).
    auto& bell = link_doorbell_toward_rt();
    layout::atomic(bell.pending).fetch_or((1ULL << 17) | (1ULL << 40) | (1ULL << 3) | (1ULL << 16));
    EXPECT_EQ(rt.poll(), 1U);  // only rt.command, which linux may raise
    EXPECT_EQ(calls, 1);
    EXPECT_EQ(rt.counters().dropped, 3U);
    EXPECT_EQ(layout::atomic(bell.pending).load(), 0U);  // the bad bits are gone, not left to spin on
}

TEST_F(Interrupts, UnhandledLinesStayPendingForAnotherDispatcherOfTheGuest) {
    auto first = dispatcher_of(*rt_guest);
    auto second = dispatcher_of(*rt_guest);
    int a = 0, b = 0;
    ASSERT_TRUE(first.on("rt.command", [&](const Interrupt&) { ++a; }));
    ASSERT_TRUE(second.on("rt.self", [&](const Interrupt&) { ++b; }));
    ASSERT_TRUE(raise(*rt_guest, "rt.self"));
    ASSERT_TRUE(raise(*linux_guest, "rt.command"));
    EXPECT_EQ(first.poll(), 1U);
    EXPECT_EQ(second.poll(), 1U);
    EXPECT_EQ(a, 1);
    EXPECT_EQ(b, 1);
}

TEST_F(Interrupts, WaitTimesOutWithNothingAndWakeUpEndsItEarly) {
    auto rt = dispatcher_of(*rt_guest);
    ASSERT_TRUE(rt.on("rt.command", [](const Interrupt&) {}));
    auto start = Clock::now();
    auto waited = rt.wait_for(30ms);
    ASSERT_TRUE(waited) << waited.error().message;
    EXPECT_EQ(*waited, 0U);
    EXPECT_GE(Clock::now() - start, 30ms);

    std::thread waker([&] {
        std::this_thread::sleep_for(50ms);
        rt.wake_up();
    });
    start = Clock::now();
    waited = rt.wait_for(10s);
    waker.join();
    ASSERT_TRUE(waited);
    EXPECT_EQ(*waited, 0U);
    EXPECT_LT(Clock::now() - start, 5s);
}

// Ping-pong between two processes on two lines: every raise must wake the other side (a lost
// wake-up would stall a round until the 2 s timeout and fail the test).
TEST_F(Interrupts, RoundTripsAcrossProcessesLoseNoWakeUp) {
    const int rounds = kSanitized ? 2000 : 20000;
    const pid_t child = ::fork();
    if (child == 0) {
        // rt: answer every rt.command with linux.data.
        auto d = Dispatcher::open(*rt_guest);
        if (!d) ::_exit(10);
        int got = 0;
        if (!d->on("rt.command", [&](const Interrupt&) { ++got; })) ::_exit(11);
        while (got < rounds) {
            const int before = got;
            auto waited = d->wait_for(2s);
            if (!waited || got == before) ::_exit(12);
            if (!raise(*rt_guest, "linux.data")) ::_exit(13);
        }
        ::_exit(0);
    }
    auto linux_side = dispatcher_of(*linux_guest);
    int answers = 0;
    ASSERT_TRUE(linux_side.on("linux.data", [&](const Interrupt& irq) {
        EXPECT_EQ(irq.source, 2);
        ++answers;
    }));
    const auto start = Clock::now();
    for (int i = 0; i < rounds; ++i) {
        ASSERT_TRUE(raise(*linux_guest, "rt.command"));
        const int before = answers;
        while (answers == before) {
            auto waited = linux_side.wait_for(2s);
            ASSERT_TRUE(waited);
            ASSERT_NE(*waited, 0U) << "round " << i << ": no answer within 2 s (a lost wake-up)";
        }
    }
    const double us = std::chrono::duration<double, std::micro>(Clock::now() - start).count() / rounds;
    int status = 0;
    ::waitpid(child, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
    std::printf("%d interrupt round trips across processes: %.1f us each\n", rounds, us);
}

TEST_F(Interrupts, PeerDownAndUpNameTheGuest) {
    auto linux_side = dispatcher_of(*linux_guest);
    std::vector<std::pair<unsigned, std::uint16_t>> seen;
    auto record = [&](const Interrupt& irq) { seen.emplace_back(irq.line, irq.peer); };
    ASSERT_TRUE(linux_side.on(kPeerDownLine, record));
    ASSERT_TRUE(linux_side.on(kPeerUpLine, record));
    announce_peer(*creator, 2, true);
    announce_peer(*creator, 3, true);
    EXPECT_EQ(linux_side.poll(), 2U);
    announce_peer(*creator, 2, false);
    EXPECT_EQ(linux_side.poll(), 1U);
    ASSERT_EQ(seen.size(), 3U);
    EXPECT_EQ(seen[0], std::make_pair(kPeerDownLine, std::uint16_t{2}));
    EXPECT_EQ(seen[1], std::make_pair(kPeerDownLine, std::uint16_t{3}));
    EXPECT_EQ(seen[2], std::make_pair(kPeerUpLine, std::uint16_t{2}));
    // A guest is not told about itself, and only the nanokernel announces.
    auto rt_side = dispatcher_of(*rt_guest);
    int self = 0;
    ASSERT_TRUE(rt_side.on(kPeerDownLine, [&](const Interrupt& irq) { self += irq.peer == 2; }));
    EXPECT_EQ(rt_side.poll(), 1U);  // the down of mon (3), announced above
    EXPECT_EQ(self, 0);
}

TEST_F(Interrupts, ResetClearsWhatTheOldIncarnationLeftPending) {
    auto rt = dispatcher_of(*rt_guest);
    int calls = 0;
    ASSERT_TRUE(rt.on("rt.command", [&](const Interrupt&) { ++calls; }));
    ASSERT_TRUE(raise(*linux_guest, "rt.command"));
    ASSERT_TRUE(reset_guest(*creator, 2));
    EXPECT_EQ(rt.poll(), 0U);
    EXPECT_FALSE(reset_guest(*linux_guest, 2));  // the nanokernel's only
}

// ---- virtual timers through the timer core ------------------------------------------------

class VirtualTimers : public Interrupts {
protected:
    void SetUp() override {
        Interrupts::SetUp();
        if (IsSkipped()) return;
        TimerCore::Options options;
        options.timers = true;
        options.on_panic = [this](std::uint16_t guest) { panics.fetch_add(guest); };
        auto started = TimerCore::start(*creator, std::move(options));
        ASSERT_TRUE(started) << started.error().message;
        core = std::move(*started);
    }
    void TearDown() override { core.reset(); }
    std::unique_ptr<TimerCore> core;
    std::atomic<int> panics{0};
};

struct TimerRun {
    std::uint64_t deliveries = 0;
    std::uint64_t expirations = 0;
    double expected = 0;  // periods from the arm to the last delivery
    bool was_direct = false;  // the control page's delivery while armed (disarm resets it)
};

// Runs the dispatcher's handlers until `end`; false as soon as one wait fails.
bool dispatch_until(Dispatcher& d, Clock::time_point end) {
    while (Clock::now() < end)
        if (!d.wait_until(end)) return false;
    return true;
}

TimerRun run_timer(const Region& guest, unsigned timer, std::chrono::nanoseconds period, std::chrono::milliseconds length,
                   vtimer::Delivery delivery = vtimer::Delivery::Raise) {
    TimerRun run;
    auto d = Dispatcher::open(guest);
    EXPECT_TRUE(d);
    Clock::time_point last{};
    EXPECT_TRUE(d->on(timer_line(timer), [&](const Interrupt& irq) {
        ++run.deliveries;
        run.expirations += irq.expirations;
        last = Clock::now();
    }));
    const auto armed = Clock::now();
    EXPECT_TRUE(vtimer::arm(guest, timer, period, period, delivery));
    const auto end = armed + length;
    EXPECT_TRUE(dispatch_until(*d, end));
    const auto state = vtimer::read(guest, guest.identity().guest_id, timer);
    run.was_direct = state && state->direct;
    EXPECT_TRUE(vtimer::disarm(guest, timer));
    run.expected = std::chrono::duration<double>(last - armed) / std::chrono::duration<double>(period);
    return run;
}

// Expiries are counted against the deadlines, so their number matches the time that passed:
// within two (the first and the last may straddle a delivery), whatever the wake-ups did.
void expect_rate(const TimerRun& run, const char* what) {
    EXPECT_NEAR(static_cast<double>(run.expirations), run.expected, 2.0)
        << what << ": " << run.expirations << " expirations in " << run.expected << " periods";
}

TEST_F(VirtualTimers, A1msPeriodicTimerFires1000TimesASecond) {
    const auto run = run_timer(*rt_guest, 0, 1ms, 1000ms);
    std::printf("1 ms timer, 1 s: %llu expirations, %llu deliveries\n", static_cast<unsigned long long>(run.expirations),
                static_cast<unsigned long long>(run.deliveries));
    expect_rate(run, "1 ms");
    EXPECT_GE(run.expirations, 990U);
    // Deliveries may merge expiries when a wake-up is late (counted in expirations, not lost).
    EXPECT_GE(run.deliveries, kSanitized ? 500U : 900U);
}

TEST_F(VirtualTimers, TwoGuestsTimersDoNotDisturbEachOther) {
    TimerRun linux_run, rt_run;
    std::thread rt_thread([&] { rt_run = run_timer(*rt_guest, 1, 1ms, 1000ms); });
    linux_run = run_timer(*linux_guest, 0, 700us, 1000ms);
    rt_thread.join();
    std::printf("together, 1 s: rt 1 ms timer %llu expirations (%llu deliveries); linux 0.7 ms timer %llu (%llu)\n",
                static_cast<unsigned long long>(rt_run.expirations), static_cast<unsigned long long>(rt_run.deliveries),
                static_cast<unsigned long long>(linux_run.expirations),
                static_cast<unsigned long long>(linux_run.deliveries));
    expect_rate(rt_run, "rt 1 ms");
    expect_rate(linux_run, "linux 0.7 ms");
    EXPECT_GE(rt_run.expirations, 990U);
    EXPECT_GE(linux_run.expirations, 1410U);
    EXPECT_GE(rt_run.deliveries, kSanitized ? 400U : 800U);
    EXPECT_GE(linux_run.deliveries, kSanitized ? 500U : 1100U);
}

TEST_F(VirtualTimers, A100usPeriodWorks) {
    const auto run = run_timer(*rt_guest, 2, 100us, 500ms);
    std::printf("100 us timer, 0.5 s: %llu expirations, %llu deliveries, core overruns %llu\n",
                static_cast<unsigned long long>(run.expirations), static_cast<unsigned long long>(run.deliveries),
                static_cast<unsigned long long>(core->counters().overruns));
    expect_rate(run, "100 us");
    EXPECT_GE(run.expirations, 4900U);
    EXPECT_GE(run.deliveries, kSanitized ? 500U : 2000U);
}

// Direct delivery: the owner's dispatcher wakes at each deadline and counts it; the core, which
// would raise a thousand times a second, raises (nearly) never, and the counts are the same.
TEST_F(VirtualTimers, DirectDeliveryCountsEveryExpiryWithoutTheCoresRaises) {
    const auto before = vtimer::read(*creator, 2, 0);
    ASSERT_TRUE(before);
    const auto raises_before = core->counters().raises;
    const auto run = run_timer(*rt_guest, 0, 1ms, 1000ms, vtimer::Delivery::Direct);
    const auto raises = core->counters().raises - raises_before;
    std::printf("direct 1 ms timer, 1 s: %llu expirations, %llu deliveries, %llu raises by the core\n",
                static_cast<unsigned long long>(run.expirations), static_cast<unsigned long long>(run.deliveries),
                static_cast<unsigned long long>(raises));
    expect_rate(run, "direct 1 ms");
    EXPECT_GE(run.deliveries, kSanitized ? 500U : 900U);
    EXPECT_LT(raises, 20U) << "the core raised what the owner should have counted";
    // The count in the control page is the one the handler was told: nothing counted twice.
    const auto after = vtimer::read(*creator, 2, 0);
    ASSERT_TRUE(after);
    EXPECT_TRUE(run.was_direct);
    EXPECT_GE(after->expirations - before->expirations, run.expirations);
    EXPECT_LE(after->expirations - before->expirations, run.expirations + 1);
}

// An owner that does not wait (busy, or stuck) loses nothing: the core counts and raises what it
// left for longer than the grace, and the next dispatch reports it as one overrun delivery.
TEST_F(VirtualTimers, TheCoreCatchesUpADirectTimerWhoseOwnerDoesNotWait) {
    auto d = dispatcher_of(*rt_guest);
    std::uint64_t expirations = 0, deliveries = 0;
    ASSERT_TRUE(d.on(timer_line(1), [&](const Interrupt& irq) {
        expirations += irq.expirations;
        ++deliveries;
    }));
    const auto armed = Clock::now();
    ASSERT_TRUE(vtimer::arm(*rt_guest, 1, 1ms, 1ms, vtimer::Delivery::Direct));
    std::this_thread::sleep_for(150ms);
    const auto counted = vtimer::read(*creator, 2, 1);
    ASSERT_TRUE(counted);
    // 150 deadlines passed; the core counts those older than its grace (20.5 ms).
    EXPECT_GE(counted->expirations, 100U);
    EXPECT_LE(counted->expirations, 151U);
    EXPECT_GE(core->counters().raises, 1U);
    // One poll reports them all (the core's raise, or the owner's own claim of the rest).
    ASSERT_GE(d.poll(), 1U);
    EXPECT_GE(expirations, counted->expirations);
    EXPECT_LE(deliveries, 2U);
    // Waiting again, it counts the rest itself: the total matches the time since the arming.
    ASSERT_TRUE(dispatch_until(d, Clock::now() + 100ms));
    ASSERT_TRUE(vtimer::disarm(*rt_guest, 1));
    const double periods = std::chrono::duration<double, std::milli>(Clock::now() - armed).count();
    EXPECT_NEAR(static_cast<double>(expirations), periods, 3.0);
}

// Re-arming moves the schedule: the owner never counts a deadline of the old one after the core
// adopted the new one (the epoch in the count refuses it), and none of the new one early.
TEST_F(VirtualTimers, ReArmingADirectTimerCountsNothingOfTheOldSchedule) {
    auto d = dispatcher_of(*rt_guest);
    std::uint64_t expirations = 0;
    Clock::time_point first_new{};
    bool rearmed = false;
    ASSERT_TRUE(d.on(timer_line(2), [&](const Interrupt& irq) {
        expirations += irq.expirations;
        if (rearmed && first_new == Clock::time_point{}) first_new = Clock::now();
    }));
    ASSERT_TRUE(vtimer::arm(*rt_guest, 2, 1ms, 1ms, vtimer::Delivery::Direct));
    ASSERT_TRUE(dispatch_until(d, Clock::now() + 50ms));
    EXPECT_GE(expirations, 45U);
    const auto old_count = expirations;
    const auto at_rearm = Clock::now();
    ASSERT_TRUE(vtimer::arm(*rt_guest, 2, 100ms, 1ms, vtimer::Delivery::Direct));
    rearmed = true;
    ASSERT_TRUE(dispatch_until(d, Clock::now() + 90ms));
    // At most the old deadline the core counted before it read the new request.
    EXPECT_LE(expirations - old_count, 1U);
    const auto after_gap = expirations;
    ASSERT_TRUE(dispatch_until(d, Clock::now() + 60ms));
    ASSERT_TRUE(vtimer::disarm(*rt_guest, 2));
    EXPECT_GE(expirations - after_gap, 45U);
    ASSERT_NE(first_new, Clock::time_point{});
    EXPECT_GE(first_new - at_rearm, 99ms);
}

// nkd may die and a new one take over: the new timer core continues each schedule from the count
// the control page holds (its adoption is there), so no expiry is counted twice.
TEST_F(VirtualTimers, ARestartedTimerCoreContinuesTheScheduleWithoutCountingTwice) {
    for (const auto delivery : {vtimer::Delivery::Raise, vtimer::Delivery::Direct}) {
        const unsigned timer = delivery == vtimer::Delivery::Raise ? 3 : 4;
        auto d = dispatcher_of(*rt_guest);
        std::uint64_t expirations = 0;
        ASSERT_TRUE(d.on(timer_line(timer), [&](const Interrupt& irq) { expirations += irq.expirations; }));
        const auto armed = Clock::now();
        ASSERT_TRUE(vtimer::arm(*rt_guest, timer, 1ms, 1ms, delivery));
        ASSERT_TRUE(dispatch_until(d, Clock::now() + 100ms));
        core.reset();  // nkd's timer core is gone for 50 ms
        std::this_thread::sleep_for(50ms);
        TimerCore::Options options;
        options.timers = true;
        auto started = TimerCore::start(*creator, std::move(options));
        ASSERT_TRUE(started) << started.error().message;
        core = std::move(*started);
        ASSERT_TRUE(dispatch_until(d, Clock::now() + 100ms));
        ASSERT_TRUE(vtimer::disarm(*rt_guest, timer));
        const double periods = std::chrono::duration<double, std::milli>(Clock::now() - armed).count();
        EXPECT_NEAR(static_cast<double>(expirations), periods, 3.0)
            << (delivery == vtimer::Delivery::Raise ? "raise" : "direct");
    }
}

TEST_F(VirtualTimers, OneShotFiresOnceAndDisarmStopsAPeriodicTimer) {
    auto d = dispatcher_of(*rt_guest);
    std::uint64_t shots = 0, ticks = 0;
    ASSERT_TRUE(d.on(timer_line(3), [&](const Interrupt& irq) { shots += irq.expirations; }));
    ASSERT_TRUE(d.on(timer_line(4), [&](const Interrupt& irq) { ticks += irq.expirations; }));
    ASSERT_TRUE(vtimer::arm(*rt_guest, 3, 5ms));
    ASSERT_TRUE(vtimer::arm(*rt_guest, 4, 1ms, 1ms));
    ASSERT_TRUE(dispatch_until(d, Clock::now() + 100ms));
    EXPECT_EQ(shots, 1U);
    ASSERT_TRUE(vtimer::disarm(*rt_guest, 4));
    std::this_thread::sleep_for(5ms);  // a raise already on its way
    (void)d.poll();
    const auto at_disarm = ticks;
    ASSERT_TRUE(dispatch_until(d, Clock::now() + 50ms));
    EXPECT_EQ(ticks, at_disarm);
    EXPECT_GT(at_disarm, 50U);
    auto state = vtimer::read(*creator, 2, 3);
    ASSERT_TRUE(state);
    EXPECT_EQ(state->expirations, 1U);
}

TEST_F(VirtualTimers, BadRequestsAreRefusedByTheGuestSideAndTheCore) {
    EXPECT_EQ(vtimer::arm(*rt_guest, 8, 1ms).error().code, make_error_code(RegionError::InvalidArgument));
    EXPECT_EQ(vtimer::arm(*rt_guest, 0, 1ms, 10us).error().code, make_error_code(RegionError::InvalidArgument));
    EXPECT_EQ(vtimer::arm(*rt_guest, 0, -1ms).error().code, make_error_code(RegionError::InvalidArgument));
    EXPECT_FALSE(vtimer::arm(*creator, 0, 1ms));  // the creator is no guest
    // A guest that writes a 1 ns period straight into its control page is refused by the core.
    auto fds = creator->export_fds(Identity::guest(2));
    auto d = dispatcher_of(*rt_guest);
    int calls = 0;
    ASSERT_TRUE(d.on(timer_line(5), [&](const Interrupt&) { ++calls; }));
    ASSERT_TRUE(vtimer::arm(*rt_guest, 5, 1h, 1ms));
    const auto* page_area = creator->area(creator->guest(2)->control_area);
    auto bytes = rt_guest->bytes(page_area->offset, sizeof(layout::ControlPage), true);
    auto* page = reinterpret_cast<layout::ControlPage*>(*bytes);
    auto& t = page->timers[5];
    layout::atomic(t.sequence).fetch_add(1);  // odd
    layout::atomic(t.period_ns).store(1);
    layout::atomic(t.first_ns).store(0);
    layout::atomic(t.sequence).fetch_add(1);  // even: published
    layout::atomic(page->to_nanokernel.pending).fetch_or(1ULL << layout::kTimerChangeLine);
    layout::atomic(page->to_nanokernel.wake).fetch_add(1);
    nk::detail::futex_wake(&page->to_nanokernel.wake, 1);
    std::this_thread::sleep_for(50ms);
    EXPECT_EQ(d.poll(), 0U);
    EXPECT_EQ(calls, 0);
    EXPECT_GE(core->counters().rejected, 1U);
}

TEST_F(VirtualTimers, TimersOfAnEarlierIncarnationDoNotFire) {
    auto d = dispatcher_of(*rt_guest);
    int calls = 0;
    ASSERT_TRUE(d.on(timer_line(0), [&](const Interrupt&) { ++calls; }));
    ASSERT_TRUE(vtimer::arm(*rt_guest, 0, 20ms, 1ms));
    creator->set_guest_state(2, layout::GuestState::Running, true);  // a new incarnation, not re-armed
    std::this_thread::sleep_for(60ms);
    EXPECT_EQ(d.poll(), 0U);
    EXPECT_EQ(calls, 0);
}

TEST_F(VirtualTimers, AsioServesTimerAndPeerLinesFromOneIoContext) {
    asio::io_context io;
    auto lines = AsioInterrupts::open(io, *rt_guest);
    ASSERT_TRUE(lines) << lines.error().message;
    std::uint64_t ticks = 0;
    int commands = 0;
    ASSERT_TRUE((*lines)->on(timer_line(0), [&](const Interrupt& irq) { ticks += irq.expirations; }));
    ASSERT_TRUE((*lines)->on("rt.command", [&](const Interrupt&) {
        ++commands;
        if (commands == 3) io.stop();
    }));
    (*lines)->start();
    ASSERT_TRUE(vtimer::arm(*rt_guest, 0, 1ms, 1ms));
    std::thread raiser([&] {
        for (int i = 0; i < 3; ++i) {
            std::this_thread::sleep_for(40ms);
            EXPECT_TRUE(raise(*linux_guest, "rt.command"));
        }
    });
    asio::steady_timer guard(io, 5s);
    guard.async_wait([&](std::error_code) { io.stop(); });
    io.run();
    raiser.join();
    (*lines)->stop();
    EXPECT_EQ(commands, 3);
    EXPECT_GE(ticks, 60U);  // ~120 ms of a 1 ms timer, handled on the io_context
}

// The CPUs named in the core's options are where its thread runs; rt_guest_cpus() gives the rt
// guests' CPUs (small_platform's rt guest has CPU 0), which is what the region keeper asks for.
TEST_F(Interrupts, TheTimerCoreRunsOnTheCpusItIsGiven) {
    const auto cpus = TimerCore::rt_guest_cpus(*creator);
    ASSERT_EQ(cpus, std::vector<std::uint32_t>{0});
    TimerCore::Options options;
    options.timers = true;
    options.cpus = cpus;
    auto core = TimerCore::start(*creator, std::move(options));
    ASSERT_TRUE(core) << core.error().message;
    // The core's thread, found by its name among this process's threads.
    std::string allowed;
    for (int attempt = 0; attempt < 100 && allowed.empty(); ++attempt) {
        for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
            std::ifstream comm(task.path() / "comm");
            std::string name;
            std::getline(comm, name);
            if (name != "nk-timer-core") continue;
            std::ifstream status(task.path() / "status");
            for (std::string line; std::getline(status, line);)
                if (line.rfind("Cpus_allowed_list:", 0) == 0) allowed = line.substr(line.find_first_not_of(" \t", 18));
        }
        if (allowed != "0") {
            allowed.clear();  // the thread may not have pinned itself yet
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
    }
    EXPECT_EQ(allowed, "0");
}

}  // namespace
}  // namespace nk::irq
