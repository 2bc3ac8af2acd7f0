// Stress: many items through the SPSC ring and the MPMC queue, between real processes (forked
// children on the queue's shared memory) and between threads (the variant ThreadSanitizer can
// see into). Every item carries its producer, its sequence number and a checksum; every consumer
// checks each item and records it in a shared ledger; the parent then checks that each item
// arrived exactly once, intact, and in order per producer as each consumer saw it.
#include <sched.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <thread>
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
using stress::scaled;

constexpr std::uint32_t kItem = sizeof(StressItem);
// A side that sees no progress anywhere for this long gives up and fails the test, rather than
// leave CTest to time it out.
constexpr std::uint64_t kNoProgressNs = 10'000'000'000ULL;
// The whole run's bound, after which the parent kills what is left.
constexpr std::uint64_t kRunDeadlineNs = 90'000'000'000ULL;

enum class Mode { Processes, Threads };

class QueueStressTest : public test::SmallPlatformTest {
protected:
    void SetUp() override {
        NK_REQUIRE_ROOT();
        SmallPlatformTest::SetUp();
    }
};

// Runs every body at once, each in a forked child or a thread, and waits for all of them.
void run_all(Mode mode, const std::vector<std::function<void()>>& bodies) {
    if (mode == Mode::Threads) {
        std::vector<std::thread> threads;
        for (const auto& body : bodies) threads.emplace_back(body);
        for (auto& t : threads) t.join();
        return;
    }
    std::vector<pid_t> children;
    for (const auto& body : bodies) {
        children.push_back(stress::fork_child(body));
        ASSERT_GT(children.back(), 0);
    }
    const auto codes = stress::reap_all(children, now_ns() + kRunDeadlineNs);
    for (std::size_t i = 0; i < codes.size(); ++i) EXPECT_EQ(codes[i], 0) << "child " << i;
}

void expect_exactly_once(const Ledger& ledger, std::uint64_t started_ns, const char* what) {
    const auto& c = ledger.counts();
    EXPECT_EQ(c.torn.load(), 0U);
    EXPECT_EQ(c.foreign.load(), 0U);
    EXPECT_EQ(c.duplicates.load(), 0U);
    EXPECT_EQ(c.out_of_order.load(), 0U);
    EXPECT_EQ(c.received.load(), ledger.per_producer() * ledger.producers());
    for (std::uint32_t p = 0; p < ledger.producers(); ++p)
        EXPECT_EQ(ledger.missing(p, ledger.per_producer()), 0U) << "producer " << p;
    const double seconds = static_cast<double>(now_ns() - started_ns) / 1e9;
    std::printf("%s: %llu items in %.2f s (%.2f M items/s)\n", what,
                static_cast<unsigned long long>(c.received.load()), seconds,
                static_cast<double>(c.received.load()) / seconds / 1e6);
}

// Gives up (and fails) when the ledger's total has not moved for kNoProgressNs.
class ProgressWatch {
public:
    explicit ProgressWatch(const Ledger& ledger) : ledger_(ledger) {}
    [[nodiscard]] bool stuck() {
        // relaxed: only compared with its own earlier value.
        const std::uint64_t seen = ledger_.counts().received.load(std::memory_order_relaxed);
        const std::uint64_t now = now_ns();
        if (seen != last_ || since_ == 0) {
            last_ = seen;
            since_ = now;
            return false;
        }
        return now - since_ > kNoProgressNs;
    }
    void reset() { since_ = 0; }

private:
    const Ledger& ledger_;
    std::uint64_t last_ = 0;
    std::uint64_t since_ = 0;
};

// ---- MPMC -----------------------------------------------------------------------------------

void produce_mpmc(const Region& region, const Ledger& ledger, std::uint32_t producer, std::uint64_t count) {
    auto queue = MpmcQueue::open(region, "stress", kItem);
    ASSERT_TRUE(queue) << queue.error().message;
    ProgressWatch watch(ledger);
    for (std::uint64_t seq = 0; seq < count;) {
        const StressItem item = StressItem::make(producer, seq);
        if (queue->try_push(item.bytes())) {
            ++seq;
            watch.reset();
            continue;
        }
        ASSERT_FALSE(queue->corrupt()) << queue->health().error().message;
        ASSERT_FALSE(watch.stuck()) << "producer " << producer << " found the queue full for 10 s at " << seq;
        ::sched_yield();  // two cores, four sides: let a consumer run
    }
}

void consume_mpmc(const Region& region, const Ledger& ledger, std::uint64_t total) {
    auto queue = MpmcQueue::open(region, "stress", kItem);
    ASSERT_TRUE(queue) << queue.error().message;
    Ledger::Consumer seen(ledger);
    ProgressWatch watch(ledger);
    StressItem item;
    // acquire: pairs with the release in Ledger::Consumer::record().
    while (ledger.counts().received.load(std::memory_order_acquire) < total) {
        if (queue->try_pop(item.bytes())) {
            seen.record(item);
            continue;
        }
        ASSERT_FALSE(queue->corrupt()) << queue->health().error().message;
        ASSERT_FALSE(watch.stuck()) << "no item arrived for 10 s";
        ::sched_yield();
    }
}

