// MpmcQueue: the ordering contract (Dmitry Vyukov's bounded MPMC queue, checked against an
// untrusted peer).
//
// Every slot has a sequence number s. For position p, which uses slot p & mask:
//   s == p       the slot is free for the push that claims p;
//   s == p + 1   the slot holds the item pushed at p, for the pop that claims p;
//   the pop at p sets s = p + capacity: free for the push one lap later.
//
//   push (any thread)                               pop (any thread)
//   ---------------------------------------------   ---------------------------------------------
//   [E1] p = load enqueue_pos (acquire)             [D1] p = load dequeue_pos (acquire)
//   [E2] s = load slot.sequence (acquire)           [D2] s = load slot.sequence (acquire)
//   [E3] s == p: CAS enqueue_pos p -> p+1 (acq_rel) [D3] s == p+1: CAS dequeue_pos p -> p+1 (acq_rel)
//   [E4] copy the item into the slot                [D4] copy the item out of the slot
//   [E5] store slot.sequence = p + 1 (release)      [D5] store slot.sequence = p + capacity (release)
//
// E5 -> D2: a pop that sees s == p + 1 sees the bytes the push at p copied in.
// D5 -> E2: a push that sees s == p one lap later knows the pop has finished copying out.
// The CAS (E3, D3) decides which thread owns position p; only its winner touches the slot's
// bytes, and a failed CAS hands back the newer position to try.
//
// The data needs only the slot sequences; Vyukov's positions are relaxed. Here they are acquire
// and release so that the window checks below are exact rather than heuristic: a thread that
// loads position p (E1, D1, or a failed CAS, from the release sequence of the CAS that made it)
// also sees every slot sequence the claimers of the positions before p saw. That gives, for a
// thread at position p with capacity c:
//
//   push sees s <  p:  legal only for p - c <= s (the push at p - c saw s == p - c). The slot is
//                      still in use one lap behind: the queue is full. Below: corrupt.
//   push sees s >  p:  legal only if another push claimed p, whose CAS happens before its E5 and
//                      so before our E2: reloading enqueue_pos must give a later position. If it
//                      does not, the sequence is corrupt.
//   pop  sees s <  p + 1:  legal only for p - c + 1 <= s (the pop at p - c saw s == p - c + 1).
//                      The item is not published yet: the queue is empty. Below: corrupt.
//   pop  sees s >  p + 1:  legal only if another pop claimed p (its D3 precedes its D5 = p + c,
//                      and c >= 2 makes that > p + 1): dequeue_pos must have moved on.
//
// On x86 the acquire loads and acq_rel CAS cost nothing over relaxed ones.
//
// Trust: slots are addressed as position & mask with the object's own mask and stride, taken
// from the validated header at open, so no position or sequence a peer writes can address memory
// outside the slots. A value outside its window trips the fault latch, after which this object
// refuses every call. Each call makes at most kMaxRaces attempts, so a peer that keeps rewriting
// a position cannot hold a caller in the loop. A peer that writes values inside the windows can
// stall the queue or pass garbage items, but cannot do more.
#include "nk/ipc/mpmc_queue.hpp"

#include <algorithm>
#include <cstring>
#include <utility>

#include "named_object.hpp"
#include "nk/nanokernel/access_policy.hpp"
#include "queue_support.hpp"

