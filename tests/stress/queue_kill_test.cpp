// Kill -9 stress: producer and consumer processes of the SPSC ring and the MPMC queue are killed
// at random moments and restarted, for a few seconds; then the last ones run on until the queue
// is drained or stops moving.
//
// Each producer incarnation has its own id and numbers its items from 0; after every push that
// returned true it stores how many it pushed in a shared board. Consumers check every item
// (checksum, order per incarnation) and record it in the ledger. What this proves:
//   - never torn: every item popped passes its checksum, whoever was killed in the middle of what;
//   - nothing duplicated or reordered, and nothing invented;
//   - survivors never hang: the slowest single try_push / try_pop stays far below a second;
//   - nothing lost except what a kill can explain: a consumer killed between a pop and its record
//     loses that one item, and a producer killed between a push and its store to the board leaves
//     one item more than the board says.
// Both recover: the last producers' items all arrive. The MPMC queue's survivors pass what a
// claimer killed between its claim and its finish left behind (docs/ARCHITECTURE.md, "MPMC
// queue: a claimer that dies"): a dead producer's position is skipped, a dead consumer's slot
// taken back; the test checks the last queue drains and that its counts match the kills.
#include <sched.h>
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <random>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "nk/ipc/mpmc_queue.hpp"
#include "nk/ipc/spsc_ring.hpp"
#include "stress_support.hpp"
#include "test_platform.hpp"

