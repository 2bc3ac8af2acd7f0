// nk::recovery: a guest's watchdog asks the nanokernel to recover a peer it found hung.
//
// The software watchdog of the Nanokernel paper (4.5, 5.2(2)): OSes watch each other's heartbeats
// and the surviving side has the failed one restarted. The watchdog (nk-watchdog) writes the
// request into its own control page and rings the nanokernel; nkd checks it against the guest
// table (the target must still run the incarnation that stopped beating, so several watchers of
// one failure cause one recovery) and recovers the target as hung.
//
//   if (auto beat = nk::heartbeat::read(region, peer); beat && beat->stale())
//       (void)nk::recovery::request(region, {peer, beat->incarnation, beat->missed(), beat->health});
#pragma once

#include <cstdint>
#include <optional>

#include "nk/nanokernel/region.hpp"

namespace nk::recovery {

struct Request {
    std::uint16_t target = 0;  // guest id
    std::uint32_t incarnation = 0;
    std::uint64_t missed = 0;  // heartbeat periods without a beat
    std::uint64_t health = 0;  // the target's last health word
};

// From a guest (the caller's guest asks). Returns once the request is written and rung; nkd
// decides. Refused (Busy) while nkd has not taken the guest's previous request.
[[nodiscard]] Result<void> request(const Region& region, const Request& what);

// nkd: the new request in guest `from`'s control page, if there is one; marks it taken.
[[nodiscard]] std::optional<Request> take(const Region& region, std::uint16_t from);

}  // namespace nk::recovery