namespace nk::ipc {
namespace {

constexpr layout::ObjectKind kKind = layout::ObjectKind::MpmcQueue;
// Vyukov's scheme needs two slots: with one, "free for the next lap" (p + 1) and "holds the item
// pushed at p" (p + 1) would be the same sequence.
constexpr std::uint32_t kMinCapacity = 2;

std::uint32_t stride_of(std::uint32_t item_size) {
    // item_size <= kMaxItemSize, so this does not overflow.
    constexpr std::uint32_t align = alignof(MpmcSlot);
    return (static_cast<std::uint32_t>(sizeof(MpmcSlot)) + item_size + align - 1) / align * align;
}

std::atomic_ref<std::uint64_t> sequence_of(std::byte* slot) {
    return layout::atomic(reinterpret_cast<MpmcSlot*>(slot)->sequence);
}

}  // namespace

MpmcQueue::MpmcQueue(ObjectInfo object, std::string area_label, std::uint64_t region_offset, MpmcQueueHeader* header,
                     std::uint32_t item_size, std::uint32_t capacity, std::uint32_t slot_stride)
    : object_(std::move(object)),
      area_label_(std::move(area_label)),
      region_offset_(region_offset),
      header_(header),
      slots_(reinterpret_cast<std::byte*>(header) + sizeof(MpmcQueueHeader)),
      item_size_(item_size),
      capacity_(capacity),
      slot_stride_(slot_stride),
      mask_(std::uint64_t{capacity} - 1),
      faults_(std::make_unique<detail::FaultLatch>()) {}

Result<MpmcQueue> MpmcQueue::create(const Region& region, std::string_view name, std::uint32_t item_size,
                                    std::uint32_t capacity, std::string_view where) {
    if (auto allowed = check_access(region, name, Rights::ReadWrite); !allowed) return fail(std::move(allowed.error()));
    if (auto ok = detail::check_create_arguments(kKind, name, item_size, capacity, kMinCapacity); !ok)
        return fail(std::move(ok.error()));
    const detail::QueueShape shape{item_size, capacity, stride_of(item_size), sizeof(MpmcQueueHeader)};
    auto made = detail::create_object(region, name, kKind,
                                      detail::queue_bytes(sizeof(MpmcQueueHeader), capacity, shape.slot_stride), where);
    if (!made) return fail(std::move(made.error()));
    auto data = region.bytes(made->region_offset, made->object.size, true);
    if (!data) return fail(std::move(data.error()));
    // Objects are page-aligned, so the header's 64-byte alignment holds.
    auto* header = reinterpret_cast<MpmcQueueHeader*>(*data);
    MpmcQueue queue(std::move(made->object), std::move(made->area_label), made->region_offset, header, item_size,
                    capacity, shape.slot_stride);
    // Positions start at zero (the directory zero-fills new objects); slot i is free for the push
    // at position i.
    for (std::uint64_t i = 0; i < capacity; ++i) {
        // relaxed: nobody uses the queue before the magic is published (release, below).
        sequence_of(queue.slot_at(i)).store(i, std::memory_order_relaxed);
    }
    detail::publish_header(*header, kMpmcQueueMagic, kMpmcQueueLayoutVersion, shape);
    return queue;
}

Result<MpmcQueue> MpmcQueue::open(const Region& region, std::string_view name, std::uint32_t expected_item_size) {
    if (auto allowed = check_access(region, name, Rights::ReadWrite); !allowed) return fail(std::move(allowed.error()));
    auto found = detail::find_object(region, name, kKind);
    if (!found) return fail(std::move(found.error()));
    auto data = region.bytes(found->region_offset, found->object.size, true);
    if (!data) return fail(std::move(data.error()));
    auto shape = detail::read_queue_header<MpmcQueueHeader>(*data, found->object.size, kKind, name, kMpmcQueueMagic,
                                                            kMpmcQueueLayoutVersion, kMinCapacity, stride_of);
    if (!shape) return fail(std::move(shape.error()));
    if (expected_item_size != 0 && expected_item_size != shape->item_size)
        return fail(RegionError::SizeConflict, detail::describe(kKind, name) + " carries items of " +
                                                   std::to_string(shape->item_size) + " bytes, not " +
                                                   std::to_string(expected_item_size));
    return MpmcQueue(std::move(found->object), std::move(found->area_label), found->region_offset,
                     reinterpret_cast<MpmcQueueHeader*>(*data), shape->item_size, shape->capacity, shape->slot_stride);
}

Result<void> MpmcQueue::remove(const Region& region, std::string_view name) {
    return detail::remove_object(region, name, kKind);
}

std::byte* MpmcQueue::slot_at(std::uint64_t position) const noexcept {
    return slots_ + (position & mask_) * slot_stride_;
}

void MpmcQueue::trip(const char* what, std::uint64_t position, std::uint64_t seen, std::uint64_t low,
                     std::uint64_t high) noexcept {
    faults_->trip(detail::QueueFault{what, position & mask_, seen, low, high});
}

bool MpmcQueue::try_push(std::span<const std::byte> item) noexcept {
    if (item.size() != item_size_ || faults_->tripped()) return false;
    auto enqueue = layout::atomic(header_->enqueue_pos);
    // acquire [E1]: joins the release sequence of the claims before pos (see the contract).
    std::uint64_t pos = enqueue.load(std::memory_order_acquire);
    for (std::uint32_t race = 0; race < kMaxRaces; ++race) {
        std::byte* slot = slot_at(pos);
        // acquire [E2]: pairs with the release in try_pop() [D5]: the last pop of this slot is done.
        const std::uint64_t seq = sequence_of(slot).load(std::memory_order_acquire);
        const auto ahead = static_cast<std::int64_t>(seq - pos);
        if (ahead == 0) {
            // acq_rel [E3]: release heads the sequence later claimers acquire (E1); acquire on
            // failure, likewise, for the newer position it hands back in pos.
            if (enqueue.compare_exchange_weak(pos, pos + 1, std::memory_order_acq_rel, std::memory_order_acquire)) {
                std::memcpy(slot + sizeof(MpmcSlot), item.data(), item_size_);
                // release [E5]: publishes the item; pairs with the acquire in try_pop() [D2].
                sequence_of(slot).store(pos + 1, std::memory_order_release);
                return true;
            }
        } else if (ahead < 0) {
            if (ahead < -static_cast<std::int64_t>(capacity_)) {
                trip("slot sequence", pos, seq, pos - capacity_, pos);
                return false;
            }
            // relaxed: a statistic; orders nothing.
            layout::atomic(header_->full_count).fetch_add(1, std::memory_order_relaxed);
            return false;
        } else {
            // acquire [E1]: as above; must be past pos, since a push claimed pos (see the contract).
            const std::uint64_t now = enqueue.load(std::memory_order_acquire);
            if (static_cast<std::int64_t>(now - pos) <= 0) {
                trip("slot sequence", pos, seq, pos - capacity_, pos);
                return false;
            }
            pos = now;
        }
    }
    return false;
}

bool MpmcQueue::try_pop(std::span<std::byte> out) noexcept {
    if (out.size() != item_size_ || faults_->tripped()) return false;
    auto dequeue = layout::atomic(header_->dequeue_pos);
    // acquire [D1]: joins the release sequence of the claims before pos (see the contract).
    std::uint64_t pos = dequeue.load(std::memory_order_acquire);
    for (std::uint32_t race = 0; race < kMaxRaces; ++race) {
        std::byte* slot = slot_at(pos);
        // acquire [D2]: pairs with the release in try_push() [E5]: the item's bytes are written.
        const std::uint64_t seq = sequence_of(slot).load(std::memory_order_acquire);
        const auto ahead = static_cast<std::int64_t>(seq - (pos + 1));
        if (ahead == 0) {
            // acq_rel [D3]: release heads the sequence later claimers acquire (D1); acquire on
            // failure, likewise, for the newer position it hands back in pos.
            if (dequeue.compare_exchange_weak(pos, pos + 1, std::memory_order_acq_rel, std::memory_order_acquire)) {
                std::memcpy(out.data(), slot + sizeof(MpmcSlot), item_size_);
                // release [D5]: hands the slot to the push one lap later; pairs with the acquire
                // in try_push() [E2].
                sequence_of(slot).store(pos + capacity_, std::memory_order_release);
                return true;
            }
        } else if (ahead < 0) {
            if (ahead < -static_cast<std::int64_t>(capacity_)) {
                trip("slot sequence", pos, seq, pos + 1 - capacity_, pos + 1);
                return false;
            }
            return false;  // empty, or the push at pos has not published yet
        } else {
            // acquire [D1]: as above; must be past pos, since a pop claimed pos (see the contract).
            const std::uint64_t now = dequeue.load(std::memory_order_acquire);
            if (static_cast<std::int64_t>(now - pos) <= 0) {
                trip("slot sequence", pos, seq, pos + 1 - capacity_, pos + 1);
                return false;
            }
            pos = now;
        }
    }
    return false;
}

std::size_t MpmcQueue::size_approx() const noexcept {
    // acquire: joins the claims' release sequence; every pop below the position loaded saw its
    // item published, and so its push's claim, so the enqueue position loaded next is not lower.
    const std::uint64_t popped = layout::atomic(header_->dequeue_pos).load(std::memory_order_acquire);
    // relaxed: a snapshot for monitoring; no slot is read on its strength.
    const std::uint64_t pushed = layout::atomic(header_->enqueue_pos).load(std::memory_order_relaxed);
    const auto n = static_cast<std::int64_t>(pushed - popped);
    return static_cast<std::size_t>(std::clamp<std::int64_t>(n, 0, capacity_));  // clamped: untrusted
}

Result<void> MpmcQueue::health() const {
    if (auto fault = faults_->fault()) return fail(detail::corruption_error(kKind, object_.name, *fault));
    if (faults_->tripped())  // a thread is still recording it
        return fail(RegionError::Corrupt, detail::describe(kKind, object_.name) + " is corrupt");
    return {};
}

}  // namespace nk::ipc
