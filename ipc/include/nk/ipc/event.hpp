// nk::ipc::Event: an event variable that processes of several guests find by a common name
// (the Nanokernel paper's inter-OS process synchronisation, section 3(2)(c)).
//
// Auto-reset: signal() releases exactly one waiter, or, when nobody waits, leaves the event set
// for the next wait() to consume. Manual-reset: signal() sets the event and releases every
// waiter until reset(). broadcast() releases every waiter present, in either mode, without
// leaving the event set.
//
//   auto ready = nk::ipc::Event::create(region, "frame.ready", nk::ipc::EventMode::AutoReset, "rt");
//   ready->signal();                                            // producer, any guest
//   auto got = nk::ipc::Event::open(region, "frame.ready");     // consumer, another guest
//   if (got->wait_for(std::chrono::milliseconds(5)) == nk::ipc::WaitResult::TimedOut) { ... }
//
// Waiting spins for the event's spin time (set at creation, 20 µs by default: a peer that is
// active answers within it, and a cross-CPU futex wake-up costs ~50 µs on a VM), then sleeps on
// a futex in the region; pure polling (no sleep at all) is a wait option for real-time loops.
// A timeout is never reported as success, and a wake-up without a signal is never reported as
// one. A waiter that dies leaves at most a stale waiter count, which costs the signaller an
// extra futex call, nothing more. The event lives in shared memory its peers can write: a
// state word outside what the protocol allows is reported (RegionError::Corrupt), never
// followed. The ordering contract is at the top of src/event.cpp.
//
// Concurrency: any number of signallers and waiters, in any processes, each through its own
// Event handle (a handle is a view: cheap, and usable from one thread at a time).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

#include "nk/ipc/detail/queue_fault.hpp"
#include "nk/nanokernel/area_directory.hpp"
#include "nk/nanokernel/region.hpp"

namespace nk::ipc {

inline constexpr std::uint64_t kEventMagic = 0x4e4b'4556'4e54'0001ULL;  // "NKEVNT" 0001
inline constexpr std::uint32_t kEventLayoutVersion = 1;

enum class EventMode : std::uint32_t { AutoReset = 1, ManualReset = 2 };
enum class WaitResult { Signaled, TimedOut };
enum class WaitStyle { Adaptive, Polling };  // Polling: spin until the deadline, never sleep

// The shared part of an event. Part of the region's ABI: changing a field bumps the version.
struct alignas(detail::kCacheLine) EventHeader {
    // Line 0: written by create() before it publishes the magic, read-only afterwards.
    std::uint64_t magic;           // atomic; kEventMagic, stored last (release)
    std::uint32_t layout_version;
    std::uint32_t header_size;     // sizeof(EventHeader)
    std::uint32_t mode;            // EventMode
    std::uint32_t spin_ns;         // how long a waiter spins before it sleeps
    std::uint8_t reserved0[40];
    // Line 1: the synchronisation words.
    std::uint32_t state;           // atomic; 1: set (a token, in auto-reset mode), 0: not set
    std::uint32_t sequence;        // atomic; futex word, bumped by every signal and broadcast
    std::uint32_t broadcasts;      // atomic; bumped by every broadcast: releases waiters present
    std::uint32_t waiters;         // atomic; processes asleep or about to sleep (a hint)
    std::uint8_t reserved1[48];
    // Line 2: counters for nkctl events.
    std::uint64_t signal_count;    // atomic
    std::uint64_t broadcast_count; // atomic
    std::uint64_t wakeup_count;    // atomic; waits that returned Signaled
    std::uint64_t timeout_count;   // atomic; waits that returned TimedOut
    std::uint8_t reserved2[32];
};
static_assert(std::is_standard_layout_v<EventHeader> && std::is_trivially_copyable_v<EventHeader>);
static_assert(sizeof(EventHeader) == 3 * detail::kCacheLine);
static_assert(offsetof(EventHeader, mode) == 16 && offsetof(EventHeader, spin_ns) == 20);
static_assert(offsetof(EventHeader, state) == 64 && offsetof(EventHeader, sequence) == 68);
static_assert(offsetof(EventHeader, waiters) == 76 && offsetof(EventHeader, signal_count) == 128);
static_assert(std::atomic_ref<std::uint32_t>::is_always_lock_free);

struct EventStats {
    EventMode mode{};
    bool set = false;
    std::uint32_t waiters = 0;
    std::uint64_t signals = 0, broadcasts = 0, wakeups = 0, timeouts = 0;
};

class Event {
public:
    // Makes an event in the area `where` names (as for Segment::create). `spin` bounds a waiter's
    // spinning before it sleeps (0 .. 10 ms).
    [[nodiscard]] static Result<Event> create(const Region& region, std::string_view name, EventMode mode,
                                              std::string_view where = {},
                                              std::chrono::nanoseconds spin = std::chrono::microseconds(20));
    [[nodiscard]] static Result<Event> open(const Region& region, std::string_view name);
    [[nodiscard]] static Result<void> remove(const Region& region, std::string_view name);

