#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "nk/ipc/mpmc_queue.hpp"
#include "test_platform.hpp"

namespace nk::ipc {
namespace {

using Item = std::uint64_t;
constexpr std::uint32_t kItem = sizeof(Item);

std::span<const std::byte> bytes_of(const Item& item) { return std::as_bytes(std::span(&item, 1)); }
std::span<std::byte> bytes_of(Item& item) { return std::as_writable_bytes(std::span(&item, 1)); }

class MpmcQueueTest : public test::SmallPlatformTest {
protected:
    // A queue of 8-byte items made by guest "linux" in its link to "rt".
    MpmcQueue make(std::string_view name, std::uint32_t capacity) {
        auto queue = MpmcQueue::create(*linux_guest, name, kItem, capacity, "rt");
        EXPECT_TRUE(queue) << queue.error().message;
        return std::move(*queue);
    }

    // Another MpmcQueue on the same queue, as a second user in the same process would have.
    MpmcQueue reopen(std::string_view name) {
        auto queue = MpmcQueue::open(*linux_guest, name, kItem);
        EXPECT_TRUE(queue) << queue.error().message;
        return std::move(*queue);
    }

    // The queue's shared header and slot sequences, as a peer that scribbles on them would see them.
    MpmcQueueHeader& shared_header(const MpmcQueue& queue) {
        auto bytes = linux_guest->bytes(queue.region_offset(), queue.object().size, true);
        EXPECT_TRUE(bytes) << bytes.error().message;
        return *reinterpret_cast<MpmcQueueHeader*>(*bytes);
    }
    std::uint64_t& sequence(const MpmcQueue& queue, std::uint32_t slot) { return slot_of(queue, slot).sequence; }
    MpmcSlot& slot_of(const MpmcQueue& queue, std::uint32_t slot) {
        auto* header = &shared_header(queue);
        auto* first = reinterpret_cast<std::byte*>(header) + header->slots_offset;
        return *reinterpret_cast<MpmcSlot*>(first + std::size_t{slot} * header->slot_stride);
    }
    // Writes a claim into the slot of `position` as a claimer with this pid (in our pid namespace)
    // would have; role 1 push, 2 pop.
    void name_claimer(const MpmcQueue& queue, std::uint64_t position, std::uint64_t role, pid_t pid,
                      std::uint64_t start_time) {
        struct stat ns {};
        ASSERT_EQ(::stat("/proc/self/ns/pid", &ns), 0);
        MpmcSlot& slot = slot_of(queue, static_cast<std::uint32_t>(position % queue.capacity()));
        slot.pid = static_cast<std::uint32_t>(pid);
        slot.pid_ns = static_cast<std::uint32_t>(ns.st_ino);
        slot.start_time = start_time;
        slot.guest = 0;
        layout::atomic(slot.claim).store(position << 2 | role, std::memory_order_seq_cst);
    }
    // A pid that was a process of ours and has exited (and been reaped).
    static pid_t dead_pid() {
        const pid_t child = ::fork();
        if (child == 0) ::_exit(0);
        int status = 0;
        ::waitpid(child, &status, 0);
        return child;
    }

};

TEST_F(MpmcQueueTest, NewlyCreatedQueueIsEmpty) {
    MpmcQueue queue = make("fresh", 16);
    EXPECT_EQ(queue.capacity(), 16U);
    EXPECT_EQ(queue.item_size(), kItem);
    EXPECT_EQ(queue.size_approx(), 0U);
    EXPECT_EQ(queue.area_label(), "link.linux-rt");
    Item out = 0;
    EXPECT_FALSE(queue.try_pop(bytes_of(out)));
    EXPECT_FALSE(queue.corrupt());
    EXPECT_TRUE(queue.health());

    const MpmcQueueHeader& header = shared_header(queue);
    EXPECT_EQ(header.magic, kMpmcQueueMagic);
    EXPECT_EQ(header.layout_version, kMpmcQueueLayoutVersion);
    EXPECT_EQ(header.slot_stride, 48U);  // sequence and claim (40 bytes) + item
    for (std::uint32_t i = 0; i < 16; ++i) EXPECT_EQ(sequence(queue, i), i);
}

TEST_F(MpmcQueueTest, FullQueueRefusesPushUntilAConsumerMakesRoom) {
    MpmcQueue queue = make("full", 4);
    for (Item i = 0; i < 4; ++i) ASSERT_TRUE(queue.try_push(bytes_of(i)));
    const Item extra = 99;
    EXPECT_FALSE(queue.try_push(bytes_of(extra)));
    EXPECT_FALSE(queue.try_push(bytes_of(extra)));
    EXPECT_FALSE(queue.corrupt());
    EXPECT_EQ(queue.size_approx(), 4U);
    EXPECT_EQ(shared_header(queue).full_count, 2U);

    Item out = 0;
    ASSERT_TRUE(queue.try_pop(bytes_of(out)));
    EXPECT_EQ(out, 0U);
    EXPECT_TRUE(queue.try_push(bytes_of(extra)));
    for (Item expected : {Item{1}, Item{2}, Item{3}, extra}) {
        ASSERT_TRUE(queue.try_pop(bytes_of(out)));
        EXPECT_EQ(out, expected);
    }
    EXPECT_FALSE(queue.try_pop(bytes_of(out)));
}

TEST_F(MpmcQueueTest, WrapsAroundManyTimesAndKeepsOrder) {
    MpmcQueue queue = make("wrap", 8);
    Item next_in = 0, next_out = 0;
    for (int cycle = 0; cycle < 20000; ++cycle) {
        const int burst = cycle % 8 + 1;
        for (int i = 0; i < burst; ++i) ASSERT_TRUE(queue.try_push(bytes_of(next_in++)));
        for (int i = 0; i < burst; ++i) {
            Item out = 0;
            ASSERT_TRUE(queue.try_pop(bytes_of(out)));
            ASSERT_EQ(out, next_out++);
        }
    }
    EXPECT_EQ(next_out, 90000U);
    EXPECT_EQ(queue.size_approx(), 0U);
    EXPECT_EQ(sequence(queue, 0), 90000U);  // slot 0 is free for the push at position 90000
}

TEST_F(MpmcQueueTest, ItemOfTheWrongSizeIsRefused) {
    MpmcQueue queue = make("sized", 8);
    const std::uint32_t small = 1;
    EXPECT_FALSE(queue.try_push(std::as_bytes(std::span(&small, 1))));
    EXPECT_EQ(queue.size_approx(), 0U);
    const Item item = 5;
    ASSERT_TRUE(queue.try_push(bytes_of(item)));
    std::uint64_t out[2] = {};
    EXPECT_FALSE(queue.try_pop(std::as_writable_bytes(std::span(out))));
    EXPECT_EQ(queue.size_approx(), 1U);
    EXPECT_FALSE(queue.corrupt());

    auto as_u32 = MpmcQueue::open(*rt_guest, "sized", sizeof(std::uint32_t));
    ASSERT_FALSE(as_u32);
    EXPECT_EQ(as_u32.error().code, make_error_code(RegionError::SizeConflict));
    EXPECT_TRUE(MpmcQueue::open(*rt_guest, "sized", kItem));
}

TEST_F(MpmcQueueTest, CreateRefusesShapesTheQueueCannotHave) {
    for (std::uint32_t capacity : {0U, 1U, 3U, 12U}) {
        auto made = MpmcQueue::create(*linux_guest, "shape", kItem, capacity, "rt");
        ASSERT_FALSE(made) << capacity;
        EXPECT_EQ(made.error().code, make_error_code(RegionError::InvalidArgument));
    }
    for (std::uint32_t item_size : {0U, detail::kMaxItemSize + 1}) {
        auto made = MpmcQueue::create(*linux_guest, "shape", item_size, 8, "rt");
        ASSERT_FALSE(made) << item_size;
        EXPECT_EQ(made.error().code, make_error_code(RegionError::InvalidArgument));
    }
    auto odd = MpmcQueue::create(*linux_guest, "shape", 3, 2, "rt");
    ASSERT_TRUE(odd) << odd.error().message;
    EXPECT_EQ(shared_header(*odd).slot_stride, 48U);  // 40-byte slot header + 3, rounded up to 8
}

TEST_F(MpmcQueueTest, QueueInTheLinkCarriesItemsToThePeerGuest) {
    auto made = MpmcQueue::create(*linux_guest, "to.rt", kItem, 16, "rt");
    ASSERT_TRUE(made) << made.error().message;
    auto opened = MpmcQueue::open(*rt_guest, "to.rt", kItem);
    ASSERT_TRUE(opened) << opened.error().message;
    EXPECT_EQ(opened->capacity(), 16U);
    Item next_out = 0;
    for (Item i = 0; i < 100; ++i) {
        ASSERT_TRUE(made->try_push(bytes_of(i)));
        if (i % 5 == 4) {
            Item out = 0;
            while (opened->try_pop(bytes_of(out))) ASSERT_EQ(out, next_out++);
        }
    }
    EXPECT_EQ(next_out, 100U);

    auto outsider = MpmcQueue::open(*mon_guest, "to.rt");
    ASSERT_FALSE(outsider);
    EXPECT_EQ(outsider.error().code, make_error_code(RegionError::NotFound));
    auto by_peer = MpmcQueue::remove(*rt_guest, "to.rt");
    ASSERT_FALSE(by_peer);
    EXPECT_EQ(by_peer.error().code, make_error_code(RegionError::AccessDenied));
    ASSERT_TRUE(MpmcQueue::remove(*linux_guest, "to.rt"));
    EXPECT_FALSE(MpmcQueue::open(*rt_guest, "to.rt"));
}

TEST_F(MpmcQueueTest, OpeningNeedsReadWriteRights) {
    ASSERT_TRUE(MpmcQueue::create(*linux_guest, "ro.jobs", kItem, 8, "rt"));
    auto read_only = MpmcQueue::open(*rt_guest, "ro.jobs");
    ASSERT_FALSE(read_only);
    EXPECT_EQ(read_only.error().code, make_error_code(RegionError::AccessDenied));
}

// Drives `queue` a few laps so that positions and sequences are past their first lap.
void run_laps(MpmcQueue& queue, Item items) {
    for (Item i = 0; i < items; ++i) {
        ASSERT_TRUE(queue.try_push(bytes_of(i)));
        Item out = 0;
        ASSERT_TRUE(queue.try_pop(bytes_of(out)));
    }
}

void expect_stopped(MpmcQueue& queue, const char* what) {
    EXPECT_TRUE(queue.corrupt()) << what;
    auto health = queue.health();
    ASSERT_FALSE(health) << what;
    EXPECT_EQ(health.error().code, make_error_code(RegionError::Corrupt)) << what;
    EXPECT_NE(health.error().message.find("slot sequence"), std::string::npos) << health.error().message;
    const Item item = 1;
    Item out = 0;
    EXPECT_FALSE(queue.try_push(bytes_of(item))) << what;
    EXPECT_FALSE(queue.try_pop(bytes_of(out))) << what;
}

TEST_F(MpmcQueueTest, SequenceFromAnEarlierLapIsReportedNotTakenForFull) {
    MpmcQueue queue = make("scribbled.behind", 4);
    run_laps(queue, 8);  // positions at 8; slot 0 free for position 8
    layout::atomic(sequence(queue, 0)).store(1, std::memory_order_relaxed);  // two laps behind
    const Item item = 1;
    EXPECT_FALSE(queue.try_push(bytes_of(item)));
    expect_stopped(queue, "push");

    MpmcQueue popper = reopen("scribbled.behind");
    Item out = 0;
    EXPECT_FALSE(popper.try_pop(bytes_of(out)));
    expect_stopped(popper, "pop");
    EXPECT_NE(popper.health().error().message.find("slot 0"), std::string::npos) << popper.health().error().message;
}

TEST_F(MpmcQueueTest, SequenceAheadOfAPositionThatDoesNotMoveIsReportedNotSpunOn) {
    MpmcQueue queue = make("scribbled.ahead", 4);
    layout::atomic(sequence(queue, 0)).store(12345, std::memory_order_relaxed);
    const auto started = std::chrono::steady_clock::now();
    const Item item = 1;
    EXPECT_FALSE(queue.try_push(bytes_of(item)));
    expect_stopped(queue, "push");

    MpmcQueue popper = reopen("scribbled.ahead");
    Item out = 0;
    EXPECT_FALSE(popper.try_pop(bytes_of(out)));
    expect_stopped(popper, "pop");
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(1));
}

TEST_F(MpmcQueueTest, ScribbledPositionsAreReported) {
    MpmcQueue queue = make("scribbled.positions", 4);
    run_laps(queue, 8);
    layout::atomic(shared_header(queue).enqueue_pos).store(std::uint64_t{1} << 40, std::memory_order_relaxed);
    const Item item = 1;
    EXPECT_FALSE(queue.try_push(bytes_of(item)));
    expect_stopped(queue, "push far ahead");

    MpmcQueue popper = reopen("scribbled.positions");
    layout::atomic(shared_header(popper).dequeue_pos).store(0, std::memory_order_relaxed);  // two laps back
    Item out = 0;
    EXPECT_FALSE(popper.try_pop(bytes_of(out)));
    expect_stopped(popper, "pop gone back");
    EXPECT_LE(popper.size_approx(), popper.capacity());
}

TEST_F(MpmcQueueTest, ScribbledHeaderIsRefusedAtOpenAndIgnoredByOpenQueues) {
    MpmcQueue queue = make("scribbled.header", 4);
    MpmcQueueHeader& header = shared_header(queue);
    header.capacity = 1U << 30;
    header.slot_stride = 8;
    run_laps(queue, 20);  // works from the copies validated at open
    auto reopened = MpmcQueue::open(*rt_guest, "scribbled.header");
    ASSERT_FALSE(reopened);
    EXPECT_EQ(reopened.error().code, make_error_code(RegionError::Corrupt));

    header.slot_stride = 16;  // consistent with the item size, but the slots do not fit
    auto too_many = MpmcQueue::open(*rt_guest, "scribbled.header");
    ASSERT_FALSE(too_many);
    EXPECT_EQ(too_many.error().code, make_error_code(RegionError::Corrupt));
    EXPECT_NE(too_many.error().message.find("do not fit"), std::string::npos) << too_many.error().message;
}

// A producer killed after its claim (the enqueue CAS) and its name, before it publishes: the pops
// held up at its position find it dead and pass the position (its item never existed); nothing
// else is lost and no call waits (docs/ARCHITECTURE.md, "MPMC queue: a claimer that dies").
TEST_F(MpmcQueueTest, ProducerKilledBeforePublishingIsPassedWithoutWaitingForTheTimeout) {
    MpmcQueue queue = make("dead-claimer", 4);
    queue.set_headerless_claim_timeout(3'600'000'000'000ULL);  // an hour: not what passes it
    for (Item i = 0; i < 2; ++i) ASSERT_TRUE(queue.try_push(bytes_of(i)));
    layout::atomic(shared_header(queue).enqueue_pos).fetch_add(1, std::memory_order_relaxed);  // claims 2
    name_claimer(queue, 2, 1, dead_pid(), 0);                                                     // names itself, dies
    const Item late = 3;
    ASSERT_TRUE(queue.try_push(bytes_of(late)));  // position 3, behind the hole
    std::vector<Item> got;
    const auto start = std::chrono::steady_clock::now();
    Item out = 0;
    for (int call = 0; call < 1000 && got.size() < 3; ++call)
        if (queue.try_pop(bytes_of(out))) got.push_back(out);
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
    EXPECT_EQ(got, (std::vector<Item>{0, 1, 3}));
    EXPECT_EQ(queue.stats().skipped, 1U);
    EXPECT_FALSE(queue.corrupt());
    // The hole's slot serves the next lap as any other.
    for (Item i = 10; i < 14; ++i) ASSERT_TRUE(queue.try_push(bytes_of(i)));
    for (Item i = 10; i < 14; ++i) {
        ASSERT_TRUE(queue.try_pop(bytes_of(out)));
        EXPECT_EQ(out, i);
    }
}

// The same claimer alive (here: this process) is waited for, however long it takes and however
// often the pops look: a slow or stopped producer keeps its position.
TEST_F(MpmcQueueTest, ALiveClaimerIsWaitedForNotPassed) {
    MpmcQueue queue = make("live-claimer", 4);
    queue.set_headerless_claim_timeout(0);
    ASSERT_TRUE(queue.try_push(bytes_of(Item{0})));
    layout::atomic(shared_header(queue).enqueue_pos).fetch_add(1, std::memory_order_relaxed);  // claims 1
    name_claimer(queue, 1, 1, ::getpid(), 0);
    Item out = 0;
    ASSERT_TRUE(queue.try_pop(bytes_of(out)));
    for (int call = 0; call < 10000; ++call) ASSERT_FALSE(queue.try_pop(bytes_of(out)));
    EXPECT_EQ(queue.stats().skipped, 0U);
    EXPECT_EQ(sequence(queue, 1), 1U);  // still "free for the push at 1": its claimer may yet write
    // It publishes at last, as a claimer that was only slow does: the item arrives.
    std::memcpy(reinterpret_cast<std::byte*>(&slot_of(queue, 1)) + sizeof(MpmcSlot), &out, sizeof out);
    layout::atomic(sequence(queue, 1)).store(2, std::memory_order_release);
    EXPECT_TRUE(queue.try_pop(bytes_of(out)));
}

// A producer killed between its CAS and naming itself leaves nothing to judge it by: the pops
// pass it once it has held them up for the headerless-claim timeout.
TEST_F(MpmcQueueTest, ProducerKilledBeforeNamingItselfIsPassedAfterTheTimeout) {
    MpmcQueue queue = make("headerless", 4);
    queue.set_headerless_claim_timeout(50'000'000);  // 50 ms
    layout::atomic(shared_header(queue).enqueue_pos).fetch_add(1, std::memory_order_relaxed);  // claims 0, dies
    ASSERT_TRUE(queue.try_push(bytes_of(Item{7})));
    const auto start = std::chrono::steady_clock::now();
    Item out = 0;
    bool got = false;
    while (!got && std::chrono::steady_clock::now() - start < std::chrono::seconds(5)) {
        const auto call = std::chrono::steady_clock::now();
        got = queue.try_pop(bytes_of(out));
        EXPECT_LT(std::chrono::steady_clock::now() - call, std::chrono::milliseconds(100)) << "a call waited";
    }
    ASSERT_TRUE(got);
    EXPECT_EQ(out, 7U);
    EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(50));
    EXPECT_EQ(queue.stats().skipped, 1U);
}

