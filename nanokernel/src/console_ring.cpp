// ConsoleRing (console_ring.hpp).
#include "nk/nanokernel/console_ring.hpp"

#include <algorithm>
#include <cstring>

#include "nk/nanokernel/directory.hpp"

namespace nk {

Result<ConsoleRing> ConsoleRing::open(const Region& region, std::uint16_t guest_id, bool create) {
    auto guest = region.guest(guest_id);
    if (!guest) return fail(RegionError::NotFound, "no guest with id " + std::to_string(guest_id));
    const AreaInfo* area = region.area(guest->pnv_area);
    if (area == nullptr || !area->mapped)
        return fail(RegionError::NotMapped, "guest '" + guest->name + "''s PNV area is not held here");
    const std::uint64_t size = sizeof(ConsoleRingHeader) + kConsoleRingBytes;
    Directory directory(region, guest->pnv_area);
    auto object = create ? directory.attach_or_create(kConsoleRingId, layout::ObjectKind::Pnv, size, guest_id,
                                                      guest->incarnation)
                         : directory.find(kConsoleRingId);
    if (!object) return fail(std::move(object.error()));
    if (object->size < size)
        return fail(RegionError::Corrupt, "guest '" + guest->name + "''s console ring has " +
                                              std::to_string(object->size) + " bytes, less than " + std::to_string(size));
    auto bytes = region.bytes(area->offset + object->area_offset, size, create);
    if (!bytes) return fail(std::move(bytes.error()));
    auto* header = reinterpret_cast<ConsoleRingHeader*>(*bytes);
    if (create && (header->magic != kConsoleRingMagic || header->capacity != kConsoleRingBytes)) {
        // New, or damaged by the guest: start it afresh.
        header->version = 1;
        header->capacity = kConsoleRingBytes;
        layout::atomic(header->written).store(0, std::memory_order_relaxed);
        header->magic = kConsoleRingMagic;
    }
    if (header->magic != kConsoleRingMagic || header->capacity != kConsoleRingBytes)
        return fail(RegionError::Corrupt, "guest '" + guest->name + "''s console ring has a damaged header");
    return ConsoleRing(header, kConsoleRingBytes);
}

void ConsoleRing::append(std::string_view input) {
    // Only the tail of a long write can stay.
    if (input.size() > capacity_) input.remove_prefix(input.size() - capacity_);
    auto written = layout::atomic(header_->written);
    std::uint64_t at = written.load(std::memory_order_relaxed);
    for (char c : input) text()[at++ % capacity_] = c;
    // release: the text before the count; pairs with the acquire in tail().
    written.store(at, std::memory_order_release);
}

std::vector<std::string> ConsoleRing::tail(std::size_t max_lines) const {
    auto written = layout::atomic(header_->written);
    const std::uint64_t end = written.load(std::memory_order_acquire);
    const std::uint64_t length = std::min<std::uint64_t>(end, capacity_);
    std::string copy(length, '\0');
    for (std::uint64_t i = 0; i < length; ++i) copy[i] = text()[(end - length + i) % capacity_];
    // Bytes the writer overwrote while we copied are dropped from the front.
    const std::uint64_t now = written.load(std::memory_order_acquire);
    const std::uint64_t lost = std::min<std::uint64_t>(length, now > end ? now - end : 0);
    copy.erase(0, lost);
    // The first line may be cut by the ring's start: drop it unless the ring never wrapped.
    if (end > capacity_ || lost > 0) {
        const auto newline = copy.find('\n');
        copy.erase(0, newline == std::string::npos ? copy.size() : newline + 1);
    }
    std::vector<std::string> lines;
    std::size_t start = 0;
    for (std::size_t nl; (nl = copy.find('\n', start)) != std::string::npos; start = nl + 1)
        lines.push_back(copy.substr(start, nl - start));
    if (lines.size() > max_lines) lines.erase(lines.begin(), lines.end() - static_cast<std::ptrdiff_t>(max_lines));
    return lines;
}

}  // namespace nk
