// SpscRing: the ordering contract between the producer and the consumer.
//
// Slot s holds a sequence word and an item; only the producer writes either. For the item of
// index i (slot i % capacity):
//   word == i + 1             written, for the consumer at index i
//   word == i + 1 - capacity  not yet: the previous lap's item (create sets slot s so)
// Whether slot i % capacity is free for item i is told by the consumer's tail: it is once
// tail > i - capacity, i.e. head - tail < capacity. So exactly capacity items fit.
//
//   producer (SpscProducer, index head)        consumer (SpscConsumer, index tail)
//   ----------------------------------------   ----------------------------------------
//   [P1] if head - cached_tail == capacity:    [C1] load word (acquire); == tail + 1: written
//        load tail (acquire) into cached_tail  [C2] copy the item out
//        still full: refuse                    [C3] store tail + 1 (release): hands the slot
//   [P2] copy the item in, store word =             back, and is where the next consumer
//        head + 1 (release)                         handle starts
//   [P3] store head (release), for monitoring
//        and the next producer handle
//
// P2 -> C1: a consumer that sees word == i + 1 also sees every byte of item i.
// C3 -> P1: a producer that sees tail > j knows the consumer is done reading item j's slot, so
//           it may overwrite it with item j + capacity.
// The consumer never reads head and the producer reads tail only when its cached copy says
// full, which in a ping-pong or a ring that keeps up is once a lap. The slots' lines are written
// by the producer alone, so the consumer's hand-back never pulls away the line the producer is
// filling; in layout 2 the consumer stored each slot's word back, and with 8-byte items (four
// slots a line) that cost a line transfer per item (docs/BENCHMARKS.md).
//
// Crashes: each side publishes its index after every item. A producer that died between [P2]
// and [P3] left one written slot above head; the next producer handle steps over it. A consumer
// that died before [C3] had not returned the item (its try_pop never returned true), and it did
// not hand the slot back: the next consumer handle starts from tail and reads that item, and the
// producer cannot have refilled its slot. Handing back is the one store that commits a pop.
//
// Trust: the words and tail live in memory the peer can write. Under tail the consumer accepts
// only tail + 1 (written) or tail + 1 - capacity (not yet written: empty); the producer accepts
// a tail only if head - tail <= capacity (modulo 2^64: not ahead of head, not more than a lap
// behind). Any other value stops the handle (QueueFault). Slots are addressed as index & mask
// with the handle's own mask, taken from the validated header at open, so nothing in shared
// memory makes a handle touch memory outside the ring.
#include "nk/ipc/spsc_ring.hpp"

#include <algorithm>
#include <cstring>
#include <utility>

#include "nk/ipc/detail/copy_item.hpp"
#include "named_object.hpp"
#include "nk/nanokernel/access_policy.hpp"
#include "queue_support.hpp"

