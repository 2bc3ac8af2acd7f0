// nk::ipc::SpscRing: a lock-free single-producer, single-consumer ring of fixed-size items in
// shared memory, for two processes that may belong to different guests.
//
// The ring is a named object in a link area or the common area, like a Segment, and follows the
// config's [[access]] rules (creating and opening need read-write rights). The producer and the
// consumer each work through a process-local handle that keeps its own index. Each slot carries
// a sequence word beside its item, written by the producer only: the consumer learns that the
// slot under its index is filled from that word, in the cache line the item itself lives in, and
// never reads the producer's index. The consumer hands slots back by publishing its index, which
// the producer reads only when its cached copy says the ring is full (rigtorp's SPSCQueue). So
// the slots' lines are written by one side only, and a ping-pong moves one cache line each way,
// as the raw shared-line floor does. (Layout 2 handed each slot back with a store into its word:
// with 8-byte items four slots share a line, and that store pulled the line the producer was
// filling away from it once per item; docs/BENCHMARKS.md.)
//
//   // guest "linux": makes the ring in its link to "rt" and produces
//   auto ring = nk::ipc::SpscRing::create(region, "imu.samples", sizeof(Sample), 1024, "rt");
//   auto tx = ring->producer();
//   if (!tx->try_push(std::as_bytes(std::span(&sample, 1)))) { /* full: back-pressure */ }
//
//   // guest "rt", another process: opens it, checking the item size it expects
//   auto ring = nk::ipc::SpscRing::open(region, "imu.samples", sizeof(Sample));
//   auto rx = ring->consumer();
//   Sample s;
//   while (rx->try_pop(std::as_writable_bytes(std::span(&s, 1)))) handle(s);
//
// Concurrency: at most one SpscProducer and one SpscConsumer may be in use at a time, across all
// processes; the ring cannot enforce this. Each handle is used by one thread at a time. A ring
// and its handles are views: they do not own the object and stay valid while the Region is
// attached and the object is not removed.
//
// The peer is untrusted. The item size and capacity are read once at open and checked against
// the object's extent; every sequence word the consumer reads afterwards must be one of the two
// values the protocol allows there, and every consumer index the producer reads must lie within
// capacity() behind its own. A handle that finds another value stops: corrupt() becomes true, every later
// call returns false or 0, and health() says what it saw. No value in shared memory makes a handle touch
// memory outside the ring. The memory-ordering contract is at the top of src/spsc_ring.cpp.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

#include "nk/ipc/detail/copy_item.hpp"
#include "nk/ipc/detail/queue_fault.hpp"
#include "nk/nanokernel/area_directory.hpp"
#include "nk/nanokernel/layout.hpp"
#include "nk/nanokernel/region.hpp"

namespace nk::ipc {

inline constexpr std::uint64_t kSpscRingMagic = 0x4e4b'5350'5343'0001ULL;  // "NKSPSC" 0001
// 2: a sequence word per slot; 3: the consumer hands slots back through tail, not their words.
inline constexpr std::uint32_t kSpscRingLayoutVersion = 3;

// The first bytes of an SPSC ring object; the slots follow at slots_offset. Part of the region's
// ABI (layout.hpp's rules apply): changing a field's width, order or meaning bumps
// kSpscRingLayoutVersion. Indices count items since creation and wrap at 2^64; item i lives in
// slot i % capacity. head and tail are each side's index as published after every push and pop.
// tail is how the consumer hands slots back: the producer reads it when its cached copy says the
// ring is full. head is for monitoring and for the next producer handle to start from; the
// consumer never reads it on the hot path.
struct alignas(detail::kCacheLine) SpscRingHeader {
    // Line 0: written by create() before it publishes the magic, read-only afterwards.
    std::uint64_t magic;           // atomic; kSpscRingMagic, stored last (release) by create()
    std::uint32_t layout_version;  // kSpscRingLayoutVersion
    std::uint32_t header_size;     // sizeof(SpscRingHeader)
    std::uint32_t item_size;       // bytes per item, 1..kMaxItemSize
    std::uint32_t capacity;        // items; a power of two, at least 2
    std::uint32_t slot_stride;     // bytes from one slot to the next: SpscSlot + item, rounded up to 8
    std::uint32_t reserved0;
    std::uint64_t slots_offset;    // from the start of this header; sizeof(SpscRingHeader)
    std::uint8_t reserved1[24];
    // Line 1: written by the producer only.
    std::uint64_t head;            // atomic; items ever pushed (published copy)
    std::uint64_t full_count;      // atomic; pushes refused (or cut short) for want of space
    std::uint8_t reserved2[48];
    // Line 2: written by the consumer only.
    std::uint64_t tail;            // atomic; items ever popped: slots below tail + capacity are free
    std::uint8_t reserved3[56];
};

static_assert(std::is_standard_layout_v<SpscRingHeader> && std::is_trivially_copyable_v<SpscRingHeader>);
static_assert(std::atomic_ref<std::uint64_t>::is_always_lock_free);
static_assert(sizeof(SpscRingHeader) == 3 * detail::kCacheLine && alignof(SpscRingHeader) == detail::kCacheLine);
static_assert(offsetof(SpscRingHeader, layout_version) == 8 && offsetof(SpscRingHeader, header_size) == 12);
static_assert(offsetof(SpscRingHeader, item_size) == 16 && offsetof(SpscRingHeader, capacity) == 20);
static_assert(offsetof(SpscRingHeader, slot_stride) == 24 && offsetof(SpscRingHeader, slots_offset) == 32);
static_assert(offsetof(SpscRingHeader, head) == 64 && offsetof(SpscRingHeader, full_count) == 72);
static_assert(offsetof(SpscRingHeader, tail) == 128);

// Each slot starts with its sequence word; the item follows at offset 8. Only the producer writes
// it: i + 1 once item i (slot i % capacity) is written. Until then it holds the previous lap's
// i + 1 - capacity; create sets slot s to s + 1 - capacity (modulo 2^64), as if a lap before
// the first had been written and consumed. Whether a slot is free is told by tail, not the word.
struct SpscSlot {
    std::uint64_t sequence;  // atomic
};
static_assert(sizeof(SpscSlot) == 8 && std::is_standard_layout_v<SpscSlot>);

// The slot stride for an item size: the sequence word, the item, padded to keep words aligned.
[[nodiscard]] constexpr std::uint32_t spsc_slot_stride(std::uint32_t item_size) noexcept {
    return (static_cast<std::uint32_t>(sizeof(SpscSlot)) + item_size + 7U) & ~7U;
}

class SpscRing;

// The producing side of a ring. One thread at a time; one producer per ring at a time.
class alignas(detail::kCacheLine) SpscProducer {
public:
    // Copies `item` (exactly item_size() bytes) into the ring. False if the ring is full, if the
    // size is wrong (nothing is written), or once the handle is corrupt().
    [[nodiscard]] bool try_push(std::span<const std::byte> item) noexcept;

