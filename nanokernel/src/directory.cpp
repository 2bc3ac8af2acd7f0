#include "nk/nanokernel/directory.hpp"

namespace nk {

Directory::Directory(const Region& region, std::uint16_t area, std::chrono::milliseconds lock_timeout)
    : region_(region), area_(area), timeout_(lock_timeout) {}

Result<ObjectInfo> Directory::find(std::string_view name) const {
    auto locked = lock(AreaLock::Mode::Shared);
    if (!locked) return fail(std::move(locked.error()));
    return locked->directory.find(name);
}

Result<std::vector<ObjectInfo>> Directory::list() const {
    auto locked = lock(AreaLock::Mode::Shared);
    if (!locked) return fail(std::move(locked.error()));
    return locked->directory.list();
}

Result<AreaUsage> Directory::usage() const {
    auto locked = lock(AreaLock::Mode::Shared);
    if (!locked) return fail(std::move(locked.error()));
    return locked->directory.usage();
}

Result<ObjectInfo> Directory::create(std::string_view name, layout::ObjectKind kind, std::uint64_t size,
                                     std::uint16_t owner_guest, std::uint32_t owner_incarnation) const {
    auto locked = lock(AreaLock::Mode::Exclusive);
    if (!locked) return fail(std::move(locked.error()));
    return locked->directory.create(name, kind, size, owner_guest, owner_incarnation);
}

Result<ObjectInfo> Directory::attach_or_create(std::string_view name, layout::ObjectKind kind, std::uint64_t size,
                                               std::uint16_t owner_guest, std::uint32_t owner_incarnation) const {
    auto locked = lock(AreaLock::Mode::Exclusive);
    if (!locked) return fail(std::move(locked.error()));
    return locked->directory.attach_or_create(name, kind, size, owner_guest, owner_incarnation);
}

Result<void> Directory::remove(std::string_view name) const {
    auto locked = lock(AreaLock::Mode::Exclusive);
    if (!locked) return fail(std::move(locked.error()));
    return locked->directory.remove(name);
}

}  // namespace nk
