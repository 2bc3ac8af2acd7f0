// Internal to nk::ipc: what SpscRing and MpmcQueue share when they are created and opened. Both
// headers start with the same fields in their first cache line (magic, layout_version,
// header_size, item_size, capacity, slot_stride, slots_offset); read_queue_header() copies and
// checks them once, so the queues work from validated local copies afterwards.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "nk/ipc/detail/queue_fault.hpp"
#include "nk/nanokernel/area_directory.hpp"
#include "nk/nanokernel/layout.hpp"
#include "nk/nanokernel/region_error.hpp"
#include "nk/nanokernel/result.hpp"

namespace nk::ipc::detail {

// The validated shape of a queue.
struct QueueShape {
    std::uint32_t item_size = 0;
    std::uint32_t capacity = 0;
    std::uint32_t slot_stride = 0;
    std::uint64_t slots_offset = 0;
};

// The bytes a queue of this shape needs: header, then capacity slots.
[[nodiscard]] inline std::uint64_t queue_bytes(std::uint64_t header_size, std::uint32_t capacity,
                                               std::uint32_t slot_stride) {
    // capacity <= 2^31 and slot_stride < 2^21: no overflow.
    return header_size + std::uint64_t{capacity} * slot_stride;
}

// Checks the arguments of create(): item size within limits, capacity a power of two >= min.
[[nodiscard]] Result<void> check_create_arguments(layout::ObjectKind kind, std::string_view name,
                                                  std::uint32_t item_size, std::uint32_t capacity,
                                                  std::uint32_t min_capacity);

// "spsc-ring 'name'"
[[nodiscard]] std::string describe(layout::ObjectKind kind, std::string_view name);

// The error health() returns for a recorded fault.
[[nodiscard]] Error corruption_error(layout::ObjectKind kind, std::string_view name, const QueueFault& fault);

// Copies the first cache line of the queue header at `object` (the object's whole extent, as the
// directory gave it) and checks it: magic (acquire, pairs with publish_header()), version, sizes,
// and that the slots fit in the extent. `stride_of` gives the slot stride this build uses for an
// item size.
template <class Header>
[[nodiscard]] Result<QueueShape> read_queue_header(std::byte* object, std::uint64_t object_size,
                                                   layout::ObjectKind kind, std::string_view name,
                                                   std::uint64_t magic, std::uint32_t version,
                                                   std::uint32_t min_capacity,
                                                   std::uint32_t (*stride_of)(std::uint32_t)) {
    const std::string what = describe(kind, name);
    if (object_size < sizeof(Header))
        return fail(RegionError::Corrupt, what + " has " + std::to_string(object_size) +
                                              " bytes, less than its header; the directory entry is damaged");
    auto* shared = reinterpret_cast<Header*>(object);
    // acquire: pairs with the release in publish_header(); the other fields of line 0 are set.
    const std::uint64_t seen_magic = layout::atomic(shared->magic).load(std::memory_order_acquire);
    if (seen_magic == 0)
        return fail(RegionError::Busy, what + " is not initialised: its creator is still setting it up, or died "
                                              "doing so (then remove it and create it again)");
    if (seen_magic != magic) return fail(RegionError::BadMagic, what + " does not start with a queue header of its kind");
    Header copy{};
    std::memcpy(static_cast<void*>(&copy), shared, kCacheLine);  // line 0 only: read once, then checked
    if (copy.layout_version != version)
        return fail(RegionError::VersionMismatch, what + " has layout version " + std::to_string(copy.layout_version) +
                                                      "; this build reads version " + std::to_string(version));
    if (copy.header_size != sizeof(Header) || copy.slots_offset != sizeof(Header))
        return fail(RegionError::SizeMismatch, what + " has a header of " + std::to_string(copy.header_size) +
                                                   " bytes with slots at " + std::to_string(copy.slots_offset) +
                                                   "; this build expects " + std::to_string(sizeof(Header)));
    if (copy.item_size == 0 || copy.item_size > kMaxItemSize || copy.slot_stride != stride_of(copy.item_size))
        return fail(RegionError::Corrupt, what + " has item size " + std::to_string(copy.item_size) +
                                              " and slot stride " + std::to_string(copy.slot_stride) +
                                              ", which do not fit together");
    if (copy.capacity < min_capacity || !std::has_single_bit(copy.capacity))
        return fail(RegionError::Corrupt, what + " has capacity " + std::to_string(copy.capacity) +
                                              ", not a power of two of at least " + std::to_string(min_capacity));
    if (queue_bytes(sizeof(Header), copy.capacity, copy.slot_stride) > object_size)
        return fail(RegionError::Corrupt, what + ": " + std::to_string(copy.capacity) + " slots of " +
                                              std::to_string(copy.slot_stride) + " bytes do not fit in its " +
                                              std::to_string(object_size) + " bytes");
    return QueueShape{copy.item_size, copy.capacity, copy.slot_stride, copy.slots_offset};
}

// Fills line 0 of a freshly created (zero-filled) queue header, magic last.
template <class Header>
void publish_header(Header& header, std::uint64_t magic, std::uint32_t version, const QueueShape& shape) {
    header.layout_version = version;
    header.header_size = static_cast<std::uint32_t>(sizeof(Header));
    header.item_size = shape.item_size;
    header.capacity = shape.capacity;
    header.slot_stride = shape.slot_stride;
    header.slots_offset = shape.slots_offset;
    // release: publishes the fields above and whatever the caller set up before (slot sequences);
    // pairs with the acquire in read_queue_header().
    layout::atomic(header.magic).store(magic, std::memory_order_release);
}

}  // namespace nk::ipc::detail
