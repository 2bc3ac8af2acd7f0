// nk::ipc::MpmcQueue: a lock-free bounded multi-producer, multi-consumer queue of fixed-size
// items in shared memory (Dmitry Vyukov's bounded MPMC queue: one sequence number per slot).
//
// Any number of threads, in any processes that hold the queue's area, push and pop at once. The
// queue is a named object in a link area or the common area, like a Segment, and follows the
// config's [[access]] rules (creating and opening need read-write rights).
//
//   // guest "linux": makes the queue in the common area
//   auto jobs = nk::ipc::MpmcQueue::create(region, "jobs", sizeof(Job), 256);
//   if (!jobs->try_push(std::as_bytes(std::span(&job, 1)))) { /* full: back-pressure */ }
//
//   // any guest, any number of worker threads:
//   auto jobs = nk::ipc::MpmcQueue::open(region, "jobs", sizeof(Job));
//   Job job;
//   while (jobs->try_pop(std::as_writable_bytes(std::span(&job, 1)))) run(job);
//
// Order: items leave in the order their pushes claimed positions, so the items one thread pushes
// reach any one consumer thread in the order they were pushed.
//
// Concurrency: try_push, try_pop and the accessors may be called from any number of threads at
// once on one MpmcQueue. The object is a view: it does not own the queue and stays valid while
// the Region is attached and the queue is not removed; it keeps a pointer to the Region, which
// must outlive it. It is move-only (it keeps process-local
// fault state).
//
// The peer is untrusted. Item size and capacity are read once at open and checked against the
// object's extent; positions and slot sequences read afterwards are checked against the window
// the protocol allows. A value outside it stops the queue in this process: corrupt() becomes
// true, every later call returns false, and health() says what was seen. Retry loops are bounded,
// and no value in shared memory makes the queue touch memory outside its slots. The
// memory-ordering contract is at the top of src/mpmc_queue.cpp.
//
// A user killed between claiming a position and finishing with it (a producer before it publishes,
// a consumer before it releases the slot) is found by the others and passed: each claimer writes
// who it is into the slot right after it wins the position, and a caller held up at that slot
// asks whether that process still lives (as the message ring does). A dead producer's position is
// skipped (its item never arrives); a dead consumer's slot is handed to the next lap (the item it
// was taking is lost, counted in stats()). A claimer killed in the few instructions between
// winning the position and naming itself is passed after headerless_claim_timeout(). A live
// claimer, even a stopped one, is waited for. docs/ARCHITECTURE.md ("MPMC queue: a claimer that
// dies") has the protocol.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

#include "nk/ipc/detail/queue_fault.hpp"
#include "nk/nanokernel/area_directory.hpp"
#include "nk/nanokernel/layout.hpp"
#include "nk/nanokernel/region.hpp"

