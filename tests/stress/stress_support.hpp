// Stress-test support for the queues: items that carry who sent them, their sequence number and a
// checksum; a ledger in shared memory where every consumer, in any process, records what it got;
// and helpers to run a body in a forked child or a thread.
//
// A consumer checks every item it pops (checksum: never torn; sequence: strictly increasing per
// producer as this consumer sees it) and sets the item's bit in the ledger (a bit already set is a
// duplicate). The parent then checks that every bit is set: nothing lost.
#pragma once

#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <stdexcept>
#include <vector>

#include <gtest/gtest.h>

namespace nk::stress {

// Counts shrink under sanitizers: ThreadSanitizer and AddressSanitizer builds are Debug builds
// that run every atomic access and copy through the sanitizer's runtime, 10 to 50 times slower,
// and CI runs them on two cores beside the other presets. The protocol is the same at any count;
// the full counts run in the ci preset.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
inline constexpr bool kSanitized = true;
#else
inline constexpr bool kSanitized = false;
#endif
#else
inline constexpr bool kSanitized = false;
#endif
constexpr std::uint64_t scaled(std::uint64_t n) { return kSanitized ? n / 25 : n; }

inline std::uint64_t now_ns() {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<std::uint64_t>(ts.tv_nsec);
}

inline std::uint64_t mix(std::uint64_t x) {  // splitmix64's finaliser
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

// One queue item: 32 bytes, every one of them covered by the checksum, so a copy torn between two
// items (or half written) does not pass.
struct StressItem {
    std::uint32_t producer = 0;  // the producer (or producer incarnation) that sent it
    std::uint32_t salt = 0;
    std::uint64_t seq = 0;  // 0, 1, 2, ... per producer
    std::uint64_t filler = 0;
    std::uint64_t checksum = 0;

    static StressItem make(std::uint32_t producer, std::uint64_t seq) {
        StressItem item;
        item.producer = producer;
        item.salt = static_cast<std::uint32_t>(mix(seq + producer));
        item.seq = seq;
        item.filler = mix(seq ^ (std::uint64_t{producer} << 40));
        item.checksum = item.expected_checksum();
        return item;
    }
    [[nodiscard]] std::uint64_t expected_checksum() const {
        return mix(mix(mix((std::uint64_t{producer} << 32 | salt) ^ 0x6e6b) ^ seq) ^ filler);
    }
    [[nodiscard]] bool intact() const { return checksum == expected_checksum(); }
    [[nodiscard]] std::span<const std::byte> bytes() const { return std::as_bytes(std::span(this, 1)); }
    [[nodiscard]] std::span<std::byte> bytes() { return std::as_writable_bytes(std::span(this, 1)); }
};
static_assert(sizeof(StressItem) == 32);

// What the consumers saw, in a shared anonymous mapping that forked children share with the parent.
struct LedgerCounts {
    std::atomic<std::uint64_t> received{0};
    std::atomic<std::uint64_t> torn{0};
    std::atomic<std::uint64_t> foreign{0};  // producer or sequence out of range
    std::atomic<std::uint64_t> duplicates{0};
    std::atomic<std::uint64_t> out_of_order{0};
    std::atomic<std::uint64_t> slowest_call_ns{0};  // the longest single try_push / try_pop
};

class Ledger {
public:
    // Room for `producers` producers of `per_producer` items each.
    Ledger(std::uint32_t producers, std::uint64_t per_producer)
        : producers_(producers), per_producer_(per_producer), words_per_producer_((per_producer + 63) / 64) {
        bytes_ = sizeof(LedgerCounts) + std::size_t{producers} * words_per_producer_ * 8;
        void* p = ::mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p == MAP_FAILED) throw std::runtime_error("mmap ledger");
        counts_ = new (p) LedgerCounts();
        bits_ = reinterpret_cast<std::atomic<std::uint64_t>*>(static_cast<std::byte*>(p) + sizeof(LedgerCounts));
    }
    ~Ledger() { ::munmap(counts_, bytes_); }
    Ledger(const Ledger&) = delete;
    Ledger& operator=(const Ledger&) = delete;

    LedgerCounts& counts() const { return *counts_; }
    std::uint32_t producers() const { return producers_; }
    std::uint64_t per_producer() const { return per_producer_; }

    // One consumer's view: the last sequence it saw from each producer.
    class Consumer {
    public:
        explicit Consumer(const Ledger& ledger) : ledger_(ledger), next_(ledger.producers(), 0) {}
        // Checks and records one popped item.
        void record(const StressItem& item) {
            LedgerCounts& c = ledger_.counts();
            // relaxed, all counters here: statistics the parent reads after joining or reaping the
            // consumers, which orders them.
            if (!item.intact()) {
                c.torn.fetch_add(1, std::memory_order_relaxed);
                return;
            }
            if (item.producer >= ledger_.producers() || item.seq >= ledger_.per_producer()) {
                c.foreign.fetch_add(1, std::memory_order_relaxed);
                return;
            }
            if (item.seq < next_[item.producer]) c.out_of_order.fetch_add(1, std::memory_order_relaxed);
            next_[item.producer] = item.seq + 1;
            if (!ledger_.mark(item.producer, item.seq)) c.duplicates.fetch_add(1, std::memory_order_relaxed);
            // release: a consumer that sees the total reached knows the bits above are set.
            c.received.fetch_add(1, std::memory_order_release);
        }

    private:
        const Ledger& ledger_;
        std::vector<std::uint64_t> next_;
    };

    // Sets the bit of (producer, seq); false if it was set already.
    bool mark(std::uint32_t producer, std::uint64_t seq) const {
        const std::uint64_t bit = std::uint64_t{1} << (seq % 64);
        // relaxed: the bit's own atomicity decides duplicates; the parent reads after reaping.
        return (word(producer, seq).fetch_or(bit, std::memory_order_relaxed) & bit) == 0;
    }
    bool has(std::uint32_t producer, std::uint64_t seq) const {
        // relaxed: read by the parent after the consumers are reaped or joined.
        return (word(producer, seq).load(std::memory_order_relaxed) >> (seq % 64)) & 1U;
    }
    // Items of `producer` below `limit` that nobody recorded.
    std::uint64_t missing(std::uint32_t producer, std::uint64_t limit) const {
        std::uint64_t n = 0;
        for (std::uint64_t seq = 0; seq < limit; ++seq) n += has(producer, seq) ? 0 : 1;
        return n;
    }
    // Items of `producer` at or above `limit` that were recorded.
    std::uint64_t recorded_from(std::uint32_t producer, std::uint64_t limit) const {
        std::uint64_t n = 0;
        for (std::uint64_t seq = limit; seq < per_producer_; ++seq) n += has(producer, seq) ? 1 : 0;
        return n;
    }

    void note_call(std::uint64_t ns) const {
        auto& slowest = counts_->slowest_call_ns;
        // relaxed: a statistic.
        std::uint64_t seen = slowest.load(std::memory_order_relaxed);
        while (ns > seen && !slowest.compare_exchange_weak(seen, ns, std::memory_order_relaxed)) {
        }
    }

private:
    std::atomic<std::uint64_t>& word(std::uint32_t producer, std::uint64_t seq) const {
        return bits_[std::size_t{producer} * words_per_producer_ + seq / 64];
    }

    std::uint32_t producers_;
    std::uint64_t per_producer_;
    std::uint64_t words_per_producer_;
    std::size_t bytes_ = 0;
    LedgerCounts* counts_ = nullptr;
    std::atomic<std::uint64_t>* bits_ = nullptr;
};

// Runs `body` in a forked child that shares the test's mappings; its exit status says whether its
// assertions held.
template <class Body>
pid_t fork_child(Body body) {
    const pid_t pid = ::fork();
    if (pid == 0) {
        body();
        ::_exit(::testing::Test::HasFailure() ? 1 : 0);
    }
    return pid;
}

// Waits for a child; its exit code, or 128 + the signal that ended it.
inline int exit_code_of(pid_t pid) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Waits for all `children` until `deadline_ns` (CLOCK_MONOTONIC); kills the ones still running
// then. Returns the exit codes, in order (128 + SIGKILL for a child that had to be killed).
inline std::vector<int> reap_all(const std::vector<pid_t>& children, std::uint64_t deadline_ns) {
    std::vector<int> codes(children.size(), -1);
    std::size_t left = children.size();
    while (left > 0) {
        for (std::size_t i = 0; i < children.size(); ++i) {
            if (codes[i] != -1) continue;
            int status = 0;
            const pid_t got = ::waitpid(children[i], &status, WNOHANG);
            if (got == children[i]) {
                codes[i] = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
                --left;
            }
        }
        if (left == 0) break;
        if (now_ns() > deadline_ns) {
            for (std::size_t i = 0; i < children.size(); ++i)
                if (codes[i] == -1) {
                    ::kill(children[i], SIGKILL);
                    codes[i] = exit_code_of(children[i]);
                }
            break;
        }
        ::usleep(2000);
    }
    return codes;
}

}  // namespace nk::stress
