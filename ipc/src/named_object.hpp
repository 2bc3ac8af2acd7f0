// Internal to nk::ipc: where the named objects that guests share (segments, rings, queues) live,
// and how they are created, found and removed. Each public type adds its own checks (rights,
// its shared header) on top.
//
// Shared objects live in the link areas and the common area. `where` at creation picks the area:
// "" or "common" for the common area, a guest's name for the link between the caller's guest and
// that guest, or an area label such as "link.linux-rt" (operator use).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "nk/nanokernel/area_directory.hpp"
#include "nk/nanokernel/region.hpp"

namespace nk::ipc::detail {

// A named object and where it is in the region.
struct PlacedObject {
    ObjectInfo object;
    std::string area_label;
    std::uint64_t region_offset = 0;  // object->area_offset plus the area's offset
};

// A link or common area this process holds.
[[nodiscard]] bool holds_shared_objects(const AreaInfo& area);

// The area `where` names; `noun` names the kind of object in messages ("segments").
[[nodiscard]] Result<const AreaInfo*> area_for_create(const Region& region, std::string_view where,
                                                      std::string_view noun);

// Makes a zero-filled object of `size` bytes (rounded up to the page size) in the area `where`
// names, owned by the caller's guest (0 for the operator and the creator). The caller checks the
// access rules first.
[[nodiscard]] Result<PlacedObject> create_object(const Region& region, std::string_view name,
                                                 layout::ObjectKind kind, std::uint64_t size,
                                                 std::string_view where);

// The object `name` of `kind` in the shared areas this process holds. A name found in two areas
// is refused: names must be unique among the areas a guest holds. The caller checks the access
// rules first.
[[nodiscard]] Result<PlacedObject> find_object(const Region& region, std::string_view name,
                                               layout::ObjectKind kind);

// Removes the object `name` of `kind`: its owner guest, the operator or the creator may, with
// read-write rights.
[[nodiscard]] Result<void> remove_object(const Region& region, std::string_view name, layout::ObjectKind kind);

}  // namespace nk::ipc::detail
