// The rt guest's watchdog: a periodic task of its executive that watches the heartbeats of the
// guests the config names (`watchdog = { period_ms, watch, priority }` on the rt guest), as
// nk-watchdog does in a linux guest, so that the RTOS side finds a hung Linux and only that guest
// is brought back (the paper's software watchdog, across OSes). A failure is logged on the guest's
// console ("rt watchdog: peer 'linux' ... failed ...") and nkd is asked to recover the peer.
//
// The guest's own heartbeat stays with its program (the ticker's tick, the console's loop): it is
// the program that knows what "alive" means for it.
//
//   nk::rt::StopSignals stop;
//   auto exec = nk::rt::Executive::create(region);
//   if (auto added = nk::rt::add_watchdog_from_env(**exec, region); !added) fail(added.error());
//   (*exec)->start();
#pragma once

#include <cstdint>

#include "nk/nanokernel/region.hpp"
#include "nk/nanokernel/rt_watchdog_settings.hpp"
#include "nk/rt/executive.hpp"

namespace nk::rt {

// Adds the watchdog task ("watchdog", at settings.priority, every settings.period). Its checks
// read the guest table and the peers' heartbeats; they are meant for a priority below the
// guest's control tasks. `region` must outlive the executive's tasks.
[[nodiscard]] Result<void> add_watchdog_task(Executive& exec, const Region& region, const RtWatchdogSettings& settings);

// add_watchdog_task() with nkd's NK_WATCHDOG settings; nothing when the variable is not set
// (the config gives the guest no watchdog). A malformed value is an error.
[[nodiscard]] Result<void> add_watchdog_from_env(Executive& exec, const Region& region);

// The task records add_watchdog_from_env() will take: 1 when NK_WATCHDOG is set, else 0. For
// ExecutiveOptions::max_tasks, which is fixed before the tasks are added.
[[nodiscard]] std::uint32_t watchdog_tasks_from_env();

}  // namespace nk::rt
