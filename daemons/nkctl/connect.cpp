#include "connect.hpp"

#include "nk/nanokernel/platform_config.hpp"
#include "nk/nanokernel/region_client.hpp"

namespace nk::ctl {

Result<Region> connect(const Target& target, Identity who) {
    std::string platform = target.platform;
    if (platform.empty() && !target.config_path.empty()) {
        auto config = load_platform_config(target.config_path);
        if (!config) return fail(std::move(config.error()));
        platform = config->name;
    }
    if (platform.empty()) {
        auto sole = sole_platform();
        if (!sole) return fail(std::move(sole.error()));
        platform = *sole;
    }
    return attach_by_name(platform, who);
}

}  // namespace nk::ctl
