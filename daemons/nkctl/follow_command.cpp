// nkctl events --follow: the platform's failures and recoveries as they happen, one JSON object a
// line, for operators' tools (the watchdog issue's event stream). It watches the guest table
// through a read-only mapping, every 5 ms, and prints each change of a guest's state: a failure
// with what ended it (kind, exit, detector, the periods missed and who reported a hang), a
// restart with the new incarnation. Ends after --count events, or on SIGINT/SIGTERM.
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <thread>

#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "format.hpp"
#include "nk/nanokernel/clock.hpp"

namespace nk::ctl {
namespace {

std::atomic<bool> stop_following{false};
void request_stop(int) { stop_following.store(true, std::memory_order_relaxed); }

struct Seen {
    layout::GuestState state{};
    std::uint32_t incarnation = 0;
    std::uint32_t running_incarnation = 0;  // the last incarnation seen running
};

nlohmann::json event_of(const Region& region, const GuestInfo& g, const Seen& before) {
    nlohmann::json e{{"time", iso_time(clock::unix_ns())},
                     {"guest", g.name},
                     {"state", to_string(g.state)},
                     {"previous", to_string(before.state)},
                     {"incarnation", g.incarnation},
                     {"restarts", g.restarts}};
    const bool ended = (before.state == layout::GuestState::Running || before.state == layout::GuestState::Starting) &&
                       g.state != layout::GuestState::Running && g.state != layout::GuestState::Starting;
    if (ended && g.last_failure != layout::FailureKind::None) {
        nlohmann::json failure{{"kind", to_string(g.last_failure)}, {"time", iso_time(g.last_failure_unix_ns)}};
        const char* detector = g.last_failure == layout::FailureKind::Panic       ? "panic"
                               : g.last_failure == layout::FailureKind::Heartbeat ? "heartbeat"
                                                                                  : "death";
        failure["detector"] = detector;
        if (g.last_failure == layout::FailureKind::Heartbeat) {
            failure["missed_heartbeats"] = g.missed_heartbeats;
            auto by = g.detected_by != 0 ? region.guest(g.detected_by) : std::nullopt;
            failure["reported_by"] = by ? by->name : std::string("nkd");
        }
        e["event"] = "failure";
        e["failure"] = failure;
    } else if (g.state == layout::GuestState::Running && g.incarnation != before.running_incarnation) {
        e["event"] = before.running_incarnation == 0 ? "started" : "restarted";
    } else {
        e["event"] = "state";
    }
    return e;
}

}  // namespace

int follow_command(const Target& target, std::size_t count) {
    auto region = connect(target, Identity::observer());
    if (!region) {
        std::fprintf(stderr, "nkctl events --follow: %s\n", region.error().message.c_str());
        return 1;
    }
    struct sigaction action {};
    action.sa_handler = request_stop;
    sigaction(SIGINT, &action, nullptr);
    sigaction(SIGTERM, &action, nullptr);
    std::map<std::uint16_t, Seen> seen;
    for (const auto& g : region->guests())
        seen[g.id] = {g.state, g.incarnation, g.state == layout::GuestState::Running ? g.incarnation : 0U};
    std::printf("{\"event\": \"following\", \"platform\": \"%s\", \"guests\": %zu}\n",
                std::string(region->platform_name()).c_str(), seen.size());
    std::fflush(stdout);
    std::size_t printed = 0;
    while (!stop_following.load(std::memory_order_relaxed) && (count == 0 || printed < count)) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        for (const auto& g : region->guests()) {
            Seen& before = seen[g.id];
            if (g.state == before.state && g.incarnation == before.incarnation) continue;
            std::printf("%s\n", event_of(*region, g, before).dump().c_str());
            std::fflush(stdout);
            before = {g.state, g.incarnation,
                      g.state == layout::GuestState::Running ? g.incarnation : before.running_incarnation};
            if (count != 0 && ++printed >= count) break;
        }
    }
    return 0;
}

}  // namespace nk::ctl
