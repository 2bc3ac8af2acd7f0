// SpscRing: the ordering contract between the producer and the consumer.
//
// Slot s holds a sequence word and an item. For the item of index i (slot i % capacity):
//   word == i             free for index i (create sets slot s to s; a consumer's hand-back)
//   word == i + 1         written, for the consumer at index i
//   word == i + capacity  consumed: free for index i + capacity
//
//   producer (SpscProducer, index head)        consumer (SpscConsumer, index tail)
//   ----------------------------------------   ----------------------------------------
//   [P1] load word (acquire); == head: free    [C1] load word (acquire); == tail + 1: written
//   [P2] copy the item in, store word =        [C2] copy the item out
//        head + 1 (release)                    [C3] store word = tail + capacity (release)
//   [P3] store head (release), for monitoring  [C4] store tail (release), for monitoring
//        and the next producer handle               and the next consumer handle
//
// P2 -> C1: a consumer that sees word == i + 1 also sees every byte of item i.
// C3 -> P1: a producer that sees word == i + capacity knows the consumer is done reading the
//           slot, so it may overwrite it.
// Neither side reads the other's index: the word under its own index says all it needs, in the
// cache line the item lives in. A ping-pong thus moves one line each way.
//
// Trust: the words live in memory the peer can write. Under head the producer accepts only head
// (free) or head + 1 - capacity (written at the previous lap, not yet consumed: full); under tail
// the consumer accepts only tail + 1 (written) or tail (not yet written: empty). Any other value
// stops the handle (QueueFault). Slots are addressed as index & mask with the handle's own mask,
// taken from the validated header at open, so nothing in shared memory makes a handle touch
// memory outside the ring.
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
    // head, tail and full_count start at zero: the directory zero-fills new objects. Slot s is
    // free for index s; nobody can use the ring before the magic below is published.
    std::byte* slots = *data + sizeof(SpscRingHeader);
    for (std::uint32_t s = 0; s < capacity; ++s)
        layout::atomic(slot_at(slots, s, capacity - 1, shape.slot_stride).sequence).store(s, std::memory_order_relaxed);
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

// Where a new handle starts. Each side publishes its index after every item, so a side that died
// left it at most one behind: between writing an item's word and publishing head (the producer),
// or between handing a slot back and publishing tail (the consumer). The word under the published
// index tells which, whatever the other side did since; acquire on each word pairs with [P2] and
// [C3] as the hot path's loads do.
Result<SpscProducer> SpscRing::producer() const {
    const std::uint64_t mask = capacity_ - 1;
    const std::uint32_t stride = stride_of(item_size_);
    auto word = [&](std::uint64_t index) {
        return layout::atomic(slot_at(slots_, index, mask, stride).sequence).load(std::memory_order_acquire);
    };
    // acquire: takes over from an earlier producer; pairs with its release store of head [P3].
    std::uint64_t head = layout::atomic(header_->head).load(std::memory_order_acquire);
    std::uint64_t sequence = word(head);
    if (sequence == head + 1 || sequence == head + capacity_) {  // item head written (and maybe read)
        ++head;
        sequence = word(head);
    }
    if (sequence != head && sequence != head + 1 - capacity_)  // free, or full
        return fail(detail::corruption_error(kKind, object_.name, {"slot sequence", head & mask, sequence,
                                                                   head + 1 - capacity_, head}));
    // relaxed: a statistic; orders nothing.
    const std::uint64_t full = layout::atomic(header_->full_count).load(std::memory_order_relaxed);
    return SpscProducer(*this, head, full);
}

Result<SpscConsumer> SpscRing::consumer() const {
    const std::uint64_t mask = capacity_ - 1;
    const std::uint32_t stride = stride_of(item_size_);
    auto word = [&](std::uint64_t index) {
        return layout::atomic(slot_at(slots_, index, mask, stride).sequence).load(std::memory_order_acquire);
    };
    // acquire: takes over from an earlier consumer; pairs with its release store of tail [C4].
    std::uint64_t tail = layout::atomic(header_->tail).load(std::memory_order_acquire);
    std::uint64_t sequence = word(tail);
    if (sequence == tail + capacity_ || sequence == tail + capacity_ + 1) {  // handed back (and maybe refilled)
        ++tail;
        sequence = word(tail);
    }
    if (sequence != tail + 1 && sequence != tail)  // written, or not yet
        return fail(detail::corruption_error(kKind, object_.name, {"slot sequence", tail & mask, sequence, tail,
                                                                   tail + 1}));
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

SpscProducer::SpscProducer(const SpscRing& ring, std::uint64_t head, std::uint64_t full_count)
    : header_(ring.header_),
      slots_(ring.slots_),
      item_size_(ring.item_size_),
      stride_(stride_of(ring.item_size_)),
      capacity_(ring.capacity_),
      mask_(std::uint64_t{ring.capacity_} - 1),
      head_(head),
      full_count_(full_count),
      name_(ring.object_.name) {}

bool SpscProducer::refuse(std::uint64_t sequence) noexcept {
    if (sequence == head_ + 1 - capacity_) {  // item head - capacity is still unread: full
        // relaxed: a statistic for monitoring; this side is its only writer and orders nothing by it.
        layout::atomic(header_->full_count).store(++full_count_, std::memory_order_relaxed);
        return false;
    }
    fault_ = detail::QueueFault{"slot sequence", head_ & mask_, sequence, head_ + 1 - capacity_, head_};
    return false;
}

std::size_t SpscProducer::push_batch(std::span<const std::byte> items, std::size_t count) noexcept {
    if (fault_ || count == 0 || count > items.size() / item_size_) return 0;
    // One slot at a time: each has its own word to check and publish. try_push counts a refusal
    // for want of space once, when the batch is cut short.
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
    if (sequence != tail_)  // not "not yet written" either
        fault_ = detail::QueueFault{"slot sequence", tail_ & mask_, sequence, tail_, tail_ + 1};
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
