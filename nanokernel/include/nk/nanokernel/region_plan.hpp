// RegionPlan: where each area of a platform goes, computed from the config before anything is
// created. Checks the sizes against what the layout needs (every area must hold its header and at
// least one page of data; the sum must fit region_size) and names the config line if not.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "nk/nanokernel/layout.hpp"
#include "nk/nanokernel/platform_config.hpp"
#include "nk/nanokernel/result.hpp"

namespace nk {

struct AreaPlan {
    layout::AreaKind kind;
    std::uint16_t owner_guest = 0;  // guest id, or first guest of a link
    std::uint16_t peer_guest = 0;   // second guest of a link
    std::string label;
    std::uint64_t offset = 0;
    std::uint64_t size = 0;
};

struct RegionPlan {
    std::uint64_t page_size = layout::kSmallPage;
    std::uint64_t region_size = 0;
    std::vector<AreaPlan> areas;  // areas[0] is the management area
};

// Bytes an area of `kind` needs before its first allocatable byte, for a given page size.
[[nodiscard]] std::uint64_t area_data_offset(layout::AreaKind kind, std::uint64_t page_size);

[[nodiscard]] Result<RegionPlan> plan_region(const PlatformConfig& config);

}  // namespace nk
