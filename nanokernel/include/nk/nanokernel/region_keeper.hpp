// The region keeper: a small process that holds every descriptor of a platform's region (and
// the console pipes of its guests) so that they outlive nkd.
//
// nkd forks it right after creating the region. It holds descriptors (no socket, signals that
// end sessions ignored) and runs the timer core that serves the guests' virtual timers
// (timer_core.hpp), so timers, like the region, do not depend on nkd being there. If nkd dies, the guests keep running
// and the region keeps existing (PNV memory included); a restarted nkd finds the keeper through
// its pid file, reopens every area read-write through /proc/PID/fd and adopts the region
// (Region::adopt) and the consoles. A clean stop of nkd ends the keeper too.
//
//   auto keeper = nk::start_region_keeper(region, console_read_fds, pid_file);   // first nkd
//   auto held = nk::reopen_from_keeper("two-guests", guest_count, pid_file);    // a restarted one
//
// Console pipe i (guest i in config order) is held at descriptor kKeeperConsoleFd + i.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

#include "nk/nanokernel/region.hpp"
#include "nk/nanokernel/unique_fd.hpp"

namespace nk {

inline constexpr int kKeeperConsoleFd = 200;

// Forks the keeper of `region` (its creator), holding `consoles` too; writes its pid to
// `pid_file`. Call while the process is single-threaded.
[[nodiscard]] Result<pid_t> start_region_keeper(const Region& region, const std::vector<int>& consoles,
                                                const std::string& pid_file);

struct KeptRegion {
    pid_t keeper = -1;
    std::vector<UniqueFd> areas;     // read-write, one per area
    std::vector<UniqueFd> consoles;  // read end of each guest's console pipe (-1 where none)
};

// Reopens what the live keeper of `platform` holds. RegionError::NotFound when there is no
// keeper (no pid file, or its process is gone or is not a keeper of this platform).
[[nodiscard]] Result<KeptRegion> reopen_from_keeper(std::string_view platform, std::size_t console_count,
                                                    const std::string& pid_file);

// Ends the keeper and removes its pid file (a clean stop of the platform).
void stop_region_keeper(pid_t keeper, const std::string& pid_file);

}  // namespace nk
