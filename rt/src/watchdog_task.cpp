// The rt guest's watchdog task (watchdog_task.hpp).
#include "nk/rt/watchdog_task.hpp"

#include <cstdio>
#include <cstdlib>
#include <memory>

#include "nk/nanokernel/peer_watch.hpp"

namespace nk::rt {
namespace {

void say(const std::string& line) {
    std::printf("rt watchdog: %s\n", line.c_str());
    std::fflush(stdout);  // the console is a pipe: a report must not wait in a buffer
}

}  // namespace

Result<void> add_watchdog_task(Executive& exec, const Region& region, const RtWatchdogSettings& settings) {
    auto watch = std::make_shared<PeerWatch>(
        region, settings.watch,
        [](const PeerFailure& failure) {
            say(failure.facts + "; asking nkd to recover it");
            for (const auto& line : failure.console_tail) say("  " + failure.name + "'s console: " + line);
        },
        &say);
    std::string peers;
    for (const auto& name : settings.watch) peers += (peers.empty() ? "" : ", ") + name;
    say("watching " + (peers.empty() ? std::string("no peer") : peers) + " every " +
        std::to_string(settings.period.count()) + " ms");
    return exec.periodic("watchdog", settings.priority, settings.period,
                         [watch](const Activation&) { (void)watch->check(); });
}

Result<void> add_watchdog_from_env(Executive& exec, const Region& region) {
    const char* text = std::getenv(kRtWatchdogEnv);
    if (text == nullptr) return {};
    auto settings = decode_rt_watchdog(text);
    if (!settings) return fail(std::move(settings.error()));
    return add_watchdog_task(exec, region, *settings);
}

std::uint32_t watchdog_tasks_from_env() { return std::getenv(kRtWatchdogEnv) != nullptr ? 1 : 0; }

}  // namespace nk::rt
