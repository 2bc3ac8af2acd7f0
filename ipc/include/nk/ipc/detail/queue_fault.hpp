// Shared by the queues of nk::ipc (spsc_ring.hpp, mpmc_queue.hpp): limits, and what a queue
// handle records when it finds the shared state broken.
//
// A queue in shared memory trusts nothing its peer can write. When a value read from the queue
// is outside what the protocol allows, the handle records a QueueFault, stops (every later push
// or pop returns false), and health() turns the fault into an nk::Error for a person.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>

namespace nk::ipc::detail {

// Fixed, not std::hardware_destructive_interference_size: the value is part of the shared layout
// and must not change with compiler flags.
inline constexpr std::size_t kCacheLine = 64;

// Largest item a queue carries: bounds the object size a header may claim.
inline constexpr std::uint32_t kMaxItemSize = 1U << 20;

inline constexpr std::uint64_t kNoSlot = std::numeric_limits<std::uint64_t>::max();

// A value read from shared memory that the protocol does not allow.
struct QueueFault {
    const char* what = "";      // "consumer index", "slot sequence", ... (static storage)
    std::uint64_t slot = kNoSlot;  // the slot the value belongs to, if any
    std::uint64_t seen = 0;     // the value read
    std::uint64_t low = 0;      // the range it had to lie in, inclusive, modulo 2^64
    std::uint64_t high = 0;
};

// A QueueFault that threads of one process record and read concurrently (MpmcQueue). The first
// fault wins; later ones are dropped. Process-local: never placed in shared memory.
class FaultLatch {
public:
    // Cheap check for the hot path.
    [[nodiscard]] bool tripped() const noexcept {
        // relaxed: only decides whether to keep going; fault() reads the details with acquire.
        return state_.load(std::memory_order_relaxed) != kClear;
    }

    void trip(const QueueFault& fault) noexcept {
        std::uint32_t expected = kClear;
        // relaxed: claiming the right to write the details orders nothing; the release below
        // publishes them.
        if (!state_.compare_exchange_strong(expected, kWriting, std::memory_order_relaxed)) return;
        fault_ = fault;
        // release: publishes fault_; pairs with the acquire in fault().
        state_.store(kRecorded, std::memory_order_release);
    }

    // The recorded fault; empty while none is, or while the first one is still being written.
    [[nodiscard]] std::optional<QueueFault> fault() const noexcept {
        // acquire: pairs with the release in trip(), so fault_ is complete.
        if (state_.load(std::memory_order_acquire) != kRecorded) return std::nullopt;
        return fault_;
    }

private:
    static constexpr std::uint32_t kClear = 0, kWriting = 1, kRecorded = 2;
    std::atomic<std::uint32_t> state_{kClear};
    QueueFault fault_{};
};

}  // namespace nk::ipc::detail
