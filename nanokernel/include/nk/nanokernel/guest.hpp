// nk::guest: the region of the calling process, attached once per process.
//
// A process started by nkd (or by a test) inherits its descriptors (NK_REGION_FDS); a process
// started by hand can name its platform and guest instead (NK_PLATFORM, NK_GUEST) and attach
// through the platform's socket. Either way, attach() learns who the process is.
//
//   auto region = nk::guest::attach();
//   if (!region) return fail(...);
//   std::printf("I am guest %u\n", region->get().identity().guest_id);
#pragma once

#include <functional>

#include "nk/nanokernel/region.hpp"

namespace nk::guest {

// Attaches on the first call; later calls return the same Region. Thread-safe.
[[nodiscard]] Result<std::reference_wrapper<Region>> attach();

}  // namespace nk::guest
