#include "named_object.hpp"

#include <optional>
#include <utility>

#include "nk/nanokernel/access_policy.hpp"
#include "nk/nanokernel/directory.hpp"

namespace nk::ipc::detail {
namespace {

using layout::AreaKind;

std::uint32_t incarnation_of(const Region& region, std::uint16_t guest_id) {
    auto info = region.guest(guest_id);
    return info ? info->incarnation : 0;
}

std::string quoted(std::string_view s) { return "'" + std::string(s) + "'"; }

}  // namespace

bool holds_shared_objects(const AreaInfo& area) {
    return area.mapped && (area.kind == AreaKind::Link || area.kind == AreaKind::Common);
}

Result<const AreaInfo*> area_for_create(const Region& region, std::string_view where, std::string_view noun) {
    const Identity& who = region.identity();
    if (where.empty() || where == "common") {
        const AreaInfo* common = region.common_area();
        if (common == nullptr || !common->mapped)
            return fail(RegionError::NotMapped, "the common area is not mapped in this process");
        return common;
    }
    for (const auto& area : region.areas()) {
        if (area.label == where) {
            if (!holds_shared_objects(area))
                return fail(RegionError::AccessDenied,
                            std::string(noun) + " cannot be created in area '" + area.label + "' here");
            return &area;
        }
    }
    auto peer = region.guest(where);
    if (!peer) return fail(RegionError::NotFound, quoted(where) + " is neither a guest, an area nor 'common'");
    if (who.role != Role::Guest)
        return fail(RegionError::InvalidArgument, "only a guest creates in 'the link to " + std::string(where) +
                                                      "'; the operator names the area (link.A-B)");
    const AreaInfo* link = region.link_area(who.guest_id, peer->id);
    if (link == nullptr || !link->mapped) {
        auto me = region.guest(who.guest_id);
        return fail(RegionError::AccessDenied, "guest '" + (me ? me->name : std::string("?")) + "' has no link to '" +
                                                   std::string(where) + "' in the platform config");
    }
    return link;
}

Result<PlacedObject> create_object(const Region& region, std::string_view name, layout::ObjectKind kind,
                                   std::uint64_t size, std::string_view where) {
    const std::string noun(to_string(kind));
    auto area = area_for_create(region, where, noun + "s");
    if (!area) return fail(std::move(area.error()));
    const Identity& who = region.identity();
    const std::uint16_t owner = who.role == Role::Guest ? who.guest_id : 0;
    auto made = Directory(region, (*area)->index).create(name, kind, size, owner, incarnation_of(region, owner));
    if (!made) return fail(context(std::move(made.error()), "create " + noun + " " + quoted(name)));
    const std::uint64_t offset = (*area)->offset + made->area_offset;
    return PlacedObject{std::move(*made), (*area)->label, offset};
}

Result<PlacedObject> find_object(const Region& region, std::string_view name, layout::ObjectKind kind) {
    const std::string noun(to_string(kind));
    std::optional<PlacedObject> found;
    std::optional<PlacedObject> other_kind;  // for a message that says what the name is instead
    for (const auto& area : region.areas()) {
        if (!holds_shared_objects(area)) continue;
        auto object = Directory(region, area.index).find(name);
        if (!object) {
            if (object.error().code == make_error_code(RegionError::NotFound)) continue;
            return fail(context(std::move(object.error()), "open " + noun + " " + quoted(name)));
        }
        if (object->kind != kind) {
            other_kind = PlacedObject{*object, area.label, area.offset + object->area_offset};
            continue;
        }
        if (found)
            return fail(RegionError::InvalidArgument, noun + " " + quoted(name) + " exists in both '" +
                                                          found->area_label + "' and '" + area.label +
                                                          "'; names must be unique among the areas a guest holds");
        found = PlacedObject{*object, area.label, area.offset + object->area_offset};
    }
    if (found) return std::move(*found);
    if (other_kind)
        return fail(RegionError::NotFound, quoted(name) + " in area '" + other_kind->area_label + "' is a " +
                                               std::string(to_string(other_kind->object.kind)) + ", not a " + noun);
    return fail(RegionError::NotFound, "no " + noun + " named " + quoted(name) + " in the areas this process holds");
}

Result<void> remove_object(const Region& region, std::string_view name, layout::ObjectKind kind) {
    const std::string noun(to_string(kind));
    if (auto allowed = check_access(region, name, Rights::Read); !allowed) return fail(std::move(allowed.error()));
    auto found = find_object(region, name, kind);
    if (!found) return fail(std::move(found.error()));
    const Identity& who = region.identity();
    const ObjectInfo& object = found->object;
    if (who.role == Role::Guest && object.owner_guest != who.guest_id) {
        auto owner = region.guest(object.owner_guest);
        return fail(RegionError::AccessDenied, noun + " " + quoted(name) + " belongs to guest '" +
                                                   (owner ? owner->name : std::to_string(object.owner_guest)) +
                                                   "'; only its owner or the operator may remove it");
    }
    if (who.role == Role::Observer) return fail(RegionError::AccessDenied, "an observer may not remove " + noun + "s");
    if (auto allowed = check_access(region, name, Rights::ReadWrite); !allowed) return fail(std::move(allowed.error()));
    return Directory(region, object.area).remove(name);
}

}  // namespace nk::ipc::detail
