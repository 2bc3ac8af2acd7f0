#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "nk/ipc/message_ring.hpp"
#include "test_platform.hpp"

namespace nk::ipc {
namespace {

std::span<const std::byte> as_bytes(const std::vector<std::uint8_t>& v) { return std::as_bytes(std::span(v)); }

// Payload `seq` of `length` bytes: recognisable content so that a torn or misplaced record shows.
std::vector<std::uint8_t> pattern(std::uint64_t seq, std::size_t length) {
    std::vector<std::uint8_t> v(length);
    for (std::size_t i = 0; i < length; ++i) v[i] = static_cast<std::uint8_t>(seq * 131 + i * 7 + 1);
    return v;
}

bool matches(std::span<const std::byte> record, std::uint64_t seq) {
    const auto want = pattern(seq, record.size());
    return std::equal(record.begin(), record.end(), as_bytes(want).begin());
}

// Loops shrink under sanitizers (test::kSanitized).
using test::kSanitized;
constexpr std::uint64_t scaled(std::uint64_t n) { return kSanitized ? n / 10 : n; }

class MessageRingTest : public test::SmallPlatformTest {
protected:
    MessageRing make(std::string_view name, std::uint32_t capacity, std::uint32_t max_record) {
        auto ring = MessageRing::create(*linux_guest, name, capacity, max_record, "rt");
        EXPECT_TRUE(ring) << ring.error().message;
        return std::move(*ring);
    }
    MessageRingHeader& shared_header(const MessageRing& ring) { return *ring.view().header(); }
    std::byte* buffer(const MessageRing& ring) {
        return reinterpret_cast<std::byte*>(ring.view().header()) + sizeof(MessageRingHeader);
    }
};

TEST_F(MessageRingTest, NewlyCreatedRingIsEmpty) {
    MessageRing ring = make("fresh", 4096, 256);
    EXPECT_EQ(ring.capacity(), 4096U);
    EXPECT_EQ(ring.max_record_size(), 256U);
    EXPECT_EQ(ring.area_label(), "link.linux-rt");
    auto rx = ring.consumer();
    ASSERT_TRUE(rx) << rx.error().message;
    EXPECT_FALSE(rx->peek());
    std::array<std::byte, 16> out{};
    EXPECT_EQ(rx->try_read(out).status, ReadStatus::Empty);
    EXPECT_TRUE(rx->health());
    const MessageRingHeader& header = shared_header(ring);
    EXPECT_EQ(header.magic, kMessageRingMagic);
    EXPECT_EQ(header.layout_version, kMessageRingLayoutVersion);
    EXPECT_EQ(header.head, 0U);
    EXPECT_EQ(header.tail, 0U);
    EXPECT_EQ(ring.stats().used_bytes, 0U);
}

TEST_F(MessageRingTest, OpenedByThePeerSeesTheSameRecords) {
    MessageRing mine = make("shared", 4096, 512);
    auto theirs = MessageRing::open(*rt_guest, "shared");
    ASSERT_TRUE(theirs) << theirs.error().message;
    EXPECT_EQ(theirs->capacity(), 4096U);
    EXPECT_EQ(theirs->max_record_size(), 512U);
    auto tx = mine.producer();
    auto rx = theirs->consumer();
    ASSERT_TRUE(tx && rx);
    const auto a = pattern(1, 100), b = pattern(2, 7);
    ASSERT_EQ(tx->try_write(as_bytes(a)), WriteStatus::Ok);
    ASSERT_EQ(tx->try_write(as_bytes(b)), WriteStatus::Ok);
    std::vector<std::byte> out(512);
    auto r = rx->try_read(out);
    ASSERT_EQ(r.status, ReadStatus::Ok);
    EXPECT_EQ(r.length, 100U);
    EXPECT_TRUE(matches(std::span(out).first(r.length), 1));
    r = rx->try_read(out);
    ASSERT_EQ(r.status, ReadStatus::Ok);
    EXPECT_EQ(r.length, 7U);
    EXPECT_TRUE(matches(std::span(out).first(r.length), 2));
    EXPECT_EQ(rx->try_read(out).status, ReadStatus::Empty);
    EXPECT_EQ(theirs->stats().records, 2U);
    EXPECT_EQ(theirs->stats().bytes, 107U);
}

TEST_F(MessageRingTest, CreateRefusesBadShapes) {
    EXPECT_FALSE(MessageRing::create(*linux_guest, "a", 1000, 64, "rt"));    // not a power of two
    EXPECT_FALSE(MessageRing::create(*linux_guest, "b", 128, 16, "rt"));     // below the minimum
    EXPECT_FALSE(MessageRing::create(*linux_guest, "c", 1024, 0, "rt"));     // no payload
    auto big = MessageRing::create(*linux_guest, "d", 1024, 512, "rt");      // 512 + 32 > 1024 / 2
    ASSERT_FALSE(big);
    EXPECT_EQ(big.error().code, make_error_code(RegionError::InvalidArgument));
    EXPECT_NE(big.error().message.find("512"), std::string::npos) << big.error().message;
    EXPECT_TRUE(MessageRing::create(*linux_guest, "e", 1024, 480, "rt"));
    EXPECT_FALSE(MessageRing::open(*linux_guest, "nothing-here"));
}

TEST_F(MessageRingTest, RecordLargerThanTheMaximumIsAClearError) {
    MessageRing ring = make("max", 4096, 100);
    auto tx = ring.producer();
    ASSERT_TRUE(tx);
    EXPECT_EQ(tx->reserve(101).status, WriteStatus::TooLarge);
    const Error e = tx->error_of(WriteStatus::TooLarge, 101);
    EXPECT_EQ(e.code, make_error_code(RegionError::InvalidArgument));
    EXPECT_NE(e.message.find("101"), std::string::npos) << e.message;
    EXPECT_NE(e.message.find("100"), std::string::npos) << e.message;
    EXPECT_TRUE(tx->reserve(100));
    EXPECT_TRUE(tx->commit());
    EXPECT_FALSE(tx->corrupt());
}

TEST_F(MessageRingTest, FullRingRefusesWithBackPressureUntilTheConsumerMakesRoom) {
    MessageRing ring = make("full", 1024, 200);
    auto tx = ring.producer();
    auto rx = ring.consumer();
    ASSERT_TRUE(tx && rx);
    // 96-byte strides: 10 records fill 960 of 1024 bytes; the 11th does not fit.
    const auto payload = pattern(0, 64);
    int written = 0;
    while (tx->try_write(as_bytes(payload)) == WriteStatus::Ok) ++written;
    EXPECT_EQ(written, 10);
    EXPECT_EQ(tx->try_write(as_bytes(payload)), WriteStatus::Full);
    EXPECT_EQ(ring.stats().full, 2U);
    EXPECT_EQ(tx->error_of(WriteStatus::Full, 64).code, make_error_code(RegionError::NoSpace));
    std::vector<std::byte> out(200);
    ASSERT_EQ(rx->try_read(out).status, ReadStatus::Ok);
    EXPECT_EQ(tx->try_write(as_bytes(payload)), WriteStatus::Ok);
    EXPECT_FALSE(tx->corrupt());
}

TEST_F(MessageRingTest, PeekReturnsTheRecordInPlaceUntilRelease) {
    MessageRing ring = make("peek", 4096, 256);
    auto tx = ring.producer();
    auto rx = ring.consumer();
    ASSERT_TRUE(tx && rx);
    auto slot = tx->reserve(40);
    ASSERT_TRUE(slot);
    ASSERT_EQ(slot.data.size(), 40U);
    const auto content = pattern(9, 40);
    std::memcpy(slot.data.data(), content.data(), 40);
    EXPECT_FALSE(rx->peek()) << "a reserved record must not be visible";
    EXPECT_EQ(tx->reserve(8).status, WriteStatus::Pending);
    ASSERT_TRUE(tx->commit());
    EXPECT_FALSE(tx->commit());
    auto first = rx->peek();
    ASSERT_TRUE(first);
    EXPECT_EQ(first->data(), slot.data.data()) << "peek must not copy";
    EXPECT_TRUE(matches(*first, 9));
    auto again = rx->peek();
    ASSERT_TRUE(again);
    EXPECT_EQ(again->data(), first->data());
    rx->release();
    EXPECT_FALSE(rx->peek());
    EXPECT_EQ(ring.stats().records, 1U);
}

TEST_F(MessageRingTest, EmptyRecordAndAbandonedReservationAreHandled) {
    MessageRing ring = make("zero", 4096, 256);
    auto tx = ring.producer();
    auto rx = ring.consumer();
    ASSERT_TRUE(tx && rx);
    ASSERT_TRUE(tx->reserve(50));
    EXPECT_TRUE(tx->abandon());
    ASSERT_EQ(tx->try_write({}), WriteStatus::Ok);
    auto record = rx->peek();
    ASSERT_TRUE(record);
    EXPECT_EQ(record->size(), 0U);
    rx->release();
    EXPECT_EQ(ring.stats().abandoned, 1U);
    EXPECT_EQ(ring.stats().records, 1U);
}

TEST_F(MessageRingTest, BufferTooSmallLeavesTheRecordInTheRing) {
    MessageRing ring = make("small", 4096, 256);
    auto tx = ring.producer();
    auto rx = ring.consumer();
    ASSERT_TRUE(tx && rx);
    ASSERT_EQ(tx->try_write(as_bytes(pattern(3, 100))), WriteStatus::Ok);
    std::vector<std::byte> tiny(10), enough(100);
    auto r = rx->try_read(tiny);
    EXPECT_EQ(r.status, ReadStatus::BufferTooSmall);
    EXPECT_EQ(r.length, 100U);
    r = rx->try_read(enough);
    ASSERT_EQ(r.status, ReadStatus::Ok);
    EXPECT_TRUE(matches(enough, 3));
}

TEST_F(MessageRingTest, WrapAroundUsesPaddingAndRecordsNeverWrap) {
    MessageRing ring = make("wrap", 1024, 400);
    auto tx = ring.producer();
    auto rx = ring.consumer();
    ASSERT_TRUE(tx && rx);
    std::vector<std::byte> out(400);
    // 300-byte records take 352 bytes: the third starts at 704 and needs 352 > 320 left, so it
    // pads to the end and starts at 0.
    std::uint64_t seq = 0;
    for (int round = 0; round < 50; ++round) {
        for (int i = 0; i < 2; ++i) ASSERT_EQ(tx->try_write(as_bytes(pattern(seq + i, 300))), WriteStatus::Ok);
        for (int i = 0; i < 2; ++i) {
            auto record = rx->peek();
            ASSERT_TRUE(record) << "round " << round;
            ASSERT_EQ(record->size(), 300U);
            const auto start = static_cast<std::size_t>(record->data() - buffer(ring));
            EXPECT_LE(start + record->size(), 1024U) << "a record wrapped";
            EXPECT_TRUE(matches(*record, seq++));
            rx->release();
        }
    }
    EXPECT_EQ(ring.stats().records, 100U);
    EXPECT_TRUE(rx->health());
    EXPECT_TRUE(tx->health());
}

TEST_F(MessageRingTest, RecordsOfEverySizeUpToTheMaximumRoundTrip) {
    constexpr std::uint32_t kMax = 1000;
    MessageRing ring = make("sizes", 4096, kMax);
    auto tx = ring.producer();
    auto rx = ring.consumer();
    ASSERT_TRUE(tx && rx);
    std::vector<std::byte> out(kMax);
    for (std::uint32_t size = 1; size <= kMax; ++size) {
        ASSERT_EQ(tx->try_write(as_bytes(pattern(size, size))), WriteStatus::Ok) << size;
        if (size % 3 == 0) continue;  // leave some behind so that the ring is rarely empty
        while (true) {
            auto r = rx->try_read(out);
            if (r.status == ReadStatus::Empty) break;
            ASSERT_EQ(r.status, ReadStatus::Ok);
        }
    }
    // Check the contents on a second pass: one record at a time, each size again.
    for (std::uint32_t size = 1; size <= kMax; ++size) {
        ASSERT_EQ(tx->try_write(as_bytes(pattern(size, size))), WriteStatus::Ok) << size;
        auto r = rx->try_read(out);
        ASSERT_EQ(r.status, ReadStatus::Ok) << size;
        ASSERT_EQ(r.length, size);
        ASSERT_TRUE(matches(std::span(out).first(size), size)) << size;
    }
    EXPECT_TRUE(rx->health());
}

// Each producer thread writes its id, a sequence number and a checksum; the consumer checks that
// each producer's records arrive complete, once, in order.
struct Stamped {
    std::uint32_t producer;
    std::uint32_t length;
    std::uint64_t seq;
};

std::uint64_t checksum(std::span<const std::byte> bytes) {
    std::uint64_t h = 1469598103934665603ULL;
    for (std::byte b : bytes) h = (h ^ static_cast<std::uint8_t>(b)) * 1099511628211ULL;
    return h;
}

void write_stamped(MessageRingProducer& tx, std::uint32_t producer, std::uint64_t seq, std::size_t length,
                   bool abandon_first = false) {
    while (abandon_first) {  // a reservation given up first: the consumer must skip it unseen
        auto slot = tx.reserve(length / 2);
        if (slot.status == WriteStatus::Full) {
            std::this_thread::yield();
            continue;
        }
        ASSERT_TRUE(slot) << to_string(slot.status);
        std::memset(slot.data.data(), 0xab, slot.data.size());
        ASSERT_TRUE(tx.abandon());
        break;
    }
    while (true) {
        auto slot = tx.reserve(length);
        if (slot.status == WriteStatus::Full) {
            std::this_thread::yield();
            continue;
        }
        ASSERT_TRUE(slot) << to_string(slot.status);
        const Stamped s{producer, static_cast<std::uint32_t>(length), seq};
        std::memcpy(slot.data.data(), &s, sizeof s);
        for (std::size_t i = sizeof s; i + 8 < length; ++i) slot.data[i] = static_cast<std::byte>(seq + i);
        const std::uint64_t sum = checksum(slot.data.first(length - 8));
        std::memcpy(slot.data.data() + length - 8, &sum, 8);
        ASSERT_TRUE(tx.commit());
        return;
    }
}

// Consumes until `expected` records per producer have arrived; checks order and content.
void consume_stamped(MessageRingConsumer& rx, std::uint32_t producers, std::uint64_t expected) {
    std::vector<std::uint64_t> next(producers, 0);
    std::uint64_t remaining = expected * producers;
    while (remaining > 0) {
        auto record = rx.peek();
        if (!record) {
            ASSERT_FALSE(rx.corrupt()) << rx.health().error().message;
            std::this_thread::yield();
            continue;
        }
        ASSERT_GE(record->size(), sizeof(Stamped) + 8);
        Stamped s{};
        std::memcpy(&s, record->data(), sizeof s);
        ASSERT_LT(s.producer, producers);
        ASSERT_EQ(s.length, record->size());
        ASSERT_EQ(s.seq, next[s.producer]) << "producer " << s.producer << " lost, repeated or reordered";
        std::uint64_t sum = 0;
        std::memcpy(&sum, record->data() + record->size() - 8, 8);
        ASSERT_EQ(sum, checksum(record->first(record->size() - 8))) << "torn record";
        ++next[s.producer];
        --remaining;
        rx.release();
    }
}

std::size_t length_for(std::uint64_t seq, std::uint32_t producer) {
    return sizeof(Stamped) + 8 + static_cast<std::size_t>((seq * 37 + producer * 11) % 400);
}

TEST_F(MessageRingTest, ManyProducerThreadsOneConsumerLoseNothing) {
    MessageRing ring = make("threads", 8192, 1024);
    constexpr std::uint32_t kProducers = 4;
    const std::uint64_t per = scaled(100000);
    std::vector<std::thread> threads;
    for (std::uint32_t p = 0; p < kProducers; ++p) {
        threads.emplace_back([&, p] {
            auto tx = ring.producer();
            ASSERT_TRUE(tx);
            for (std::uint64_t seq = 0; seq < per; ++seq)
                write_stamped(*tx, p, seq, length_for(seq, p), seq % 17 == 5);
        });
    }
    auto rx = ring.consumer();
    ASSERT_TRUE(rx);
    consume_stamped(*rx, kProducers, per);
    for (auto& t : threads) t.join();
    EXPECT_FALSE(rx->peek());
    EXPECT_EQ(ring.stats().records, kProducers * per);
    std::uint64_t abandons = 0;
    for (std::uint64_t seq = 0; seq < per; ++seq) abandons += seq % 17 == 5 ? 1 : 0;
    EXPECT_EQ(ring.stats().abandoned, kProducers * abandons);
}


// ---- processes ------------------------------------------------------------------------------

// Runs `body` in a forked child that shares the test's mappings; the child's exit status says
// whether its assertions held.
template <class Body>
pid_t fork_child(Body body) {
    const pid_t pid = ::fork();
    if (pid == 0) {
        body();
        ::_exit(::testing::Test::HasFailure() ? 1 : 0);
    }
    return pid;
}

int exit_code_of(pid_t pid) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

TEST_F(MessageRingTest, ManyProducerProcessesOneConsumerLoseNothing) {
    MessageRing ring = make("processes", 16384, 1024);
    constexpr std::uint32_t kProducers = 3;
    const std::uint64_t per = scaled(50000);
    std::vector<pid_t> children;
    for (std::uint32_t p = 0; p < kProducers; ++p) {
        children.push_back(fork_child([&, p] {
            auto theirs = MessageRing::open(*linux_guest, "processes");
            ASSERT_TRUE(theirs);
            auto tx = theirs->producer();
            ASSERT_TRUE(tx);
            for (std::uint64_t seq = 0; seq < per; ++seq) write_stamped(*tx, p, seq, length_for(seq, p));
        }));
        ASSERT_GT(children.back(), 0);
    }
    auto rx = MessageRing::open(*rt_guest, "processes")->consumer();
    ASSERT_TRUE(rx);
    consume_stamped(*rx, kProducers, per);
    for (pid_t child : children) EXPECT_EQ(exit_code_of(child), 0);
    EXPECT_FALSE(rx->peek());
    EXPECT_EQ(ring.stats().abandoned, 0U);
}

// A child commits one record, reserves a second and writes half of it, tells the parent, and
// waits to be killed.
pid_t spawn_half_writer(const MessageRing& ring, int ready_fd) {
    return fork_child([&] {
        auto tx = ring.producer();
        ASSERT_TRUE(tx);
        ASSERT_EQ(tx->try_write(as_bytes(pattern(1, 64))), WriteStatus::Ok);
        auto slot = tx->reserve(200);
        ASSERT_TRUE(slot);
        std::memset(slot.data.data(), 0x5a, 100);
        const char ready = 'r';
        ASSERT_EQ(::write(ready_fd, &ready, 1), 1);
        while (true) ::pause();
    });
}

void wait_ready(int fd) {
    char c = 0;
    ASSERT_EQ(::read(fd, &c, 1), 1);
}

TEST_F(MessageRingTest, WriterKilledBetweenReserveAndCommitIsSkippedAndCounted) {
    MessageRing ring = make("killed", 4096, 512);
    auto rx = MessageRing::open(*rt_guest, "killed")->consumer();
    ASSERT_TRUE(rx);
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    const pid_t child = spawn_half_writer(ring, fds[1]);
    ASSERT_GT(child, 0);
    wait_ready(fds[0]);

    auto first = rx->peek();
    ASSERT_TRUE(first);
    EXPECT_TRUE(matches(*first, 1));
    rx->release();
    // The writer lives: its reservation is "not yet", however often the consumer looks.
    for (int i = 0; i < 500; ++i) ASSERT_FALSE(rx->peek());
    EXPECT_EQ(rx->stats().abandoned, 0U);

    ASSERT_EQ(::kill(child, SIGKILL), 0);
    EXPECT_EQ(exit_code_of(child), 128 + SIGKILL);
    auto tx = ring.producer();
    ASSERT_TRUE(tx);
    ASSERT_EQ(tx->try_write(as_bytes(pattern(2, 30))), WriteStatus::Ok);
    std::optional<std::span<const std::byte>> next;
    for (int i = 0; i < 1000 && !next; ++i) next = rx->peek();
    ASSERT_TRUE(next) << "the dead writer's record still blocks the ring";
    EXPECT_EQ(next->size(), 30U);
    EXPECT_TRUE(matches(*next, 2));
    rx->release();
    EXPECT_EQ(ring.stats().abandoned, 1U);
    EXPECT_EQ(ring.stats().records, 2U);
    EXPECT_TRUE(rx->health());
    ::close(fds[0]);
    ::close(fds[1]);
}

TEST_F(MessageRingTest, KilledWriterNotYetReapedIsAlsoSkipped) {
    MessageRing ring = make("zombie", 4096, 512);
    auto rx = ring.consumer();
    ASSERT_TRUE(rx);
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    const pid_t child = spawn_half_writer(ring, fds[1]);
    ASSERT_GT(child, 0);
    wait_ready(fds[0]);
    ASSERT_EQ(::kill(child, SIGKILL), 0);
    // Not reaped yet: kill(pid, 0) still succeeds; the consumer must look at the process state.
    for (int i = 0; i < 2000 && ring.stats().abandoned == 0; ++i) {
        if (rx->peek()) rx->release();
        std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
    EXPECT_EQ(ring.stats().abandoned, 1U);
    EXPECT_EQ(ring.stats().records, 1U);
    EXPECT_EQ(exit_code_of(child), 128 + SIGKILL);
    ::close(fds[0]);
    ::close(fds[1]);
}

MessageRecordHeader& pending_record(std::span<std::byte> reserved) {
    return *reinterpret_cast<MessageRecordHeader*>(reserved.data() - sizeof(MessageRecordHeader));
}

TEST_F(MessageRingTest, WriterDeclaredDeadLearnsItAtCommit) {
    MessageRing ring = make("late", 4096, 512);
    auto tx = ring.producer();
    auto rx = ring.consumer();
    ASSERT_TRUE(tx && rx);
    // A pid that is free: a child that has exited and been reaped.
    const pid_t gone = fork_child([] {});
    ASSERT_EQ(exit_code_of(gone), 0);
    auto slot = tx->reserve(64);
    ASSERT_TRUE(slot);
    pending_record(slot.data).pid = static_cast<std::uint32_t>(gone);  // as if the writer were that process
    for (int i = 0; i < 100 && ring.stats().abandoned == 0; ++i) EXPECT_FALSE(rx->peek());
    EXPECT_EQ(ring.stats().abandoned, 1U);
    EXPECT_FALSE(tx->commit()) << "a record the consumer skipped must not be committed";
    ASSERT_EQ(tx->try_write(as_bytes(pattern(5, 10))), WriteStatus::Ok);
    auto record = rx->peek();
    ASSERT_TRUE(record);
    EXPECT_TRUE(matches(*record, 5));
}

TEST_F(MessageRingTest, ReusedPidIsToldApartByItsStartTime) {
    MessageRing ring = make("reused", 4096, 512);
    auto tx = ring.producer();
    auto rx = ring.consumer();
    ASSERT_TRUE(tx && rx);
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    // A live process that is not the writer: the record claims its pid with another start time,
    // as when the writer died and the pid went to a new process.
    const pid_t other = fork_child([&] {
        const char ready = 'r';
        ASSERT_EQ(::write(fds[1], &ready, 1), 1);
        while (true) ::pause();
    });
    ASSERT_GT(other, 0);
    wait_ready(fds[0]);
    auto slot = tx->reserve(64);
    ASSERT_TRUE(slot);
    MessageRecordHeader& record = pending_record(slot.data);
    record.pid = static_cast<std::uint32_t>(other);
    const std::uint64_t real_start = record.start_time;
    ASSERT_NE(real_start, 0U) << "the writer's start time was not recorded";
    // Same pid, same start time as the live process: alive.
    std::uint64_t other_start = 0;
    {
        std::FILE* f = std::fopen(("/proc/" + std::to_string(other) + "/stat").c_str(), "r");
        ASSERT_NE(f, nullptr);
        char buffer[1024] = {};
        ASSERT_GT(std::fread(buffer, 1, sizeof buffer - 1, f), 0U);
        std::fclose(f);
        const char* p = std::strrchr(buffer, ')') + 2;
        for (int field = 3; field < 22; ++field) p = std::strchr(p, ' ') + 1;
        other_start = std::strtoull(p, nullptr, 10);
    }
    record.start_time = other_start;
    for (int i = 0; i < 300; ++i) ASSERT_FALSE(rx->peek());
    EXPECT_EQ(ring.stats().abandoned, 0U);
    record.start_time = other_start + 1;
    for (int i = 0; i < 300 && ring.stats().abandoned == 0; ++i) EXPECT_FALSE(rx->peek());
    EXPECT_EQ(ring.stats().abandoned, 1U);
    EXPECT_FALSE(tx->commit());
    ASSERT_EQ(::kill(other, SIGKILL), 0);
    EXPECT_EQ(exit_code_of(other), 128 + SIGKILL);
    ::close(fds[0]);
    ::close(fds[1]);
}

// A writer killed right after its head CAS leaves claimed bytes with no header at all. The
// consumer skips them once they outlast the timeout and the next record marks where they end.
TEST_F(MessageRingTest, ClaimWithoutHeaderIsSkippedOnceTheNextRecordMarksItsEnd) {
    MessageRing ring = make("headerless", 4096, 512);
    auto tx = ring.producer();
    auto rx = ring.consumer();
    ASSERT_TRUE(tx && rx);
    ASSERT_EQ(tx->try_write(as_bytes(pattern(1, 20))), WriteStatus::Ok);
    // The dead writer's claim: head moved on by 160 bytes, nothing written there.
    layout::atomic(shared_header(ring).head).fetch_add(160, std::memory_order_relaxed);
    auto first = rx->peek();
    ASSERT_TRUE(first);
    EXPECT_TRUE(matches(*first, 1));
    rx->release();
    const auto start = std::chrono::steady_clock::now();
    auto waited = [&] { return std::chrono::steady_clock::now() - start; };
    // Nothing after the claim yet: however long it lasts, the consumer cannot know its end.
    while (waited() < std::chrono::nanoseconds(kHeaderlessClaimTimeoutNs + 200'000'000)) {
        ASSERT_FALSE(rx->peek());
        std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    EXPECT_EQ(ring.stats().abandoned, 0U);
    ASSERT_EQ(tx->try_write(as_bytes(pattern(2, 40))), WriteStatus::Ok);
    std::optional<std::span<const std::byte>> next;
    for (int i = 0; i < 1000 && !next; ++i) next = rx->peek();
    ASSERT_TRUE(next) << "the headerless claim still blocks the ring";
    EXPECT_TRUE(matches(*next, 2));
    rx->release();
    EXPECT_EQ(ring.stats().abandoned, 1U);
    EXPECT_TRUE(rx->health());
}

TEST_F(MessageRingTest, ClaimWithoutHeaderIsWaitedForUntilTheTimeout) {
    MessageRing ring = make("slowclaim", 4096, 512);
    auto tx = ring.producer();
    auto rx = ring.consumer();
    ASSERT_TRUE(tx && rx);
    layout::atomic(shared_header(ring).head).fetch_add(64, std::memory_order_relaxed);
    ASSERT_EQ(tx->try_write(as_bytes(pattern(3, 40))), WriteStatus::Ok);
    // Well before the timeout the claim is a slow writer, not a dead one.
    for (int i = 0; i < 1000; ++i) ASSERT_FALSE(rx->peek());
    EXPECT_EQ(ring.stats().abandoned, 0U);
    std::this_thread::sleep_for(std::chrono::nanoseconds(kHeaderlessClaimTimeoutNs + 50'000'000));
    std::optional<std::span<const std::byte>> next;
    for (int i = 0; i < 1000 && !next; ++i) next = rx->peek();
    ASSERT_TRUE(next);
    EXPECT_TRUE(matches(*next, 3));
    EXPECT_EQ(ring.stats().abandoned, 1U);
}

TEST_F(MessageRingTest, WriterInAnotherPidNamespaceIsJudgedByItsGuest) {
    MessageRing ring = make("guestdown", 4096, 512);
    auto theirs = MessageRing::open(*rt_guest, "guestdown");
    ASSERT_TRUE(theirs);
    auto tx = ring.producer();  // guest linux (1)
    auto rx = theirs->consumer();
    ASSERT_TRUE(tx && rx);
    auto slot = tx->reserve(64);
    ASSERT_TRUE(slot);
    pending_record(slot.data).pid_ns = 1;  // as if written from another pid namespace
    // The guest is up, same incarnation: the record is only "not yet".
    for (int i = 0; i < 300; ++i) ASSERT_FALSE(rx->peek());
    EXPECT_EQ(theirs->stats().abandoned, 0U);
    creator->set_guest_state(1, layout::GuestState::Down, false);
    for (int i = 0; i < 300 && theirs->stats().abandoned == 0; ++i) EXPECT_FALSE(rx->peek());
    EXPECT_EQ(theirs->stats().abandoned, 1U);
    EXPECT_FALSE(tx->commit());
}

TEST_F(MessageRingTest, WriterOfAnEarlierIncarnationIsSkipped) {
    MessageRing ring = make("incarnation", 4096, 512);
    auto tx = ring.producer();
    auto rx = MessageRing::open(*rt_guest, "incarnation")->consumer();
    ASSERT_TRUE(tx && rx);
    auto slot = tx->reserve(64);
    ASSERT_TRUE(slot);
    pending_record(slot.data).pid_ns = 1;
    creator->set_guest_state(1, layout::GuestState::Running, true);  // restarted: incarnation moves on
    for (int i = 0; i < 300 && ring.stats().abandoned == 0; ++i) EXPECT_FALSE(rx->peek());
    EXPECT_EQ(ring.stats().abandoned, 1U);
}

// ---- corruption -----------------------------------------------------------------------------

class MessageRingCorruptionTest : public MessageRingTest {
protected:
    void SetUp() override {
        MessageRingTest::SetUp();
        ring.emplace(make("scribbled", 1024, 200));
        auto p = ring->producer();
        auto c = ring->consumer();
        ASSERT_TRUE(p && c);
        tx.emplace(std::move(*p));
        rx.emplace(std::move(*c));
    }
    void expect_consumer_stopped(const char* what) {
        EXPECT_FALSE(rx->peek()) << what;
        EXPECT_TRUE(rx->corrupt()) << what;
        auto health = rx->health();
        ASSERT_FALSE(health) << what;
        EXPECT_EQ(health.error().code, make_error_code(RegionError::Corrupt));
        EXPECT_NE(health.error().message.find("scribbled"), std::string::npos) << health.error().message;
        std::array<std::byte, 8> out{};
        EXPECT_EQ(rx->try_read(out).status, ReadStatus::Stopped);
    }
    MessageRecordHeader& first_record() { return *reinterpret_cast<MessageRecordHeader*>(buffer(*ring)); }

    std::optional<MessageRing> ring;
    std::optional<MessageRingProducer> tx;
    std::optional<MessageRingConsumer> rx;
};

TEST_F(MessageRingCorruptionTest, HeadBeyondCapacityStopsTheConsumer) {
    layout::atomic(shared_header(*ring).head).store(4096, std::memory_order_relaxed);
    expect_consumer_stopped("head beyond capacity");
}

TEST_F(MessageRingCorruptionTest, UnalignedHeadStopsBothSides) {
    layout::atomic(shared_header(*ring).head).store(33, std::memory_order_relaxed);
    expect_consumer_stopped("unaligned head");
    EXPECT_EQ(tx->reserve(10).status, WriteStatus::Stopped);
    EXPECT_FALSE(tx->health());
    EXPECT_EQ(tx->error_of(WriteStatus::Stopped, 10).code, make_error_code(RegionError::Corrupt));
}

TEST_F(MessageRingCorruptionTest, HeadMovingBackwardsStopsTheConsumer) {
    ASSERT_EQ(tx->try_write(as_bytes(pattern(0, 100))), WriteStatus::Ok);
    ASSERT_EQ(tx->try_write(as_bytes(pattern(1, 100))), WriteStatus::Ok);
    ASSERT_TRUE(rx->peek());
    rx->release();
    ASSERT_TRUE(rx->peek());
    rx->release();
    layout::atomic(shared_header(*ring).head).store(128, std::memory_order_relaxed);
    expect_consumer_stopped("head behind tail");
}

TEST_F(MessageRingCorruptionTest, TailBeyondHeadStopsTheProducer) {
    const auto payload = pattern(0, 100);
    while (tx->try_write(as_bytes(payload)) == WriteStatus::Ok) {
    }
    layout::atomic(shared_header(*ring).tail).store(1ULL << 40, std::memory_order_relaxed);
    EXPECT_EQ(tx->try_write(as_bytes(payload)), WriteStatus::Stopped);
    EXPECT_TRUE(tx->corrupt());
    EXPECT_FALSE(tx->health());
}

TEST_F(MessageRingCorruptionTest, ProducerRefusesACorruptTailAtStart) {
    layout::atomic(shared_header(*ring).tail).store(7, std::memory_order_relaxed);
    auto p = ring->producer();
    ASSERT_FALSE(p);
    EXPECT_EQ(p.error().code, make_error_code(RegionError::Corrupt));
    EXPECT_FALSE(ring->consumer());
}

TEST_F(MessageRingCorruptionTest, RecordLengthBeyondTheMaximumStopsTheConsumer) {
    ASSERT_EQ(tx->try_write(as_bytes(pattern(0, 100))), WriteStatus::Ok);
    first_record().length = 100000;
    expect_consumer_stopped("record length");
}

TEST_F(MessageRingCorruptionTest, RecordLengthBeyondHeadStopsTheConsumer) {
    ASSERT_EQ(tx->try_write(as_bytes(pattern(0, 100))), WriteStatus::Ok);
    first_record().length = 190;  // within the maximum, but past the bytes reserved
    expect_consumer_stopped("record past head");
}

TEST_F(MessageRingCorruptionTest, UnknownRecordStateStopsTheConsumer) {
    ASSERT_EQ(tx->try_write(as_bytes(pattern(0, 100))), WriteStatus::Ok);
    std::uint64_t word = first_record().word;
    first_record().word = (word & ~std::uint64_t{0xff}) | 9;
    expect_consumer_stopped("record state");
}

TEST_F(MessageRingCorruptionTest, BadPaddingLengthStopsTheConsumer) {
    // 150-byte records take 192 bytes: five end at 960, so the sixth pads the last 64 bytes.
    for (int i = 0; i < 5; ++i) {
        ASSERT_EQ(tx->try_write(as_bytes(pattern(static_cast<std::uint64_t>(i), 150))), WriteStatus::Ok);
        ASSERT_TRUE(rx->peek());
        rx->release();
    }
    ASSERT_EQ(tx->try_write(as_bytes(pattern(5, 150))), WriteStatus::Ok);
    auto* pad = reinterpret_cast<MessageRecordHeader*>(buffer(*ring) + 960);
    ASSERT_EQ(detail::word_state(pad->word), static_cast<std::uint8_t>(RecordState::Padding));
    pad->length = 4000;
    expect_consumer_stopped("padding length");
}

TEST_F(MessageRingCorruptionTest, StaleOrGarbageWordIsNotYetRatherThanARead) {
    ASSERT_EQ(tx->try_write(as_bytes(pattern(0, 100))), WriteStatus::Ok);
    first_record().word = detail::record_word(RecordState::Committed, 1, 1024);  // the next lap's tag
    EXPECT_FALSE(rx->peek());
    EXPECT_FALSE(rx->corrupt());
}

TEST_F(MessageRingCorruptionTest, OpenRefusesADamagedHeader) {
    MessageRingHeader& header = shared_header(*ring);
    const MessageRingHeader saved = header;
    header.capacity = 1000;
    auto bad = MessageRing::open(*rt_guest, "scribbled");
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().code, make_error_code(RegionError::Corrupt));
    header.capacity = 1U << 20;  // larger than the object
    bad = MessageRing::open(*rt_guest, "scribbled");
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().code, make_error_code(RegionError::Corrupt));
    header = saved;
    header.max_record_size = 600;
    EXPECT_FALSE(MessageRing::open(*rt_guest, "scribbled"));
    header = saved;
    header.layout_version = 99;
    bad = MessageRing::open(*rt_guest, "scribbled");
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().code, make_error_code(RegionError::VersionMismatch));
    header = saved;
    header.magic = 0x1234;
    bad = MessageRing::open(*rt_guest, "scribbled");
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().code, make_error_code(RegionError::BadMagic));
    header = saved;
    EXPECT_TRUE(MessageRing::open(*rt_guest, "scribbled"));
}

