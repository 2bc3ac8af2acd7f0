// nkctl events --follow: the platform's failures and recoveries as they happen, one JSON object a
// line, for operators' tools (the watchdog issue's event stream). It watches the guest table
// through a read-only mapping, every 5 ms, and prints each change of a guest's state: a failure
// with what ended it (kind, exit, detector, the periods missed and who reported a hang), a
// restart with the new incarnation. Ends after --count events, or on SIGINT/SIGTERM.
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>

#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "format.hpp"
#include "nk/status/guest_events.hpp"

namespace nk::ctl {
namespace {

std::atomic<bool> stop_following{false};
void request_stop(int) { stop_following.store(true, std::memory_order_relaxed); }

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
    const auto guests = region->guests();
    nk::status::GuestEvents events(guests);
    std::printf("{\"event\": \"following\", \"platform\": \"%s\", \"guests\": %zu}\n",
                std::string(region->platform_name()).c_str(), guests.size());
    std::fflush(stdout);
    std::size_t printed = 0;
    while (!stop_following.load(std::memory_order_relaxed) && (count == 0 || printed < count)) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        for (const auto& e : events.update(*region, region->guests())) {
            std::printf("%s\n", e.dump().c_str());
            std::fflush(stdout);
            if (count != 0 && ++printed >= count) break;
        }
    }
    return 0;
}

}  // namespace nk::ctl
