// How every nkctl command finds its platform: --platform NAME, or --config FILE (the platform
// named in it), or, with neither, the only platform running.
#pragma once

#include <string>

#include "nk/nanokernel/region.hpp"

namespace nk::ctl {

struct Target {
    std::string config_path;
    std::string platform;
};

[[nodiscard]] Result<Region> connect(const Target& target, Identity who);

}  // namespace nk::ctl