// A judge that took a headerless claim to Pending and died before deciding leaves Pending behind:
// the next judge goes on from there instead of waiting for it.
TEST_F(MpmcQueueTest, PendingLeftByADeadJudgeIsFinishedByTheNext) {
    MpmcQueue queue = make("dead-judge", 4);
    queue.set_headerless_claim_timeout(0);
    layout::atomic(shared_header(queue).enqueue_pos).fetch_add(1, std::memory_order_relaxed);  // claims 0, dies
    layout::atomic(sequence(queue, 0)).store(0 | kMpmcPending, std::memory_order_relaxed);      // a judge's [T1], dies
    ASSERT_TRUE(queue.try_push(bytes_of(Item{5})));
    Item out = 0;
    bool got = false;
    for (int call = 0; call < 1000 && !got; ++call) got = queue.try_pop(bytes_of(out));
    ASSERT_TRUE(got);
    EXPECT_EQ(out, 5U);
    EXPECT_FALSE(queue.corrupt());
}

// A consumer killed after its claim (the dequeue CAS) and its name, before it releases the slot:
// the push one lap later finds it dead and takes the slot back (the item it held is lost and
// counted); the other items arrive as before.
TEST_F(MpmcQueueTest, ConsumerKilledHoldingASlotIsFoundDeadAndTheSlotTakenBack) {
    MpmcQueue queue = make("dead-popper", 4);
    queue.set_headerless_claim_timeout(3'600'000'000'000ULL);
    for (Item i = 0; i < 4; ++i) ASSERT_TRUE(queue.try_push(bytes_of(i)));
    layout::atomic(shared_header(queue).dequeue_pos).fetch_add(1, std::memory_order_relaxed);  // claims 0
    name_claimer(queue, 0, 2, dead_pid(), 0);                                                     // names itself, dies
    Item out = 0;
    for (Item i = 1; i < 4; ++i) {
        ASSERT_TRUE(queue.try_pop(bytes_of(out)));
        EXPECT_EQ(out, i);
    }
    bool pushed = false;
    for (int call = 0; call < 1000 && !pushed; ++call) pushed = queue.try_push(bytes_of(Item{9}));
    ASSERT_TRUE(pushed);
    EXPECT_EQ(queue.stats().reclaimed, 1U);
    ASSERT_TRUE(queue.try_pop(bytes_of(out)));
    EXPECT_EQ(out, 9U);
    EXPECT_FALSE(queue.corrupt());
}

