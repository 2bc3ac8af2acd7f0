// Control pages and live guest entries (control_page.hpp).
#include "control_page.hpp"

#include <cstddef>

namespace nk::detail {

int guest_index(const Region& region, std::uint16_t guest_id) {
    const auto& tables = region.tables();
    for (std::uint32_t i = 0; i < tables.header.guest_count && i < layout::kMaxGuests; ++i)
        if (tables.guests[i].id == guest_id) return static_cast<int>(i);
    return -1;
}

layout::ControlPage* control_page(const Region& region, std::uint16_t guest_id, bool want_write) {
    const int index = guest_index(region, guest_id);
    if (index < 0) return nullptr;
    const AreaInfo* area = region.area(region.tables().guests[index].control_area);
    if (area == nullptr || area->kind != layout::AreaKind::Control || area->owner_guest != guest_id) return nullptr;
    auto bytes = region.bytes(area->offset, sizeof(layout::ControlPage), want_write);
    return bytes ? reinterpret_cast<layout::ControlPage*>(*bytes) : nullptr;
}

const layout::GuestEntry* live_guest(const Region& region, std::uint16_t guest_id) {
    const int index = guest_index(region, guest_id);
    if (index < 0) return nullptr;
    const AreaInfo* management = region.area(0);
    if (management == nullptr || management->kind != layout::AreaKind::Management) return nullptr;
    const std::uint64_t at = management->offset + offsetof(layout::ManagementTables, guests) +
                             static_cast<std::uint64_t>(index) * sizeof(layout::GuestEntry);
    auto bytes = region.bytes(at, sizeof(layout::GuestEntry), false);
    return bytes ? reinterpret_cast<const layout::GuestEntry*>(*bytes) : nullptr;
}

bool guest_is_up(const layout::GuestEntry& entry) {
    // acquire: pairs with nkd's release of the state (Region::set_guest_state's generation bump).
    const auto state = static_cast<layout::GuestState>(
        layout::atomic(const_cast<std::uint32_t&>(entry.state)).load(std::memory_order_acquire));
    return state == layout::GuestState::Running || state == layout::GuestState::Starting ||
           state == layout::GuestState::Configured;
}

}  // namespace nk::detail