    // Pushes up to `count` items stored back to back in `items` (which must hold at least
    // count * item_size() bytes, else nothing is pushed), as many as fit; returns how many.
    [[nodiscard]] std::size_t push_batch(std::span<const std::byte> items, std::size_t count) noexcept;

    // Items in the ring by the consumer's published index, 0..capacity(). Exactly capacity()
    // items fit: try_push refuses only when that many are unread.
    [[nodiscard]] std::size_t size_approx() const noexcept;
    [[nodiscard]] std::uint32_t capacity() const noexcept { return capacity_; }
    [[nodiscard]] std::uint32_t item_size() const noexcept { return item_size_; }

    // True once an index read from shared memory was out of range; the handle has stopped.
    [[nodiscard]] bool corrupt() const noexcept { return fault_.has_value(); }
    // RegionError::Corrupt with what was seen, once corrupt().
    [[nodiscard]] Result<void> health() const;

private:
    friend class SpscRing;
    SpscProducer(const SpscRing& ring, std::uint64_t head, std::uint64_t tail, std::uint64_t full_count);
    // The cached tail says full: reads the published one. True if there is room now; false if
    // full (counted) or if tail is not within capacity behind head (fault).
    bool reload_tail() noexcept;

    SpscRingHeader* header_;
    std::byte* slots_;
    std::uint32_t item_size_;
    std::uint32_t stride_;
    std::uint32_t capacity_;
    std::uint64_t mask_;
    std::uint64_t head_;         // authoritative: only this handle moves it
    std::uint64_t cached_tail_;  // the consumer's tail as last read; head_ - cached_tail_ <= capacity_
    std::uint64_t full_count_;
    std::optional<detail::QueueFault> fault_;
    std::string name_;
};

// The consuming side of a ring. One thread at a time; one consumer per ring at a time.
class alignas(detail::kCacheLine) SpscConsumer {
public:
    // Copies the oldest item into `out` (exactly item_size() bytes) and removes it. False if the
    // ring is empty, if the size is wrong (nothing is removed), or once the handle is corrupt().
    [[nodiscard]] bool try_pop(std::span<std::byte> out) noexcept;

    // Pops up to `count` items into `out` back to back (`out` must hold at least
    // count * item_size() bytes, else nothing is popped); returns how many.
    [[nodiscard]] std::size_t pop_batch(std::span<std::byte> out, std::size_t count) noexcept;

    [[nodiscard]] std::size_t size_approx() const noexcept;
    [[nodiscard]] std::uint32_t capacity() const noexcept { return capacity_; }
    [[nodiscard]] std::uint32_t item_size() const noexcept { return item_size_; }
    [[nodiscard]] bool corrupt() const noexcept { return fault_.has_value(); }
    [[nodiscard]] Result<void> health() const;

private:
    friend class SpscRing;
    SpscConsumer(const SpscRing& ring, std::uint64_t tail);
    // The slot under tail_ is not filled: empty, or a sequence no protocol allows (fault).
    bool refuse(std::uint64_t sequence) noexcept;

