#include "nk/ipc/pnv.hpp"

#include "nk/nanokernel/directory.hpp"
#include "nk/nanokernel/guest.hpp"

namespace nk::pnv {
namespace {

Result<GuestInfo> calling_guest(const Region& region) {
    const Identity& who = region.identity();
    if (who.role != Role::Guest)
        return fail(RegionError::InvalidArgument,
                    "PNV memory belongs to a guest: attach the region as a guest (this process is " +
                        std::string(to_string(who.role)) + ")");
    auto info = region.guest(who.guest_id);
    if (!info) return fail(RegionError::NotFound, "guest " + std::to_string(who.guest_id) + " is not in the platform");
    return *info;
}

}  // namespace

Result<Allocation> attach(const Region& region, std::string_view id, std::uint64_t size) {
    auto me = calling_guest(region);
    if (!me) return fail(std::move(me.error()));
    const AreaInfo* area = region.area(me->pnv_area);
    auto object = Directory(region, me->pnv_area)
                      .attach_or_create(id, layout::ObjectKind::Pnv, size, me->id, me->incarnation);
    if (!object) return fail(context(std::move(object.error()), "pnv attach '" + std::string(id) + "'"));
    const std::uint64_t offset = area->offset + object->area_offset;
    auto data = region.bytes(offset, object->size, true);
    if (!data) return fail(std::move(data.error()));
    return Allocation{std::string(id), offset, object->size, std::span<std::byte>(*data, object->size),
                      object->created_now, object->attach_count};
}

Result<Allocation> attach(std::string_view id, std::uint64_t size) {
    auto region = guest::attach();
    if (!region) return fail(std::move(region.error()));
    return attach(region->get(), id, size);
}

Result<void> free(const Region& region, std::string_view id) {
    auto me = calling_guest(region);
    if (!me) return fail(std::move(me.error()));
    return Directory(region, me->pnv_area).remove(id);
}

Result<void> free(const Region& region, std::string_view guest_name, std::string_view id) {
    const Identity& who = region.identity();
    auto guest = region.guest(guest_name);
    if (!guest) return fail(RegionError::NotFound, "no guest named '" + std::string(guest_name) + "'");
    if (who.role == Role::Guest && who.guest_id != guest->id)
        return fail(RegionError::AccessDenied, "a guest frees only its own PNV memory");
    if (who.role == Role::Observer) return fail(RegionError::AccessDenied, "an observer may not free PNV memory");
    return Directory(region, guest->pnv_area).remove(id);
}

Result<std::vector<Listing>> list(const Region& region) {
    std::vector<Listing> out;
    for (const auto& guest : region.guests()) {
        const AreaInfo* area = region.area(guest.pnv_area);
        if (area == nullptr || !area->mapped) continue;
        auto objects = Directory(region, guest.pnv_area).list();
        if (!objects) return fail(std::move(objects.error()));
        for (auto& object : *objects) {
            const std::uint64_t offset = area->offset + object.area_offset;
            out.push_back(Listing{guest.name, std::move(object), offset});
        }
    }
    return out;
}

}  // namespace nk::pnv