    // An event inside another shared object (a Port's wake-ups): with `format`, `header` (zeroed,
    // 64-byte aligned) is set up as a new event; without, it is checked as open() checks.
    [[nodiscard]] static Result<Event> embedded(EventHeader* header, std::string_view name, bool format,
                                                EventMode mode = EventMode::AutoReset,
                                                std::chrono::nanoseconds spin = std::chrono::microseconds(20));

    // Waits until signalled. Errors only for a corrupt event (RegionError::Corrupt).
    [[nodiscard]] Result<void> wait(WaitStyle style = WaitStyle::Adaptive);
    [[nodiscard]] Result<WaitResult> wait_for(std::chrono::nanoseconds timeout, WaitStyle style = WaitStyle::Adaptive);
    [[nodiscard]] Result<WaitResult> wait_until(std::chrono::steady_clock::time_point deadline,
                                                WaitStyle style = WaitStyle::Adaptive);

    // Auto-reset: releases one waiter or leaves a token. Manual-reset: sets the event.
    [[nodiscard]] Result<void> signal();
    // Releases every waiter present; the event is left as it was.
    [[nodiscard]] Result<void> broadcast();
    // Manual-reset (or a pending auto-reset token): clears the event.
    [[nodiscard]] Result<void> reset();

    [[nodiscard]] Result<EventStats> stats() const;

    // The futex word every signal and broadcast moves: for waiting on many events at once
    // (asio_port.hpp). Read it before checking what the event guards, then wait while it is
    // unchanged.
    [[nodiscard]] std::uint32_t* futex_word() const { return &header_->sequence; }
    // Counts (true) or uncounts (false) a waiter that sleeps on futex_word() by other means:
    // signallers wake the word only while someone is counted (W2 in src/event.cpp).
    void count_external_waiter(bool waiting) const {
        auto waiters = layout::atomic(header_->waiters);
        if (waiting) waiters.fetch_add(1, std::memory_order_seq_cst);
        else waiters.fetch_sub(1, std::memory_order_seq_cst);
    }
    [[nodiscard]] EventMode mode() const { return mode_; }
    [[nodiscard]] const ObjectInfo& object() const { return object_; }

private:
    Event(ObjectInfo object, EventHeader* header, EventMode mode, std::uint32_t spin_ns)
        : object_(std::move(object)), header_(header), mode_(mode), spin_ns_(spin_ns) {}
    // Takes the event if it is available to a waiter that entered at broadcast generation `entry`.
    [[nodiscard]] Result<bool> try_take(std::uint32_t entry);
    [[nodiscard]] Error corrupt(std::uint32_t state) const;

    ObjectInfo object_;
    EventHeader* header_;
    EventMode mode_;          // validated copies: never re-read from shared memory
    std::uint32_t spin_ns_;
};

}  // namespace nk::ipc
