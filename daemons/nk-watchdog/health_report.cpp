// The health page's JSON (health_report.hpp).
#include "health_report.hpp"

#include "nk/nanokernel/clock.hpp"
#include "nk/nanokernel/heartbeat.hpp"
#include "nk/status/guest_status.hpp"

namespace nk::wd {

HealthReport::HealthReport(const Region& region, std::string served_by)
    : region_(region), served_by_(std::move(served_by)), events_(region.guests()) {
    // Failures from before this daemon started are in the region, one per guest (its last).
    for (const auto& g : region_.guests()) {
        auto failure = status::failure_json(region_, g);
        if (failure.is_null()) continue;
        remember({{"time", failure["time"]},
                  {"guest", g.name},
                  {"event", "failure"},
                  {"incarnation", g.incarnation},
                  {"restarts", g.restarts},
                  {"state", to_string(g.state)},
                  {"seen", "recorded"},  // read from the region at start, not seen happen
                  {"failure", failure}});
    }
}

void HealthReport::remember(nlohmann::json event) {
    history_.push_back(std::move(event));
    while (history_.size() > kHistory) history_.pop_front();
}

void HealthReport::poll() {
    for (auto& e : events_.update(region_, region_.guests()))
        if (e["event"] != "state") {  // the steps in between (down, restarting, starting) are noise here
            e["seen"] = "live";
            remember(std::move(e));
        }
}

nlohmann::json HealthReport::json() const {
    const std::uint64_t now = clock::unix_ns();
    nlohmann::json guests = nlohmann::json::array();
    for (const auto& g : region_.guests()) {
        nlohmann::json entry = status::guest_json(g, now);
        entry["last_failure"] = status::failure_json(region_, g);
        // Armed by its current incarnation with sane values, else null (heartbeat.hpp).
        nlohmann::json beat = nullptr;
        if (auto state = heartbeat::read(region_, g.id))
            beat = {{"age_ms", static_cast<double>(state->age_ns) / 1e6},
                    {"period_ms", state->period_ms},
                    {"misses_allowed", state->misses},
                    {"missed", state->missed()},
                    {"health", state->health},
                    {"stale", state->stale()},
                    {"beats", state->sequence}};
        entry["heartbeat"] = beat;
        guests.push_back(std::move(entry));
    }
    return {{"platform", std::string(region_.platform_name())},
            {"served_by", served_by_},
            {"time", status::iso_time(now)},
            {"guests", guests},
            {"history", nlohmann::json(history_)}};
}

}  // namespace nk::wd
