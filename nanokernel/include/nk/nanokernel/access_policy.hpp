// The config's [[access]] rules, as compiled into the management tables: who may open which named
// object, and with which rights. The tables are read-only to guests, so a guest cannot widen its
// own rights by writing to them.
//
//   if (auto ok = nk::check_access(region, "telemetry", nk::Rights::ReadWrite); !ok)
//       std::cerr << ok.error().message;   // "... refused by access rule 2 (two-guests.toml:51) ..."
#pragma once

#include <string_view>

#include "nk/nanokernel/platform_config.hpp"
#include "nk/nanokernel/region.hpp"
#include "nk/nanokernel/result.hpp"

namespace nk {

// May the calling process (its Region identity) use `object` with `wanted` rights? Guests are
// judged by the rules, first match wins, no match refuses. The operator and the creator may do
// anything; an observer may only read. A refusal names the rule (number, file and line) that
// refused, or says that none matched.
[[nodiscard]] Result<void> check_access(const Region& region, std::string_view object, Rights wanted);

}  // namespace nk