namespace nk::ipc {
namespace {

constexpr layout::ObjectKind kKind = layout::ObjectKind::SpscRing;
constexpr std::uint32_t kMinCapacity = 2;  // with 1, "written" and "free next lap" coincide

std::uint32_t stride_of(std::uint32_t item_size) { return spsc_slot_stride(item_size); }

SpscSlot& slot_at(std::byte* slots, std::uint64_t index, std::uint64_t mask, std::uint32_t stride) {
    return *reinterpret_cast<SpscSlot*>(slots + (index & mask) * stride);
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
    // head, tail and full_count start at zero: the directory zero-fills new objects. Slot s reads
    // "not yet written" for index s; nobody can use the ring before the magic below is published.
    std::byte* slots = *data + sizeof(SpscRingHeader);
    for (std::uint32_t s = 0; s < capacity; ++s)
        layout::atomic(slot_at(slots, s, capacity - 1, shape.slot_stride).sequence)
            .store(std::uint64_t{s} + 1 - capacity, std::memory_order_relaxed);  // wraps on purpose
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

// Where a new handle starts. Each side publishes its index after every item. A producer that
// died left head at most one behind, between writing an item's word and publishing head; the
// word under the published head tells, whatever the consumer did since. A consumer's tail is
// exact: the store of tail is its pop. Acquire on each word pairs with [P2] as the hot path's
// load does.
Result<SpscProducer> SpscRing::producer() const {
    const std::uint64_t mask = capacity_ - 1;
    const std::uint32_t stride = stride_of(item_size_);
    auto word = [&](std::uint64_t index) {
        return layout::atomic(slot_at(slots_, index, mask, stride).sequence).load(std::memory_order_acquire);
    };
    // acquire: takes over from an earlier producer; pairs with its release store of head [P3].
    std::uint64_t head = layout::atomic(header_->head).load(std::memory_order_acquire);
    std::uint64_t sequence = word(head);
    if (sequence == head + 1) {  // item head written, head not published
        ++head;
        sequence = word(head);
    }
    if (sequence != head + 1 - capacity_)  // not yet written
        return fail(detail::corruption_error(kKind, object_.name, {"slot sequence", head & mask, sequence,
                                                                   head + 1 - capacity_, head + 1 - capacity_}));
    // acquire: pairs with the consumer's release of tail [C3]; read after the words, so a pop
    // of the item stepped over above is in it.
    const std::uint64_t tail = layout::atomic(header_->tail).load(std::memory_order_acquire);
    if (head - tail > capacity_)
        return fail(detail::corruption_error(kKind, object_.name, {"consumer index", detail::kNoSlot, tail,
                                                                   head - capacity_, head}));
    // relaxed: a statistic; orders nothing.
    const std::uint64_t full = layout::atomic(header_->full_count).load(std::memory_order_relaxed);
    return SpscProducer(*this, head, tail, full);
}

Result<SpscConsumer> SpscRing::consumer() const {
    const std::uint64_t mask = capacity_ - 1;
    const std::uint32_t stride = stride_of(item_size_);
    // acquire: takes over from an earlier consumer; pairs with its release store of tail [C3].
    const std::uint64_t tail = layout::atomic(header_->tail).load(std::memory_order_acquire);
    // acquire: pairs with [P2], as in try_pop.
    const std::uint64_t sequence =
        layout::atomic(slot_at(slots_, tail, mask, stride).sequence).load(std::memory_order_acquire);
    if (sequence != tail + 1 && sequence != tail + 1 - capacity_)  // written, or not yet
        return fail(detail::corruption_error(kKind, object_.name, {"slot sequence", tail & mask, sequence,
                                                                   tail + 1 - capacity_, tail + 1}));
    return SpscConsumer(*this, tail);
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
      stride_(stride_of(ring.item_size_)),
      capacity_(ring.capacity_),
      mask_(std::uint64_t{ring.capacity_} - 1),
      head_(head),
      cached_tail_(tail),
      full_count_(full_count),
      name_(ring.object_.name) {}

bool SpscProducer::reload_tail() noexcept {
    // acquire: pairs with the consumer's release of tail [C3 -> P1]: it is done reading every
    // slot below tail, so they may be refilled.
    const std::uint64_t tail = layout::atomic(header_->tail).load(std::memory_order_acquire);
    if (head_ - tail > capacity_) {  // ahead of head, or more than a lap behind: not a tail
        fault_ = detail::QueueFault{"consumer index", detail::kNoSlot, tail, head_ - capacity_, head_};
        return false;
    }
    cached_tail_ = tail;
    if (head_ - tail < capacity_) return true;
    // relaxed: a statistic for monitoring; this side is its only writer and orders nothing by it.
    layout::atomic(header_->full_count).store(++full_count_, std::memory_order_relaxed);
    return false;
}

std::size_t SpscProducer::push_batch(std::span<const std::byte> items, std::size_t count) noexcept {
    if (fault_ || count == 0 || count > items.size() / item_size_) return 0;
    // One slot at a time: each has its own word to publish. try_push counts a refusal for want
    // of space once, when the batch is cut short.
    std::size_t pushed = 0;
    while (pushed < count && try_push(items.subspan(pushed * item_size_, item_size_))) ++pushed;
    return pushed;
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

SpscConsumer::SpscConsumer(const SpscRing& ring, std::uint64_t tail)
    : header_(ring.header_),
      slots_(ring.slots_),
      item_size_(ring.item_size_),
      stride_(stride_of(ring.item_size_)),
      capacity_(ring.capacity_),
      mask_(std::uint64_t{ring.capacity_} - 1),
      tail_(tail),
      name_(ring.object_.name) {}

bool SpscConsumer::refuse(std::uint64_t sequence) noexcept {
    if (sequence != tail_ + 1 - capacity_)  // not "not yet written" either
        fault_ = detail::QueueFault{"slot sequence", tail_ & mask_, sequence, tail_ + 1 - capacity_, tail_ + 1};
    return false;
}

std::size_t SpscConsumer::pop_batch(std::span<std::byte> out, std::size_t count) noexcept {
    if (fault_ || count == 0 || count > out.size() / item_size_) return 0;
    std::size_t popped = 0;
    while (popped < count && try_pop(out.subspan(popped * item_size_, item_size_))) ++popped;
    return popped;
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
