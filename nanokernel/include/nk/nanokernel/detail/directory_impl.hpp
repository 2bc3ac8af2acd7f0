// Template and lock plumbing of nk::Directory (directory.hpp).
#pragma once

#include <mutex>
#include <optional>
#include <string>

namespace nk {

struct Directory::Locked {
    std::unique_lock<std::mutex> local;
    std::optional<AreaLock> area_lock;
    AreaDirectory directory;
};

inline Result<Directory::Locked> Directory::lock(AreaLock::Mode mode) const {
    const AreaInfo* info = region_.area(area_);
    if (info == nullptr) return fail(RegionError::NotFound, "area " + std::to_string(area_) + " does not exist");
    if (info->kind == layout::AreaKind::Management || info->kind == layout::AreaKind::Control)
        return fail(RegionError::InvalidArgument, "area '" + info->label + "' has no directory");
    if (!info->mapped)
        return fail(RegionError::NotMapped, "area '" + info->label + "' is not mapped in this process");
    if (mode == AreaLock::Mode::Exclusive && !info->writable)
        return fail(RegionError::AccessDenied, "area '" + info->label + "' is read-only in this process");
    std::unique_lock<std::mutex> local(region_.area_mutex(area_));
    auto area_lock = AreaLock::acquire(region_.area_fd(area_), mode, timeout_);
    if (!area_lock) return fail(context(std::move(area_lock.error()), "area '" + info->label + "'"));
    Locked locked{std::move(local), std::nullopt,
                  AreaDirectory(region_.base() + info->offset, info->size, area_, region_.tables().areas[area_],
                                region_.page_size(), mode == AreaLock::Mode::Exclusive)};
    locked.area_lock.emplace(std::move(*area_lock));
    if (auto opened = locked.directory.open(); !opened)
        return fail(context(std::move(opened.error()), "area '" + info->label + "'"));
    return locked;
}

template <class Fn>
auto Directory::with_exclusive(Fn&& fn) const -> Result<void> {
    auto locked = lock(AreaLock::Mode::Exclusive);
    if (!locked) return fail(std::move(locked.error()));
    return fn(locked->directory);
}

}  // namespace nk
