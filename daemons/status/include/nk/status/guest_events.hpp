// nk::status::GuestEvents: the platform's failures and restarts, found by comparing successive
// reads of the guest table (nkctl events --follow prints them; nk-watchdog's health page keeps the
// recent ones).
//
//   nk::status::GuestEvents events(region.guests());
//   for (;;) { for (auto& e : events.update(region, region.guests())) print(e); sleep(5 ms); }
//
// A failure is a new `last_failure` time in the table, not a state change seen in passing: nkd
// records the failure before it marks the guest down, so a reader that polls too slowly to see
// the guest down still sees the failure (and then the restart, by the new incarnation).
// One thread at a time per object.
#pragma once

#include <cstdint>
#include <map>
#include <vector>

#include <nlohmann/json.hpp>

#include "nk/nanokernel/region.hpp"

namespace nk::status {

class GuestEvents {
public:
    // Starts from the table as it is now: what is already there is not an event.
    explicit GuestEvents(const std::vector<GuestInfo>& guests);

    // The events between the previous read and `guests`, oldest first. Each is an object with
    // time, guest, event ("failure", "started", "restarted" or "state"), state, previous,
    // incarnation, restarts; a failure adds `failure` (failure_json()).
    [[nodiscard]] std::vector<nlohmann::json> update(const Region& region, const std::vector<GuestInfo>& guests);

private:
    struct Seen {
        layout::GuestState state{};
        std::uint32_t incarnation = 0;
        std::uint32_t running_incarnation = 0;  // the last incarnation seen running; 0: none yet
        std::uint64_t failure_unix_ns = 0;      // the last failure already told
    };
    static Seen seen_now(const GuestInfo& g, std::uint32_t running_before);
    std::map<std::uint16_t, Seen> seen_;
};

}  // namespace nk::status
