#include "nk/nanokernel/guest.hpp"

#include <cstdlib>
#include <mutex>
#include <optional>
#include <string>

#include "nk/nanokernel/region_client.hpp"

namespace nk::guest {
namespace {

Result<Region> attach_once() {
    if (std::getenv("NK_REGION_FDS") != nullptr) return Region::attach_from_environment();
    const char* platform = std::getenv("NK_PLATFORM");
    const char* guest_name = std::getenv("NK_GUEST");
    if (platform == nullptr || guest_name == nullptr)
        return fail(RegionError::NotFound,
                    "this process has no region: start it under nkd, or set NK_PLATFORM and NK_GUEST");
    // Ask as observer first to learn the guest's id from the tables, then as the guest.
    auto observer = attach_by_name(platform, Identity::observer());
    if (!observer) return fail(std::move(observer.error()));
    auto info = observer->guest(guest_name);
    if (!info)
        return fail(RegionError::NotFound, "platform '" + std::string(platform) + "' has no guest '" + guest_name + "'");
    return attach_by_name(platform, Identity::guest(info->id));
}

}  // namespace

Result<std::reference_wrapper<Region>> attach() {
    static std::mutex mutex;
    static std::optional<Region> region;
    std::lock_guard lock(mutex);
    if (!region) {
        auto attached = attach_once();
        if (!attached) return fail(std::move(attached.error()));
        region.emplace(std::move(*attached));
    }
    return std::ref(*region);
}

}  // namespace nk::guest
