// SpscRing: the ordering contract between the producer and the consumer.
//
//   producer (SpscProducer)                    consumer (SpscConsumer)
//   ----------------------------------------   ----------------------------------------
//   [P1] load tail (acquire), only when the    [C1] load head (acquire), only when the
//        cached copy says the ring is full          cached copy says the ring is empty
//   [P2] copy the item into slot[head % cap]   [C2] copy the item out of slot[tail % cap]
//   [P3] store head + n (release)              [C3] store tail + n (release)
//
// P3 -> C1: a consumer that sees head = h also sees every byte the producer wrote into the slots
//           below h.
// C3 -> P1: a producer that sees tail = t knows the consumer has finished copying out of every
//           slot below t, so it may overwrite them.
// Each side is the only writer of its own index. It keeps the authoritative value in its handle
// and only ever stores it to shared memory, so a scribble on its own index is overwritten by the
// next store rather than believed. The other side's index is loaded only when the cached copy
// runs out (rigtorp's SPSCQueue), which keeps the peer's cache line out of the hot path.
//
// Trust: indices live in memory the peer can write. Each loaded index is checked against what
// the protocol allows: the producer's index only grows and stays within capacity of the
// consumer's (cached_head <= head <= tail + capacity), and the consumer's index only grows and
// never passes the producer's (cached_tail <= tail <= head), all modulo 2^64. A value outside
// that range stops the handle (QueueFault). Slots are addressed as index & mask with the handle's
// own mask, taken from the validated header at open, so no index can address memory outside the
// ring even before it is checked; the checks keep counts (batch lengths, size_approx) honest
// and report a broken peer instead of passing garbage on.
#include "nk/ipc/spsc_ring.hpp"

#include <algorithm>
#include <cstring>
#include <utility>

#include "named_object.hpp"
#include "nk/nanokernel/access_policy.hpp"
#include "queue_support.hpp"

