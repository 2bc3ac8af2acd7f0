#include "nk/ipc/segment.hpp"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "named_object.hpp"
#include "nk/nanokernel/access_policy.hpp"
#include "nk/nanokernel/directory.hpp"

namespace nk::ipc {

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
    auto made = detail::create_object(region, name, layout::ObjectKind::Segment, size, where);
    if (!made) return fail(std::move(made.error()));
    auto data = region.bytes(made->region_offset, made->object.size, true);
    if (!data) return fail(std::move(data.error()));
    const std::uint64_t object_size = made->object.size;
    SegmentInfo info{std::move(made->object), std::move(made->area_label), made->region_offset};
    return Segment(std::move(info), *data, object_size, true, false);
}

Result<Segment> Segment::open(const Region& region, std::string_view name, Rights rights) {
    if (rights == Rights::None) return fail(RegionError::InvalidArgument, "open segment with rights 'none'");
    if (auto allowed = check_access(region, name, rights); !allowed) return fail(std::move(allowed.error()));
    auto placed = detail::find_object(region, name, layout::ObjectKind::Segment);
    if (!placed) return fail(std::move(placed.error()));
    SegmentInfo found{std::move(placed->object), std::move(placed->area_label), placed->region_offset};
    const std::uint64_t size = found.object.size;
    if (rights == Rights::ReadWrite) {
        auto data = region.bytes(found.region_offset, size, true);
        if (!data) return fail(std::move(data.error()));
        return Segment(std::move(found), *data, size, true, false);
    }
    // Read-only: a separate mapping without PROT_WRITE, so the MMU enforces the rule.
    void* view = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, region.area_fd(found.object.area),
                        static_cast<off_t>(found.object.area_offset));
    if (view == MAP_FAILED)
        return fail(Error{std::error_code(errno, std::system_category()),
                          "cannot map segment '" + std::string(name) + "' read-only: " + std::strerror(errno)});
    return Segment(std::move(found), static_cast<std::byte*>(view), size, false, true);
}

Result<void> Segment::remove(const Region& region, std::string_view name) {
    return detail::remove_object(region, name, layout::ObjectKind::Segment);
}

Result<std::vector<SegmentInfo>> Segment::list(const Region& region) {
    std::vector<SegmentInfo> out;
    for (const auto& area : region.areas()) {
        if (!detail::holds_shared_objects(area)) continue;
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
