// What nk-watchdog's health page shows: every guest of the platform (state, incarnation,
// restarts, its heartbeat's age, health word and missed beats) and the failure history, the
// platform's recent failures and restarts (nk::status::GuestEvents) since the daemon started,
// headed by the last failure the region recorded for each guest before that.
//
//   HealthReport report(region, "linux");
//   every 20 ms: report.poll();   on a request: send(report.json().dump());
//
// It reads only the region (checked copies: Region::guests(), heartbeat::read(),
// read_failure_record()), never the watchdog's own state, so the thread that serves it shares
// nothing with the heartbeat thread. One thread at a time per object.
#pragma once

#include <cstddef>
#include <deque>
#include <string>

#include <nlohmann/json.hpp>

#include "nk/nanokernel/region.hpp"
#include "nk/status/guest_events.hpp"

namespace nk::wd {

class HealthReport {
public:
    // The history keeps this many events (the oldest dropped first).
    static constexpr std::size_t kHistory = 64;

    HealthReport(const Region& region, std::string served_by);

    // Reads the guest table and adds its new failures and restarts to the history.
    void poll();

    // /health.json: {platform, served_by, time, guests: [...], history: [...] (oldest first)}.
    [[nodiscard]] nlohmann::json json() const;

private:
    void remember(nlohmann::json event);

    const Region& region_;
    std::string served_by_;
    status::GuestEvents events_;
    std::deque<nlohmann::json> history_;
};

}  // namespace nk::wd