namespace nk::ipc {
namespace {

constexpr layout::ObjectKind kKind = layout::ObjectKind::SpscRing;
constexpr std::uint32_t kMinCapacity = 1;

std::uint32_t stride_of(std::uint32_t item_size) { return item_size; }

// Copies `count` items between a caller's buffer and the slots starting at `index`, in at most
// two pieces when the run crosses the end of the slot array.
template <class Copy>
void for_each_run(std::uint64_t index, std::size_t count, std::uint32_t capacity, std::uint64_t mask, Copy copy) {
    const auto first_slot = static_cast<std::size_t>(index & mask);
    const std::size_t first = std::min<std::size_t>(count, capacity - first_slot);
    copy(first_slot, std::size_t{0}, first);
    if (count > first) copy(std::size_t{0}, first, count - first);
}

}  // namespace

// ---- SpscRing -------------------------------------------------------------------------------

SpscRing::SpscRing(ObjectInfo object, std::string area_label, std::uint64_t region_offset, SpscRingHeader* header,
                   std::uint32_t item_size, std::uint32_t capacity)
    : object_(std::move(object)),
      area_label_(std::move(area_label)),
      region_offset_(region_offset),
      header_(header),
      slots_(reinterpret_cast<std::byte*>(header) + sizeof(SpscRingHeader)),
      item_size_(item_size),
      capacity_(capacity) {}

Result<SpscRing> SpscRing::create(const Region& region, std::string_view name, std::uint32_t item_size,
                                  std::uint32_t capacity, std::string_view where) {
    if (auto allowed = check_access(region, name, Rights::ReadWrite); !allowed) return fail(std::move(allowed.error()));
    if (auto ok = detail::check_create_arguments(kKind, name, item_size, capacity, kMinCapacity); !ok)
        return fail(std::move(ok.error()));
    const detail::QueueShape shape{item_size, capacity, stride_of(item_size), sizeof(SpscRingHeader)};
    auto made = detail::create_object(region, name, kKind,
                                      detail::queue_bytes(sizeof(SpscRingHeader), capacity, shape.slot_stride), where);
    if (!made) return fail(std::move(made.error()));
    auto data = region.bytes(made->region_offset, made->object.size, true);
    if (!data) return fail(std::move(data.error()));
    // Objects are page-aligned, so the header's 64-byte alignment holds.
    auto* header = reinterpret_cast<SpscRingHeader*>(*data);
    // head, tail and full_count start at zero: the directory zero-fills new objects.
    detail::publish_header(*header, kSpscRingMagic, kSpscRingLayoutVersion, shape);
    return SpscRing(std::move(made->object), std::move(made->area_label), made->region_offset, header, item_size,
                    capacity);
}

Result<SpscRing> SpscRing::open(const Region& region, std::string_view name, std::uint32_t expected_item_size) {
    if (auto allowed = check_access(region, name, Rights::ReadWrite); !allowed) return fail(std::move(allowed.error()));
    auto found = detail::find_object(region, name, kKind);
    if (!found) return fail(std::move(found.error()));
    auto data = region.bytes(found->region_offset, found->object.size, true);
    if (!data) return fail(std::move(data.error()));
    auto shape = detail::read_queue_header<SpscRingHeader>(*data, found->object.size, kKind, name, kSpscRingMagic,
                                                           kSpscRingLayoutVersion, kMinCapacity, stride_of);
    if (!shape) return fail(std::move(shape.error()));
    if (expected_item_size != 0 && expected_item_size != shape->item_size)
        return fail(RegionError::SizeConflict, detail::describe(kKind, name) + " carries items of " +
                                                   std::to_string(shape->item_size) + " bytes, not " +
                                                   std::to_string(expected_item_size));
    return SpscRing(std::move(found->object), std::move(found->area_label), found->region_offset,
                    reinterpret_cast<SpscRingHeader*>(*data), shape->item_size, shape->capacity);
}

Result<void> SpscRing::remove(const Region& region, std::string_view name) {
    return detail::remove_object(region, name, kKind);
}

Result<SpscProducer> SpscRing::producer() const {
    // acquire: takes over from an earlier producer; pairs with its release store of head.
    const std::uint64_t head = layout::atomic(header_->head).load(std::memory_order_acquire);
    // acquire: pairs with the consumer's release store of tail (contract C3 -> P1).
    const std::uint64_t tail = layout::atomic(header_->tail).load(std::memory_order_acquire);
    // relaxed: a statistic; orders nothing.
    const std::uint64_t full = layout::atomic(header_->full_count).load(std::memory_order_relaxed);
    if (head - tail > capacity_)
        return fail(detail::corruption_error(kKind, object_.name, {"producer index", detail::kNoSlot, head, tail,
                                                                   tail + capacity_}));
    return SpscProducer(*this, head, tail, full);
}

Result<SpscConsumer> SpscRing::consumer() const {
    // acquire: takes over from an earlier consumer; pairs with its release store of tail.
    const std::uint64_t tail = layout::atomic(header_->tail).load(std::memory_order_acquire);
    // acquire: pairs with the producer's release store of head (contract P3 -> C1).
    const std::uint64_t head = layout::atomic(header_->head).load(std::memory_order_acquire);
    if (head - tail > capacity_)
        return fail(detail::corruption_error(kKind, object_.name, {"producer index", detail::kNoSlot, head, tail,
                                                                   tail + capacity_}));
    return SpscConsumer(*this, head, tail);
}

std::size_t SpscRing::size_approx() const noexcept {
    // acquire: pairs with the consumer's release of tail; the producer had published at least
    // `tail` items before, so the head loaded next is not below it.
    const std::uint64_t tail = layout::atomic(header_->tail).load(std::memory_order_acquire);
    // relaxed: a snapshot for monitoring; no slot is read.
    const std::uint64_t head = layout::atomic(header_->head).load(std::memory_order_relaxed);
    return static_cast<std::size_t>(std::min<std::uint64_t>(head - tail, capacity_));  // clamped: untrusted
}

// ---- SpscProducer ---------------------------------------------------------------------------

SpscProducer::SpscProducer(const SpscRing& ring, std::uint64_t head, std::uint64_t tail, std::uint64_t full_count)
    : header_(ring.header_),
      slots_(ring.slots_),
      item_size_(ring.item_size_),
      capacity_(ring.capacity_),
      mask_(std::uint64_t{ring.capacity_} - 1),
      head_(head),
      cached_tail_(tail),
      full_count_(full_count),
      name_(ring.object_.name) {}

bool SpscProducer::load_tail() noexcept {
    // acquire: pairs with the release store of tail in SpscConsumer::try_pop()/pop_batch()
    // (contract C3 -> P1): the consumer is done with every slot below `tail`.
    const std::uint64_t tail = layout::atomic(header_->tail).load(std::memory_order_acquire);
    // cached_tail_ <= tail <= head_ (mod 2^64): the consumer only moves forward, never past us.
    if (head_ - tail > head_ - cached_tail_) {
        fault_ = detail::QueueFault{"consumer index", detail::kNoSlot, tail, cached_tail_, head_};
        return false;
    }
    cached_tail_ = tail;
    return true;
}

void SpscProducer::note_full() noexcept {
    // relaxed: a statistic for monitoring; this side is its only writer and orders nothing by it.
    layout::atomic(header_->full_count).store(++full_count_, std::memory_order_relaxed);
}

bool SpscProducer::try_push(std::span<const std::byte> item) noexcept {
    if (fault_ || item.size() != item_size_) return false;
    if (head_ - cached_tail_ >= capacity_) {  // full as last seen: the consumer may have moved on
        if (!load_tail()) return false;
        if (head_ - cached_tail_ >= capacity_) {
            note_full();
            return false;
        }
    }
    std::memcpy(slots_ + (head_ & mask_) * item_size_, item.data(), item_size_);
    ++head_;
    // release: publishes the slot just written; pairs with the acquire in
    // SpscConsumer::load_head() (contract P3 -> C1).
    layout::atomic(header_->head).store(head_, std::memory_order_release);
    return true;
}

std::size_t SpscProducer::push_batch(std::span<const std::byte> items, std::size_t count) noexcept {
    if (fault_ || count == 0 || count > items.size() / item_size_) return 0;
    std::uint64_t space = capacity_ - (head_ - cached_tail_);
    if (space < count) {
        if (!load_tail()) return 0;
        space = capacity_ - (head_ - cached_tail_);
    }
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(space, count));
    if (n < count) note_full();
    if (n == 0) return 0;
    for_each_run(head_, n, capacity_, mask_, [&](std::size_t slot, std::size_t from, std::size_t items_in_run) {
        std::memcpy(slots_ + slot * item_size_, items.data() + from * item_size_, items_in_run * item_size_);
    });
    head_ += n;
    // release: publishes the slots just written; pairs with the acquire in
    // SpscConsumer::load_head() (contract P3 -> C1).
    layout::atomic(header_->head).store(head_, std::memory_order_release);
    return n;
}