namespace nk::ipc {

inline constexpr std::uint64_t kMpmcQueueMagic = 0x4e4b'4d50'4d43'0001ULL;  // "NKMPMC" 0001
inline constexpr std::uint32_t kMpmcQueueLayoutVersion = 2;  // 2: claims named in the slots

// The first bytes of an MPMC queue object; the slots follow at slots_offset. Part of the region's
// ABI (layout.hpp's rules apply): changing a field's width, order or meaning bumps
// kMpmcQueueLayoutVersion. Positions count pushes (enqueue) and pops (dequeue) since creation,
// below 2^62 (the top two bits of a slot's sequence are flags; at 10^9 operations a second the
// limit is 146 years away); position p uses slot p % capacity.
struct alignas(detail::kCacheLine) MpmcQueueHeader {
    // Line 0: written by create() before it publishes the magic, read-only afterwards.
    std::uint64_t magic;           // atomic; kMpmcQueueMagic, stored last (release) by create()
    std::uint32_t layout_version;  // kMpmcQueueLayoutVersion
    std::uint32_t header_size;     // sizeof(MpmcQueueHeader)
    std::uint32_t item_size;       // bytes per item, 1..kMaxItemSize
    std::uint32_t capacity;        // items; a power of two, at least 2
    std::uint32_t slot_stride;     // bytes from one slot to the next: an MpmcSlot, then the item,
                                   // rounded up to 8
    std::uint32_t reserved0;
    std::uint64_t slots_offset;    // from the start of this header; sizeof(MpmcQueueHeader)
    std::uint8_t reserved1[24];
    // Line 1: producers.
    std::uint64_t enqueue_pos;     // atomic; the next position a push claims
    std::uint64_t full_count;      // atomic; pushes refused for want of space
    std::uint64_t reclaimed_count; // atomic; slots taken back from consumers that died holding them
    std::uint8_t reserved2[40];
    // Line 2: consumers.
    std::uint64_t dequeue_pos;     // atomic; the next position a pop claims
    std::uint64_t skipped_count;   // atomic; positions passed because their producer died
    std::uint8_t reserved3[48];
};

// The start of every slot; the item's bytes follow. The claim names the last claimer of the slot,
// for the others to judge when it holds the slot up; each field is written with relaxed atomic
// stores before `claim`, which is stored last (seq_cst).
struct MpmcSlot {
    // atomic. Without flags: equal to position p, free for the push at p; p + 1, holds the item
    // pushed at p; the pop at p sets it to p + capacity, free for the push one lap later.
    // kMpmcSkipped on p + 1: published without an item (its producer died), for the pop at p to
    // pass. kMpmcPending on either: someone is taking the slot from a claimer that had not
    // named itself yet (see the protocol in src/mpmc_queue.cpp).
    std::uint64_t sequence;
    std::uint64_t claim;          // atomic; position << 2 | role (1 push, 2 pop); 0: never claimed
    std::uint32_t pid;            // atomic; the claimer's pid, in its pid namespace
    std::uint32_t pid_ns;         // atomic; inode of its pid namespace
    std::uint64_t start_time;     // atomic; its start time (/proc/PID/stat field 22), against pid reuse
    std::uint32_t incarnation;    // atomic; its guest's incarnation
    std::uint16_t guest;          // atomic; its guest id (0: none)
    std::uint16_t reserved;
};

inline constexpr std::uint64_t kMpmcPending = std::uint64_t{1} << 62;
inline constexpr std::uint64_t kMpmcSkipped = std::uint64_t{1} << 63;
inline constexpr std::uint64_t kMpmcPositionLimit = std::uint64_t{1} << 62;

// How long a caller held up at a slot whose claimer has not named itself waits before it passes
// the claim (the claimer died right after winning the position; see docs/ARCHITECTURE.md).
inline constexpr std::uint64_t kMpmcHeaderlessClaimTimeoutNs = 500'000'000;

// What the queue counted (relaxed reads; for monitoring).
struct MpmcQueueStats {
    std::uint64_t full = 0;       // pushes refused for want of space
    std::uint64_t skipped = 0;    // positions passed: their producer died before publishing
    std::uint64_t reclaimed = 0;  // slots taken back: their consumer died holding the item
};

namespace detail {
struct ClaimWatch;  // process-local: which held-up slot a caller keeps finding, since when
}

static_assert(std::is_standard_layout_v<MpmcQueueHeader> && std::is_trivially_copyable_v<MpmcQueueHeader>);
static_assert(std::is_standard_layout_v<MpmcSlot> && std::is_trivially_copyable_v<MpmcSlot>);
static_assert(std::atomic_ref<std::uint64_t>::is_always_lock_free);
static_assert(sizeof(MpmcQueueHeader) == 3 * detail::kCacheLine && alignof(MpmcQueueHeader) == detail::kCacheLine);
static_assert(offsetof(MpmcQueueHeader, layout_version) == 8 && offsetof(MpmcQueueHeader, header_size) == 12);
static_assert(offsetof(MpmcQueueHeader, item_size) == 16 && offsetof(MpmcQueueHeader, capacity) == 20);
static_assert(offsetof(MpmcQueueHeader, slot_stride) == 24 && offsetof(MpmcQueueHeader, slots_offset) == 32);
static_assert(offsetof(MpmcQueueHeader, enqueue_pos) == 64 && offsetof(MpmcQueueHeader, full_count) == 72);
static_assert(offsetof(MpmcQueueHeader, reclaimed_count) == 80);
static_assert(offsetof(MpmcQueueHeader, dequeue_pos) == 128 && offsetof(MpmcQueueHeader, skipped_count) == 136);
static_assert(sizeof(MpmcSlot) == 40 && alignof(MpmcSlot) == 8);
static_assert(offsetof(MpmcSlot, claim) == 8 && offsetof(MpmcSlot, pid) == 16 && offsetof(MpmcSlot, pid_ns) == 20);
static_assert(offsetof(MpmcSlot, start_time) == 24 && offsetof(MpmcSlot, incarnation) == 32);
static_assert(offsetof(MpmcSlot, guest) == 36);

class MpmcQueue {
public:
    // Makes a queue of `capacity` items (a power of two, at least 2) of `item_size` bytes
    // (1..kMaxItemSize). `where` picks the area as for Segment::create: "" or "common", a
    // guest's name for the link to that guest, or an area label (operator use).
    [[nodiscard]] static Result<MpmcQueue> create(const Region& region, std::string_view name, std::uint32_t item_size,
                                                  std::uint32_t capacity, std::string_view where = {});

    // Opens an existing queue by name in the areas this process holds. With
    // `expected_item_size` non-zero, a queue of another item size is refused
    // (RegionError::SizeConflict).
    [[nodiscard]] static Result<MpmcQueue> open(const Region& region, std::string_view name,
                                                std::uint32_t expected_item_size = 0);

    // Removes the queue: its owner guest, the operator or the creator may. Stop every user first.
    [[nodiscard]] static Result<void> remove(const Region& region, std::string_view name);

