// nk::pnv: pseudo-nonvolatile memory (the Nanokernel paper, section 3(2)(d)).
//
// A process asks for memory under a stable id. The first call allocates it in the guest's PNV
// area; every later call with the same id, by the same process after a restart, or after the
// whole guest was restarted, gets the same offset and the same bytes. The allocation history is
// the PNV area's directory; nothing is freed by a restart, only by free() or by the operator
// (nkctl pnv free GUEST ID).
//
//   auto log = nk::pnv::attach("controller.state", 64 * 1024);
//   if (log->fresh) initialise(log->bytes); else resume(log->bytes);
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "nk/nanokernel/area_directory.hpp"
#include "nk/nanokernel/region.hpp"

namespace nk::pnv {

struct Allocation {
    std::string id;
    std::uint64_t offset = 0;  // in the region: the same after every restart
    std::uint64_t size = 0;
    std::span<std::byte> bytes;
    bool fresh = false;        // this call allocated it (the bytes are zero)
    std::uint32_t attach_count = 0;
};

// In the calling guest's PNV area. The region must be attached as a guest.
[[nodiscard]] Result<Allocation> attach(const Region& region, std::string_view id, std::uint64_t size);

// Same, in the region of nk::guest::attach().
[[nodiscard]] Result<Allocation> attach(std::string_view id, std::uint64_t size);

// Frees the calling guest's allocation `id`.
[[nodiscard]] Result<void> free(const Region& region, std::string_view id);

// Operator: frees guest `guest_name`'s allocation `id`.
[[nodiscard]] Result<void> free(const Region& region, std::string_view guest_name, std::string_view id);

struct Listing {
    std::string guest;
    ObjectInfo object;
    std::uint64_t region_offset = 0;
};

// The allocations of every guest whose PNV area this process holds.
[[nodiscard]] Result<std::vector<Listing>> list(const Region& region);

}  // namespace nk::pnv
