// Internal to nk::ipc: the region's futex calls (nanokernel/detail/futex.hpp), under ipc's names.
#pragma once

#include "nk/nanokernel/detail/futex.hpp"

namespace nk::ipc::detail {

using nk::detail::futex_wait_until;
using nk::detail::futex_wake;

}  // namespace nk::ipc::detail