namespace nk::ipc {
namespace {

using stress::Ledger;
using stress::StressItem;
using stress::now_ns;

constexpr std::uint32_t kItem = sizeof(StressItem);
constexpr std::uint32_t kCapacity = 256;
constexpr std::uint32_t kMaxIncarnations = 256;
constexpr std::uint64_t kPerIncarnation = 1U << 18;
// How long the killing goes on. Shorter under sanitizers (stress_support.hpp: kSanitized).
constexpr std::uint64_t kKillPhaseNs = stress::kSanitized ? 1'500'000'000ULL : 3'000'000'000ULL;
// The drain ends when nothing arrived for this long.
constexpr std::uint64_t kQuietNs = 1'000'000'000ULL;
// No single call may take this long: a survivor that waits on a dead peer would.
constexpr std::uint64_t kCallBoundNs = 1'000'000'000ULL;

// Per producer incarnation: how many of its pushes returned true, as it last stored.
struct Board {
    std::atomic<std::uint64_t> pushed[kMaxIncarnations];
};

template <class T>
T* shared_zeroed() {
    void* p = ::mmap(nullptr, sizeof(T), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::runtime_error("mmap board");
    return new (p) T();
}

// Calls `call`, noting how long it took.
template <class Call>
bool timed(const Ledger& ledger, Call call) {
    const std::uint64_t start = now_ns();
    const bool ok = call();
    ledger.note_call(now_ns() - start);
    return ok;
}

// The queue under test, behind the two loops a producer and a consumer process run.
class Target {
public:
    virtual ~Target() = default;
    [[noreturn]] virtual void produce(std::uint32_t incarnation) = 0;
    [[noreturn]] virtual void consume() = 0;

protected:
    Target(const Region& tx, const Region& rx, const Ledger& ledger, Board& board)
        : tx_(tx), rx_(rx), ledger_(ledger), board_(board) {}

    // Pushes this incarnation's items with `push`; then waits to be killed.
    template <class Push>
    [[noreturn]] void produce_with(std::uint32_t incarnation, Push push) {
        for (std::uint64_t seq = 0; seq < kPerIncarnation;) {
            const StressItem item = StressItem::make(incarnation, seq);
            if (timed(ledger_, [&] { return push(item); })) {
                ++seq;
                // relaxed: the parent reads the board after reaping this process.
                board_.pushed[incarnation].store(seq, std::memory_order_relaxed);
            } else {
                ::sched_yield();
            }
        }
        for (;;) ::pause();
    }

    template <class Pop>
    [[noreturn]] void consume_with(Pop pop) {
        Ledger::Consumer seen(ledger_);
        StressItem item;
        for (;;) {
            if (timed(ledger_, [&] { return pop(item); })) seen.record(item);
            else ::sched_yield();
        }
    }

    const Region& tx_;
    const Region& rx_;
    const Ledger& ledger_;
    Board& board_;
};

class SpscTarget final : public Target {
public:
    SpscTarget(const Region& tx, const Region& rx, const Ledger& ledger, Board& board) : Target(tx, rx, ledger, board) {}
    void produce(std::uint32_t incarnation) override {
        auto ring = SpscRing::open(tx_, "killed", kItem);
        if (!ring) ::_exit(3);
        auto tx = ring->producer();  // starts from the shared head the last producer stored
        if (!tx) ::_exit(4);
        produce_with(incarnation, [&](const StressItem& item) {
            if (tx->corrupt()) ::_exit(5);
            return tx->try_push(item.bytes());
        });
    }
    void consume() override {
        auto ring = SpscRing::open(rx_, "killed", kItem);
        if (!ring) ::_exit(3);
        auto rx = ring->consumer();
        if (!rx) ::_exit(4);
        consume_with([&](StressItem& item) {
            if (rx->corrupt()) ::_exit(5);
            return rx->try_pop(item.bytes());
        });
    }
};

class MpmcTarget final : public Target {
public:
    MpmcTarget(const Region& tx, const Region& rx, const Ledger& ledger, Board& board) : Target(tx, rx, ledger, board) {}
    void produce(std::uint32_t incarnation) override {
        auto queue = MpmcQueue::open(tx_, "killed", kItem);
        if (!queue) ::_exit(3);
        produce_with(incarnation, [&](const StressItem& item) {
            if (queue->corrupt()) ::_exit(5);
            return queue->try_push(item.bytes());
        });
    }
    void consume() override {
        auto queue = MpmcQueue::open(rx_, "killed", kItem);
        if (!queue) ::_exit(3);
        consume_with([&](StressItem& item) {
            if (queue->corrupt()) ::_exit(5);
            return queue->try_pop(item.bytes());
        });
    }
};

struct Child {
    bool producer = false;
    std::uint32_t incarnation = 0;  // producers only
    pid_t pid = -1;
};

struct KillRun {
    std::uint32_t incarnations = 0;   // producer incarnations started
    std::uint32_t producer_kills = 0;
    std::uint32_t consumer_kills = 0;
    std::vector<std::uint32_t> last;  // the incarnations alive at the end
    std::uint64_t seconds_ms = 0;
};

// Starts `producers` producers and `consumers` consumers, kills one at random every 2 to 30 ms for
// kKillPhaseNs and starts it again (a producer as a new incarnation), then lets the last ones run
// until nothing arrives for kQuietNs; kills them all.
KillRun kill_and_restart(Target& target, const Ledger& ledger, std::uint32_t producers, std::uint32_t consumers,
                         std::uint32_t seed) {
    KillRun run;
    std::vector<Child> children;
    auto start = [&](Child& child) {
        if (child.producer) child.incarnation = run.incarnations++;
        const std::uint32_t incarnation = child.incarnation;
        const bool producer = child.producer;
        child.pid = ::fork();
        if (child.pid == 0) {
            if (producer) target.produce(incarnation);
            target.consume();
        }
        if (child.pid < 0) throw std::runtime_error("fork");
    };
    for (std::uint32_t i = 0; i < producers + consumers; ++i) {
        children.push_back(Child{i < producers, 0, -1});
        start(children.back());
    }
    std::mt19937 random(seed);
    const std::uint64_t began = now_ns();
    while (now_ns() - began < kKillPhaseNs) {
        ::usleep(static_cast<useconds_t>(2000 + random() % 28000));
        Child& victim = children[random() % children.size()];
        if (victim.producer && run.incarnations == kMaxIncarnations) continue;
        ::kill(victim.pid, SIGKILL);
        EXPECT_EQ(stress::exit_code_of(victim.pid), 128 + SIGKILL);
        ++(victim.producer ? run.producer_kills : run.consumer_kills);
        start(victim);
    }
    // Drain: the last incarnations run on until nothing more arrives.
    std::uint64_t seen = 0;
    std::uint64_t quiet_since = now_ns();
    while (now_ns() - quiet_since < kQuietNs) {
        ::usleep(20000);
        // relaxed: only compared with its own earlier value.
        const std::uint64_t now_seen = ledger.counts().received.load(std::memory_order_relaxed);
        if (now_seen != seen) {
            seen = now_seen;
            quiet_since = now_ns();
        }
    }
    for (Child& child : children) {
        ::kill(child.pid, SIGKILL);
        // A child that exited on its own found the queue corrupt or could not open it: 3, 4, 5.
        EXPECT_EQ(stress::exit_code_of(child.pid), 128 + SIGKILL);
        if (child.producer) run.last.push_back(child.incarnation);
    }
    run.seconds_ms = (now_ns() - began) / 1'000'000;
    return run;
}

struct Accounting {
    std::uint64_t pushed = 0;   // as the board says
    std::uint64_t missing = 0;  // on the board, never recorded
    std::uint64_t extra = 0;    // recorded, beyond the board (pushed just before a kill)
};

Accounting account(const Ledger& ledger, const Board& board, const KillRun& run) {
    Accounting a;
    for (std::uint32_t k = 0; k < run.incarnations; ++k) {
        // relaxed: every producer has been reaped.
        const std::uint64_t pushed = board.pushed[k].load(std::memory_order_relaxed);
        a.pushed += pushed;
        a.missing += ledger.missing(k, pushed);
        const std::uint64_t extra = ledger.recorded_from(k, pushed);
        EXPECT_LE(extra, 1U) << "incarnation " << k << " has items recorded beyond the one it may not have noted";
        a.extra += extra;
    }
    return a;
}

void expect_clean(const Ledger& ledger) {
    const auto& c = ledger.counts();
    EXPECT_EQ(c.torn.load(), 0U);
    EXPECT_EQ(c.foreign.load(), 0U);
    EXPECT_EQ(c.duplicates.load(), 0U);
    EXPECT_EQ(c.out_of_order.load(), 0U);
    EXPECT_LT(c.slowest_call_ns.load(), kCallBoundNs);
}

void report(const char* what, const KillRun& run, const Ledger& ledger, const Accounting& a) {
    std::printf("%s: %u producer and %u consumer kills in %llu ms, %u producer incarnations; %llu items "
                "received, %llu pushed but not received, slowest call %.1f us\n",
                what, run.producer_kills, run.consumer_kills, static_cast<unsigned long long>(run.seconds_ms),
                run.incarnations, static_cast<unsigned long long>(ledger.counts().received.load()),
                static_cast<unsigned long long>(a.missing),
                static_cast<double>(ledger.counts().slowest_call_ns.load()) / 1e3);
}

class QueueKillTest : public test::SmallPlatformTest {
protected:
    void SetUp() override {
        NK_REQUIRE_ROOT();
        SmallPlatformTest::SetUp();
        board_ = shared_zeroed<Board>();
    }
    void TearDown() override {
        if (board_ != nullptr) ::munmap(board_, sizeof(Board));
    }
    Board* board_ = nullptr;
};

TEST_F(QueueKillTest, SpscProducerAndConsumerKilledAtRandomNeverTearHangOrLoseMoreThanTheKillsExplain) {
    auto ring = SpscRing::create(*linux_guest, "killed", kItem, kCapacity, "rt");
    ASSERT_TRUE(ring) << ring.error().message;
    Ledger ledger(kMaxIncarnations, kPerIncarnation);
    SpscTarget target(*linux_guest, *rt_guest, ledger, *board_);
    const KillRun run = kill_and_restart(target, ledger, 1, 1, 20261202);
    const Accounting a = account(ledger, *board_, run);
    report("spsc", run, ledger, a);
    expect_clean(ledger);
    EXPECT_GT(run.producer_kills, 0U);
    EXPECT_GT(run.consumer_kills, 0U);
    EXPECT_LE(a.missing, run.consumer_kills);
    // The survivors recovered: the last producer pushed all its items and they arrived (but for
    // one, if the last consumer kill came after that producer's last push).
    ASSERT_EQ(run.last.size(), 1U);
    EXPECT_EQ(board_->pushed[run.last[0]].load(), kPerIncarnation);
    EXPECT_GE(ledger.counts().received.load() + run.consumer_kills, a.pushed);
    EXPECT_EQ(ring->size_approx(), 0U);
}

TEST_F(QueueKillTest, MpmcProducersAndConsumersKilledAtRandomNeverTearHangOrStop) {
    auto made = MpmcQueue::create(*linux_guest, "killed", kItem, kCapacity, "rt");
    ASSERT_TRUE(made) << made.error().message;
    Ledger ledger(kMaxIncarnations, kPerIncarnation);
    MpmcTarget target(*linux_guest, *rt_guest, ledger, *board_);
    const KillRun run = kill_and_restart(target, ledger, 2, 2, 20261203);
    const Accounting a = account(ledger, *board_, run);
    report("mpmc", run, ledger, a);
    const MpmcQueueStats stats = made->stats();
    std::printf("mpmc: %llu positions of dead producers skipped, %llu slots taken back from dead consumers; "
                "%zu items left\n",
                static_cast<unsigned long long>(stats.skipped), static_cast<unsigned long long>(stats.reclaimed),
                made->size_approx());
    expect_clean(ledger);
    EXPECT_GT(run.producer_kills, 0U);
    EXPECT_GT(run.consumer_kills, 0U);
    EXPECT_FALSE(made->corrupt());
    // Each pass answers a kill: a producer's between its claim and its publish, a consumer's
    // between its claim and its release.
    EXPECT_LE(stats.skipped, run.producer_kills);
    EXPECT_LE(stats.reclaimed, run.consumer_kills);
    // Nothing stopped: the queue drained, and the last producers pushed all their items.
    EXPECT_EQ(made->size_approx(), 0U);
    for (std::uint32_t k : run.last) EXPECT_EQ(board_->pushed[k].load(), kPerIncarnation) << "incarnation " << k;
    // Lost: at most one item per consumer kill (killed between a pop and its record, or holding
    // a slot that was taken back, never both).
    EXPECT_LE(a.missing, run.consumer_kills);
}

}  // namespace
}  // namespace nk::ipc