    SpscRingHeader* header_;
    std::byte* slots_;
    std::uint32_t item_size_;
    std::uint32_t stride_;
    std::uint32_t capacity_;
    std::uint64_t mask_;
    std::uint64_t tail_;  // authoritative: only this handle moves it
    std::optional<detail::QueueFault> fault_;
    std::string name_;
};

class SpscRing {
public:
    // Makes a ring of `capacity` items (a power of two, at least 2: with one slot, "written" and
    // "free for the next lap" would be the same sequence) of `item_size` bytes (1..kMaxItemSize).
    // `where` picks the area as for Segment::create: "" or "common", a guest's name for the
    // link to that guest, or an area label (operator use).
    [[nodiscard]] static Result<SpscRing> create(const Region& region, std::string_view name, std::uint32_t item_size,
                                                 std::uint32_t capacity, std::string_view where = {});

    // Opens an existing ring by name in the areas this process holds. With `expected_item_size`
    // non-zero, a ring of another item size is refused (RegionError::SizeConflict).
    [[nodiscard]] static Result<SpscRing> open(const Region& region, std::string_view name,
                                               std::uint32_t expected_item_size = 0);

    // Removes the ring: its owner guest, the operator or the creator may. Handles still in use
    // keep working on memory that may be reused; stop both sides first.
    [[nodiscard]] static Result<void> remove(const Region& region, std::string_view name);

    // The handles. Each checks the shared indices it starts from (RegionError::Corrupt).
    [[nodiscard]] Result<SpscProducer> producer() const;
    [[nodiscard]] Result<SpscConsumer> consumer() const;

    // Items in the ring now (0..capacity), from both shared indices; for monitoring.
    [[nodiscard]] std::size_t size_approx() const noexcept;
    [[nodiscard]] std::uint32_t capacity() const noexcept { return capacity_; }
    [[nodiscard]] std::uint32_t item_size() const noexcept { return item_size_; }
    [[nodiscard]] const ObjectInfo& object() const noexcept { return object_; }
    [[nodiscard]] const std::string& area_label() const noexcept { return area_label_; }
    [[nodiscard]] std::uint64_t region_offset() const noexcept { return region_offset_; }

private:
    friend class SpscProducer;
    friend class SpscConsumer;
    SpscRing(ObjectInfo object, std::string area_label, std::uint64_t region_offset, SpscRingHeader* header,
             std::uint32_t item_size, std::uint32_t capacity);

    ObjectInfo object_;
    std::string area_label_;
    std::uint64_t region_offset_ = 0;
    SpscRingHeader* header_ = nullptr;
    std::byte* slots_ = nullptr;
    std::uint32_t item_size_ = 0;  // validated copies: never re-read from shared memory
    std::uint32_t capacity_ = 0;
};

// ---- The hot paths, inline ------------------------------------------------------------------
// A call per item cost the ring a third of its throughput, and a copy of a size known only at run
// time most of the rest (copy_item.hpp). The ordering contract is at the top of src/spsc_ring.cpp.

inline bool SpscProducer::try_push(std::span<const std::byte> item) noexcept {
    if (fault_ || item.size() != item_size_) [[unlikely]]
        return false;
    // Full by the cached tail: only then is the consumer's line read [P1].
    if (head_ - cached_tail_ >= capacity_) [[unlikely]]
        if (!reload_tail()) return false;
    std::byte* slot = slots_ + (head_ & mask_) * stride_;
    // item.size(), equal to item_size_ here: a caller's fixed-size span makes the copy fixed too.
    detail::copy_item(slot + sizeof(SpscSlot), item.data(), item.size());
    // release: publishes the item [P2 -> C1].
    layout::atomic(reinterpret_cast<SpscSlot*>(slot)->sequence).store(head_ + 1, std::memory_order_release);
    ++head_;
    // release: a later producer handle that starts from head finds the slots below it written [P3].
    layout::atomic(header_->head).store(head_, std::memory_order_release);
    return true;
}

inline bool SpscConsumer::try_pop(std::span<std::byte> out) noexcept {
    if (fault_ || out.size() != item_size_) [[unlikely]]
        return false;
    std::byte* slot = slots_ + (tail_ & mask_) * stride_;
    // acquire: pairs with the producer's release of this word [P2]: the item is written.
    const std::uint64_t sequence =
        layout::atomic(reinterpret_cast<SpscSlot*>(slot)->sequence).load(std::memory_order_acquire);
    if (sequence != tail_ + 1) [[unlikely]]
        return refuse(sequence);
    detail::copy_item(out.data(), slot + sizeof(SpscSlot), out.size());
    ++tail_;
    // release: hands the slot back to the producer's next lap [C3 -> P1], and is where a later
    // consumer handle starts. The slot's own line is not written: it stays with the producer.
    layout::atomic(header_->tail).store(tail_, std::memory_order_release);
    return true;
}

}  // namespace nk::ipc
