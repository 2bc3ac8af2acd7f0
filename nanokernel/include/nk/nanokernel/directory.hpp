// nk::Directory: the named objects of one area, as a process of the platform uses them.
//
// It pairs an AreaDirectory with the area's locks (the process-local mutex, then the crash-safe
// AreaLock), so callers cannot forget them. Which area to use, and whether the caller may, is
// decided one layer up (segments and PNV in nk::ipc); this class only refuses areas the process
// does not hold, or holds read-only when it wants to change them.
//
//   nk::Directory dir(region, link->index);
//   auto made = dir.create("camera.frames", nk::layout::ObjectKind::Segment, 1 << 20, me, incarnation);
#pragma once

#include <chrono>
#include <cstdint>
#include <string_view>
#include <vector>

#include "nk/nanokernel/area_directory.hpp"
#include "nk/nanokernel/area_lock.hpp"
#include "nk/nanokernel/region.hpp"

namespace nk {

class Directory {
public:
    Directory(const Region& region, std::uint16_t area,
              std::chrono::milliseconds lock_timeout = kDefaultAreaLockTimeout);

    [[nodiscard]] Result<ObjectInfo> find(std::string_view name) const;
    [[nodiscard]] Result<std::vector<ObjectInfo>> list() const;
    [[nodiscard]] Result<AreaUsage> usage() const;
    [[nodiscard]] Result<ObjectInfo> create(std::string_view name, layout::ObjectKind kind, std::uint64_t size,
                                            std::uint16_t owner_guest, std::uint32_t owner_incarnation) const;
    [[nodiscard]] Result<ObjectInfo> attach_or_create(std::string_view name, layout::ObjectKind kind,
                                                      std::uint64_t size, std::uint16_t owner_guest,
                                                      std::uint32_t owner_incarnation) const;
    [[nodiscard]] Result<void> remove(std::string_view name) const;

    // Runs `fn(AreaDirectory&)` under the exclusive lock, after open(): for tests of crash windows.
    template <class Fn>
    [[nodiscard]] auto with_exclusive(Fn&& fn) const -> Result<void>;

private:
    struct Locked;
    [[nodiscard]] Result<Locked> lock(AreaLock::Mode mode) const;

    const Region& region_;
    std::uint16_t area_;
    std::chrono::milliseconds timeout_;
};

}  // namespace nk

#include "nk/nanokernel/detail/directory_impl.hpp"