// ---- the view, on plain memory --------------------------------------------------------------

TEST(MessageRingView, FormatsAndAttachesPlainMemory) {
    alignas(64) static std::array<std::byte, MessageRingView::bytes_for(1024)> memory;
    memory.fill(std::byte{0xee});  // not zero: format must not trust what was there
    auto made = MessageRingView::format(memory, 1024, 100, "embedded");
    ASSERT_TRUE(made) << made.error().message;
    auto seen = MessageRingView::attach(memory, "embedded");
    ASSERT_TRUE(seen) << seen.error().message;
    EXPECT_EQ(seen->capacity(), 1024U);
    auto tx = made->producer(WriterGuest{2, 7});
    auto rx = seen->consumer();
    ASSERT_TRUE(tx && rx);
    for (std::uint64_t i = 0; i < 100; ++i) {
        ASSERT_EQ(tx->try_write(as_bytes(pattern(i, i % 100))), WriteStatus::Ok);
        auto record = rx->peek();
        ASSERT_TRUE(record);
        ASSERT_TRUE(matches(*record, i));
        rx->release();
    }
    EXPECT_EQ(seen->stats().records, 100U);
    EXPECT_FALSE(MessageRingView::attach(std::span(memory).first(100), "short"));
    EXPECT_FALSE(MessageRingView::format(std::span(memory).subspan(8), 512, 100, "unaligned"));
    EXPECT_FALSE(MessageRingView::format(std::span(memory).first(600), 1024, 100, "small"));
}

}  // namespace
}  // namespace nk::ipc
