#include "nk/ipc/segment.hpp"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "nk/nanokernel/access_policy.hpp"
#include "nk/nanokernel/directory.hpp"

namespace nk::ipc {
namespace {

using layout::AreaKind;

bool shares_segments(const AreaInfo& area) {
    return area.mapped && (area.kind == AreaKind::Link || area.kind == AreaKind::Common);
}

std::uint32_t incarnation_of(const Region& region, std::uint16_t guest_id) {
    auto info = region.guest(guest_id);
    return info ? info->incarnation : 0;
}

Result<const AreaInfo*> area_for_create(const Region& region, std::string_view where) {
    const Identity& who = region.identity();
    if (where.empty() || where == "common") {
        const AreaInfo* common = region.common_area();
        if (common == nullptr || !common->mapped)
            return fail(RegionError::NotMapped, "the common area is not mapped in this process");
        return common;
    }
    for (const auto& area : region.areas()) {
        if (area.label == where) {
            if (!shares_segments(area))
                return fail(RegionError::AccessDenied, "segments cannot be created in area '" + area.label + "' here");
            return &area;
        }
    }
    auto peer = region.guest(where);
    if (!peer) return fail(RegionError::NotFound, "'" + std::string(where) + "' is neither a guest, an area nor 'common'");
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

}  // namespace

Segment::Segment(SegmentInfo info, std::byte* data, std::uint64_t size, bool writable, bool owns_view)
    : info_(std::move(info)), data_(data), size_(size), writable_(writable), owns_view_(owns_view) {}

Segment::Segment(Segment&& other) noexcept
    : info_(std::move(other.info_)),
      data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      writable_(other.writable_),
      owns_view_(std::exchange(other.owns_view_, false)) {}

Segment& Segment::operator=(Segment&& other) noexcept {
    if (this != &other) {
        if (owns_view_ && data_ != nullptr) ::munmap(data_, size_);
        info_ = std::move(other.info_);
        data_ = std::exchange(other.data_, nullptr);
        size_ = std::exchange(other.size_, 0);
        writable_ = other.writable_;
        owns_view_ = std::exchange(other.owns_view_, false);
    }
    return *this;
}

Segment::~Segment() {
    if (owns_view_ && data_ != nullptr) ::munmap(data_, size_);
}

Result<Segment> Segment::create(const Region& region, std::string_view name, std::uint64_t size, std::string_view where) {
    if (auto allowed = check_access(region, name, Rights::ReadWrite); !allowed) return fail(std::move(allowed.error()));
    auto area = area_for_create(region, where);
    if (!area) return fail(std::move(area.error()));
    const Identity& who = region.identity();
    const std::uint16_t owner = who.role == Role::Guest ? who.guest_id : 0;
    auto made = Directory(region, (*area)->index)
                    .create(name, layout::ObjectKind::Segment, size, owner, incarnation_of(region, owner));
    if (!made) return fail(context(std::move(made.error()), "create segment '" + std::string(name) + "'"));
    const std::uint64_t offset = (*area)->offset + made->area_offset;
    auto data = region.bytes(offset, made->size, true);
    if (!data) return fail(std::move(data.error()));
    SegmentInfo info{*made, (*area)->label, offset};
    return Segment(std::move(info), *data, made->size, true, false);
}

Result<Segment> Segment::open(const Region& region, std::string_view name, Rights rights) {
    if (rights == Rights::None) return fail(RegionError::InvalidArgument, "open segment with rights 'none'");
    if (auto allowed = check_access(region, name, rights); !allowed) return fail(std::move(allowed.error()));
    std::optional<SegmentInfo> found;
    for (const auto& area : region.areas()) {
        if (!shares_segments(area)) continue;
        auto object = Directory(region, area.index).find(name);
        if (!object) {
            if (object.error().code == make_error_code(RegionError::NotFound)) continue;
            return fail(context(std::move(object.error()), "open segment '" + std::string(name) + "'"));
        }
        if (object->kind != layout::ObjectKind::Segment) continue;
        if (found)
            return fail(RegionError::InvalidArgument, "segment '" + std::string(name) + "' exists in both '" +
                                                          found->area_label + "' and '" + area.label +
                                                          "'; names must be unique among the areas a guest holds");
        found = SegmentInfo{*object, area.label, area.offset + object->area_offset};
    }
    if (!found) return fail(RegionError::NotFound, "no segment named '" + std::string(name) + "' in the areas this process holds");
    const AreaInfo* area = region.area(found->object.area);
    if (rights == Rights::ReadWrite) {
        auto data = region.bytes(found->region_offset, found->object.size, true);
        if (!data) return fail(std::move(data.error()));
        return Segment(std::move(*found), *data, found->object.size, true, false);
    }
    // Read-only: a separate mapping without PROT_WRITE, so the MMU enforces the rule.
    void* view = ::mmap(nullptr, found->object.size, PROT_READ, MAP_SHARED, region.area_fd(area->index),
                        static_cast<off_t>(found->object.area_offset));
    if (view == MAP_FAILED)
        return fail(Error{std::error_code(errno, std::system_category()),
                          "cannot map segment '" + std::string(name) + "' read-only: " + std::strerror(errno)});
    const std::uint64_t size = found->object.size;
    return Segment(std::move(*found), static_cast<std::byte*>(view), size, false, true);
}

Result<void> Segment::remove(const Region& region, std::string_view name) {
    auto segment = open(region, name, Rights::Read);
    if (!segment) return fail(std::move(segment.error()));
    const Identity& who = region.identity();
    const auto& object = segment->info().object;
    if (who.role == Role::Guest && object.owner_guest != who.guest_id) {
        auto owner = region.guest(object.owner_guest);
        return fail(RegionError::AccessDenied, "segment '" + std::string(name) + "' belongs to guest '" +
                                                   (owner ? owner->name : std::to_string(object.owner_guest)) +
                                                   "'; only its owner or the operator may remove it");
    }
    if (who.role == Role::Observer) return fail(RegionError::AccessDenied, "an observer may not remove segments");
    if (auto allowed = check_access(region, name, Rights::ReadWrite); !allowed) return fail(std::move(allowed.error()));
    return Directory(region, object.area).remove(name);
}

Result<std::vector<SegmentInfo>> Segment::list(const Region& region) {
    std::vector<SegmentInfo> out;
    for (const auto& area : region.areas()) {
        if (!shares_segments(area)) continue;
        auto objects = Directory(region, area.index).list();
        if (!objects) return fail(std::move(objects.error()));
        for (auto& object : *objects) {
            if (object.kind != layout::ObjectKind::Segment && object.state != layout::EntryState::Quarantined) continue;
            const std::uint64_t offset = area.offset + object.area_offset;
            out.push_back(SegmentInfo{std::move(object), area.label, offset});
        }
    }
    return out;
}

}  // namespace nk::ipc