// `producers` producers and `consumers` consumers move `total` items through a fresh queue that
// "linux" made in its link to "rt"; producers work through `tx`'s attach, consumers through `rx`'s.
void run_mpmc(const Region& tx, const Region& rx, Mode mode, std::uint32_t producers, std::uint32_t consumers,
              std::uint64_t total, const char* what) {
    auto made = MpmcQueue::create(tx, "stress", kItem, 1024, "rt");
    ASSERT_TRUE(made) << made.error().message;
    const std::uint64_t per = total / producers;
    Ledger ledger(producers, per);
    std::vector<std::function<void()>> bodies;
    for (std::uint32_t p = 0; p < producers; ++p)
        bodies.emplace_back([&, p] { produce_mpmc(tx, ledger, p, per); });
    for (std::uint32_t c = 0; c < consumers; ++c)
        bodies.emplace_back([&] { consume_mpmc(rx, ledger, per * producers); });
    const std::uint64_t start = now_ns();
    run_all(mode, bodies);
    expect_exactly_once(ledger, start, what);
    EXPECT_EQ(made->size_approx(), 0U);
    EXPECT_FALSE(made->corrupt());
}

TEST_F(QueueStressTest, MpmcTwoProducerAndTwoConsumerProcessesMoveEveryItemExactlyOnce) {
    run_mpmc(*linux_guest, *rt_guest, Mode::Processes, 2, 2, scaled(10'000'000), "mpmc 2x2 processes");
}

TEST_F(QueueStressTest, MpmcProducerAndConsumerThreadsMoveEveryItemExactlyOnce) {
    run_mpmc(*linux_guest, *rt_guest, Mode::Threads, 2, 2, scaled(10'000'000), "mpmc 2x2 threads");
}

TEST_F(QueueStressTest, MpmcFourProducersOneConsumerKeepEachProducersOrder) {
    run_mpmc(*linux_guest, *rt_guest, Mode::Processes, 4, 1, scaled(2'000'000), "mpmc 4x1 processes");
}

// ---- SPSC -----------------------------------------------------------------------------------

// Pushes `count` items, a third of them in batches of 1..13 (push_batch's wrap-around path).
void produce_spsc(const Region& region, const Ledger& ledger, std::uint64_t count) {
    auto ring = SpscRing::open(region, "stress", kItem);
    ASSERT_TRUE(ring) << ring.error().message;
    auto tx = ring->producer();
    ASSERT_TRUE(tx) << tx.error().message;
    ProgressWatch watch(ledger);
    std::vector<StressItem> batch(13);
    for (std::uint64_t seq = 0; seq < count;) {
        std::size_t pushed = 0;
        if (seq % 3 == 0) {
            const std::size_t n = std::min<std::uint64_t>(1 + seq % 13, count - seq);
            for (std::size_t i = 0; i < n; ++i) batch[i] = StressItem::make(0, seq + i);
            pushed = tx->push_batch(std::as_bytes(std::span(batch.data(), n)), n);
        } else {
            pushed = tx->try_push(StressItem::make(0, seq).bytes()) ? 1 : 0;
        }
        if (pushed > 0) {
            seq += pushed;
            watch.reset();
            continue;
        }
        ASSERT_FALSE(tx->corrupt()) << tx->health().error().message;
        ASSERT_FALSE(watch.stuck()) << "the ring stayed full for 10 s at " << seq;
        ::sched_yield();
    }
}

// Pops with try_pop and pop_batch in turn until every item is in.
void consume_spsc(const Region& region, const Ledger& ledger, std::uint64_t total) {
    auto ring = SpscRing::open(region, "stress", kItem);
    ASSERT_TRUE(ring) << ring.error().message;
    auto rx = ring->consumer();
    ASSERT_TRUE(rx) << rx.error().message;
    Ledger::Consumer seen(ledger);
    ProgressWatch watch(ledger);
    std::vector<StressItem> batch(16);
    std::uint64_t turn = 0;
    while (ledger.counts().received.load(std::memory_order_acquire) < total) {
        std::size_t got = 0;
        if (++turn % 2 == 0) {
            got = rx->pop_batch(std::as_writable_bytes(std::span(batch)), batch.size());
        } else if (rx->try_pop(batch[0].bytes())) {
            got = 1;
        }
        for (std::size_t i = 0; i < got; ++i) seen.record(batch[i]);
        if (got > 0) continue;
        ASSERT_FALSE(rx->corrupt()) << rx->health().error().message;
        ASSERT_FALSE(watch.stuck()) << "no item arrived for 10 s";
        ::sched_yield();
    }
}

void run_spsc(const Region& tx, const Region& rx, Mode mode, std::uint64_t total, const char* what) {
    auto made = SpscRing::create(tx, "stress", kItem, 1024, "rt");
    ASSERT_TRUE(made) << made.error().message;
    Ledger ledger(1, total);
    const std::uint64_t start = now_ns();
    run_all(mode, {[&] { produce_spsc(tx, ledger, total); }, [&] { consume_spsc(rx, ledger, total); }});
    expect_exactly_once(ledger, start, what);
    EXPECT_EQ(made->size_approx(), 0U);
}

TEST_F(QueueStressTest, SpscProducerProcessToConsumerProcessMovesEveryItemInOrder) {
    run_spsc(*linux_guest, *rt_guest, Mode::Processes, scaled(10'000'000), "spsc processes");
}

TEST_F(QueueStressTest, SpscProducerThreadToConsumerThreadMovesEveryItemInOrder) {
    run_spsc(*linux_guest, *rt_guest, Mode::Threads, scaled(10'000'000), "spsc threads");
}

}  // namespace
}  // namespace nk::ipc