    MpmcQueue(MpmcQueue&&) noexcept;
    MpmcQueue& operator=(MpmcQueue&&) noexcept;
    MpmcQueue(const MpmcQueue&) = delete;
    MpmcQueue& operator=(const MpmcQueue&) = delete;
    ~MpmcQueue();

    // Copies `item` (exactly item_size() bytes) into the queue. False if the queue is full, if
    // the size is wrong (nothing is written), once corrupt(), or, rarely, after losing
    // kMaxRaces races for a position in a row (treat it as full and retry later).
    [[nodiscard]] bool try_push(std::span<const std::byte> item) noexcept;

    // Copies the oldest item into `out` (exactly item_size() bytes) and removes it. False if the
    // queue is empty, if the size is wrong, once corrupt(), or after kMaxRaces lost races.
    [[nodiscard]] bool try_pop(std::span<std::byte> out) noexcept;

    // Items in the queue at about now, 0..capacity(); for monitoring.
    [[nodiscard]] std::size_t size_approx() const noexcept;
    [[nodiscard]] MpmcQueueStats stats() const noexcept;

    // How long a claim whose claimer never named itself holds the queue up before it is passed
    // (default kMpmcHeaderlessClaimTimeoutNs). Shorter passes a dead claimer sooner; a live one
    // preempted for longer than this between winning its position and naming itself then loses
    // the position (a producer tries another; a consumer takes the next item).
    void set_headerless_claim_timeout(std::uint64_t ns) noexcept { headerless_timeout_ns_ = ns; }
    [[nodiscard]] std::uint32_t capacity() const noexcept { return capacity_; }
    [[nodiscard]] std::uint32_t item_size() const noexcept { return item_size_; }

    // True once a value read from shared memory was outside the protocol's window; the queue has
    // stopped in this process (other MpmcQueue objects, and other processes, find out for
    // themselves).
    [[nodiscard]] bool corrupt() const noexcept { return faults_->tripped(); }
    // RegionError::Corrupt with what was seen, once corrupt().
    [[nodiscard]] Result<void> health() const;

    [[nodiscard]] const ObjectInfo& object() const noexcept { return object_; }
    [[nodiscard]] const std::string& area_label() const noexcept { return area_label_; }
    [[nodiscard]] std::uint64_t region_offset() const noexcept { return region_offset_; }

    // The bound on the attempts of one try_push or try_pop. Each lost attempt means another
    // thread moved the position on, so in correct use this is never reached; it bounds the work
    // a peer that keeps rewriting a position can cause.
    static constexpr std::uint32_t kMaxRaces = 1U << 16;

private:
    MpmcQueue(const Region& region, ObjectInfo object, std::string area_label, std::uint64_t region_offset,
              MpmcQueueHeader* header, std::uint32_t item_size, std::uint32_t capacity, std::uint32_t slot_stride);
    [[nodiscard]] std::byte* slot_at(std::uint64_t position) const noexcept;
    enum class Role : std::uint64_t { Push = 1, Pop = 2 };
    enum class Settled : std::uint8_t { Ours, Taken, Fault };
    void name_claimer(std::byte* slot, std::uint64_t position, Role role) noexcept;
    [[nodiscard]] Settled settle_claim(std::byte* slot, std::uint64_t position, std::uint64_t held,
                                       std::uint64_t taken) noexcept;
    [[nodiscard]] bool finish(std::byte* slot, std::uint64_t position, std::uint64_t held, std::uint64_t done) noexcept;
    [[nodiscard]] bool pass_dead_claimer(std::byte* slot, std::uint64_t position, Role role, std::uint64_t held,
                                         std::uint64_t taken, detail::ClaimWatch& watch) noexcept;
    void trip(const char* what, std::uint64_t position, std::uint64_t seen, std::uint64_t low,
              std::uint64_t high) noexcept;

    ObjectInfo object_;
    std::string area_label_;
    std::uint64_t region_offset_ = 0;
    MpmcQueueHeader* header_ = nullptr;
    std::byte* slots_ = nullptr;
    std::uint32_t item_size_ = 0;  // validated copies: never re-read from shared memory
    std::uint32_t capacity_ = 0;
    std::uint32_t slot_stride_ = 0;
    std::uint64_t mask_ = 0;
    std::unique_ptr<detail::FaultLatch> faults_;  // process-local; shared by the threads using this object
    std::unique_ptr<detail::ClaimWatch> push_watch_, pop_watch_;  // held-up slots, as pops and pushes see them
    const Region* region_ = nullptr;  // judges claimers in other pid namespaces by their guest
    std::uint64_t headerless_timeout_ns_ = kMpmcHeaderlessClaimTimeoutNs;
    std::uint16_t claimer_guest_ = 0;       // what name_claimer() writes: this process's guest
    std::uint32_t claimer_incarnation_ = 0;
};

}  // namespace nk::ipc
