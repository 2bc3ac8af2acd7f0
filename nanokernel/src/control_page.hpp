// Internal to nk::nanokernel: a guest's control page and live guest-table entry, found without
// allocating (interrupt raises and timer arms may run on an rt guest's hot path).
#pragma once

#include <cstdint>

#include "nk/nanokernel/layout.hpp"
#include "nk/nanokernel/region.hpp"

namespace nk::detail {

// The index of guest `guest_id` in the guest table, or -1.
[[nodiscard]] int guest_index(const Region& region, std::uint16_t guest_id);

// Guest `guest_id`'s control page, if this process holds it (writable when asked), else null.
[[nodiscard]] layout::ControlPage* control_page(const Region& region, std::uint16_t guest_id, bool want_write);

// The live guest-table entry (state and incarnation as nkd writes them); read its runtime fields
// with layout::atomic(). Null if there is no such guest.
[[nodiscard]] const layout::GuestEntry* live_guest(const Region& region, std::uint16_t guest_id);

// True while the guest can take interrupts and messages: running, starting, or never started by
// nkd (its processes attach by hand).
[[nodiscard]] bool guest_is_up(const layout::GuestEntry& entry);

}  // namespace nk::detail