// The consumer's headerless window: a dequeue CAS and nothing more. Pushes take the slot back
// after the timeout.
TEST_F(MpmcQueueTest, ConsumerKilledBeforeNamingItselfIsPassedAfterTheTimeout) {
    MpmcQueue queue = make("headerless-popper", 2);
    queue.set_headerless_claim_timeout(50'000'000);
    for (Item i = 0; i < 2; ++i) ASSERT_TRUE(queue.try_push(bytes_of(i)));
    layout::atomic(shared_header(queue).dequeue_pos).fetch_add(1, std::memory_order_relaxed);  // claims 0, dies
    Item out = 0;
    ASSERT_TRUE(queue.try_pop(bytes_of(out)));
    EXPECT_EQ(out, 1U);
    const auto start = std::chrono::steady_clock::now();
    bool pushed = false;
    while (!pushed && std::chrono::steady_clock::now() - start < std::chrono::seconds(5))
        pushed = queue.try_push(bytes_of(Item{2}));
    ASSERT_TRUE(pushed);
    EXPECT_EQ(queue.stats().reclaimed, 1U);
    ASSERT_TRUE(queue.try_pop(bytes_of(out)));
    EXPECT_EQ(out, 2U);
}

// Two producers and two consumers on one MpmcQueue: every item arrives exactly once, and each
// consumer sees each producer's items in the order they were pushed.
TEST_F(MpmcQueueTest, TwoProducersAndTwoConsumersLoseAndDuplicateNothing) {
    constexpr std::uint32_t kProducers = 2, kConsumers = 2;
    constexpr std::uint64_t kPerProducer = 100'000;
    struct Tagged {
        std::uint64_t producer;
        std::uint64_t sequence;
    };
    auto made = MpmcQueue::create(*linux_guest, "stress", sizeof(Tagged), 256, "rt");
    ASSERT_TRUE(made) << made.error().message;
    MpmcQueue& queue = *made;  // one object, shared by all threads (one mapping: TSan sees every slot)

    std::atomic<std::uint64_t> consumed{0};
    std::atomic<bool> failed{false};
    std::vector<std::vector<std::uint8_t>> seen(kProducers, std::vector<std::uint8_t>(kPerProducer, 0));
    std::vector<std::vector<Tagged>> received(kConsumers);

    std::vector<std::thread> threads;
    for (std::uint32_t p = 0; p < kProducers; ++p) {
        threads.emplace_back([&, p] {
            for (std::uint64_t i = 0; i < kPerProducer && !failed.load(std::memory_order_relaxed);) {
                const Tagged item{p, i};
                if (queue.try_push(std::as_bytes(std::span(&item, 1)))) ++i;
                else std::this_thread::yield();
            }
        });
    }
    for (std::uint32_t c = 0; c < kConsumers; ++c) {
        threads.emplace_back([&, c] {
            received[c].reserve(kProducers * kPerProducer);
            // relaxed: counts and flags only end the loops; the items travel through the queue.
            while (consumed.load(std::memory_order_relaxed) < kProducers * kPerProducer &&
                   !failed.load(std::memory_order_relaxed)) {
                Tagged item{};
                if (queue.try_pop(std::as_writable_bytes(std::span(&item, 1)))) {
                    received[c].push_back(item);
                    consumed.fetch_add(1, std::memory_order_relaxed);
                } else {
                    if (queue.corrupt()) failed.store(true, std::memory_order_relaxed);
                    std::this_thread::yield();
                }
            }
        });
    }
    for (auto& thread : threads) thread.join();
    ASSERT_FALSE(failed.load()) << queue.health().error().message;

    std::uint64_t total = 0;
    for (std::uint32_t c = 0; c < kConsumers; ++c) {
        std::vector<std::uint64_t> next(kProducers, 0);  // lowest sequence still allowed, per producer
        for (const Tagged& item : received[c]) {
            ASSERT_LT(item.producer, kProducers);
            ASSERT_LT(item.sequence, kPerProducer);
            ASSERT_GE(item.sequence, next[item.producer])
                << "consumer " << c << " got producer " << item.producer << "'s items out of order";
            next[item.producer] = item.sequence + 1;
            ASSERT_EQ(seen[item.producer][item.sequence]++, 0) << "duplicate " << item.producer << ":" << item.sequence;
        }
        total += received[c].size();
    }
    EXPECT_EQ(total, kProducers * kPerProducer);
    for (std::uint32_t p = 0; p < kProducers; ++p)
        EXPECT_EQ(std::count(seen[p].begin(), seen[p].end(), 1), static_cast<std::ptrdiff_t>(kPerProducer));
    EXPECT_EQ(queue.size_approx(), 0U);
    EXPECT_FALSE(queue.corrupt());
}

}  // namespace
}  // namespace nk::ipc