std::size_t SpscProducer::size_approx() const noexcept {
    // relaxed: a snapshot for the caller; no slot is touched on its strength.
    const std::uint64_t tail = layout::atomic(header_->tail).load(std::memory_order_relaxed);
    return static_cast<std::size_t>(std::min<std::uint64_t>(head_ - tail, capacity_));  // clamped: untrusted
}

Result<void> SpscProducer::health() const {
    if (fault_) return fail(detail::corruption_error(kKind, name_, *fault_));
    return {};
}

// ---- SpscConsumer ---------------------------------------------------------------------------

SpscConsumer::SpscConsumer(const SpscRing& ring, std::uint64_t head, std::uint64_t tail)
    : header_(ring.header_),
      slots_(ring.slots_),
      item_size_(ring.item_size_),
      capacity_(ring.capacity_),
      mask_(std::uint64_t{ring.capacity_} - 1),
      tail_(tail),
      cached_head_(head),
      name_(ring.object_.name) {}

bool SpscConsumer::load_head() noexcept {
    // acquire: pairs with the release store of head in SpscProducer::try_push()/push_batch()
    // (contract P3 -> C1): the slots below `head` are written.
    const std::uint64_t head = layout::atomic(header_->head).load(std::memory_order_acquire);
    // cached_head_ <= head <= tail_ + capacity (mod 2^64): the producer only moves forward and
    // never laps us.
    if (head - tail_ > capacity_ || head - tail_ < cached_head_ - tail_) {
        fault_ = detail::QueueFault{"producer index", detail::kNoSlot, head, cached_head_, tail_ + capacity_};
        return false;
    }
    cached_head_ = head;
    return true;
}

bool SpscConsumer::try_pop(std::span<std::byte> out) noexcept {
    if (fault_ || out.size() != item_size_) return false;
    if (cached_head_ == tail_) {  // empty as last seen: the producer may have moved on
        if (!load_head() || cached_head_ == tail_) return false;
    }
    std::memcpy(out.data(), slots_ + (tail_ & mask_) * item_size_, item_size_);
    ++tail_;
    // release: hands the slot back; pairs with the acquire in SpscProducer::load_tail()
    // (contract C3 -> P1).
    layout::atomic(header_->tail).store(tail_, std::memory_order_release);
    return true;
}

std::size_t SpscConsumer::pop_batch(std::span<std::byte> out, std::size_t count) noexcept {
    if (fault_ || count == 0 || count > out.size() / item_size_) return 0;
    if (cached_head_ - tail_ < count && !load_head()) return 0;
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(cached_head_ - tail_, count));
    if (n == 0) return 0;
    for_each_run(tail_, n, capacity_, mask_, [&](std::size_t slot, std::size_t to, std::size_t items_in_run) {
        std::memcpy(out.data() + to * item_size_, slots_ + slot * item_size_, items_in_run * item_size_);
    });
    tail_ += n;
    // release: hands the slots back; pairs with the acquire in SpscProducer::load_tail()
    // (contract C3 -> P1).
    layout::atomic(header_->tail).store(tail_, std::memory_order_release);
    return n;
}

std::size_t SpscConsumer::size_approx() const noexcept {
    // relaxed: a snapshot for the caller; no slot is read on its strength.
    const std::uint64_t head = layout::atomic(header_->head).load(std::memory_order_relaxed);
    return static_cast<std::size_t>(std::min<std::uint64_t>(head - tail_, capacity_));  // clamped: untrusted
}

Result<void> SpscConsumer::health() const {
    if (fault_) return fail(detail::corruption_error(kKind, name_, *fault_));
    return {};
}

}  // namespace nk::ipc
