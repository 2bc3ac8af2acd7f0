// Failures and restarts from successive reads of the guest table (guest_events.hpp).
#include "nk/status/guest_events.hpp"

#include "nk/nanokernel/clock.hpp"
#include "nk/status/guest_status.hpp"

namespace nk::status {

GuestEvents::Seen GuestEvents::seen_now(const GuestInfo& g, std::uint32_t running_before) {
    return {g.state, g.incarnation, g.state == layout::GuestState::Running ? g.incarnation : running_before,
            g.last_failure != layout::FailureKind::None ? g.last_failure_unix_ns : 0};
}

GuestEvents::GuestEvents(const std::vector<GuestInfo>& guests) {
    for (const auto& g : guests) seen_[g.id] = seen_now(g, 0);
}

std::vector<nlohmann::json> GuestEvents::update(const Region& region, const std::vector<GuestInfo>& guests) {
    std::vector<nlohmann::json> events;
    for (const auto& g : guests) {
        auto at = seen_.find(g.id);
        if (at == seen_.end()) at = seen_.emplace(g.id, Seen{}).first;  // a guest table grows only on a new region
        Seen& before = at->second;
        const bool new_failure = g.last_failure != layout::FailureKind::None && g.last_failure_unix_ns != before.failure_unix_ns;
        if (g.state == before.state && g.incarnation == before.incarnation && !new_failure) continue;
        nlohmann::json e{{"time", iso_time(clock::unix_ns())},
                         {"guest", g.name},
                         {"state", to_string(g.state)},
                         {"previous", to_string(before.state)},
                         {"incarnation", g.incarnation},
                         {"restarts", g.restarts}};
        // A poll too slow to see the guest down sees its failure and its new incarnation at once:
        // both are told, the failure first.
        const bool restarted = g.state == layout::GuestState::Running && g.incarnation != before.running_incarnation;
        const char* restart_kind = before.running_incarnation == 0 ? "started" : "restarted";
        if (new_failure) {
            e["event"] = "failure";
            e["failure"] = failure_json(region, g);
            events.push_back(e);
            if (restarted) {
                e.erase("failure");
                e["event"] = restart_kind;
                events.push_back(std::move(e));
            }
        } else {
            e["event"] = restarted ? restart_kind : "state";
            events.push_back(std::move(e));
        }
        before = seen_now(g, before.running_incarnation);
    }
    return events;
}

}  // namespace nk::status
