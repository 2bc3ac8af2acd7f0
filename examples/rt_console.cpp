// An rt guest program on the netbridge: lwIP on the guest's packet ports, a telnet console on
// TCP port 23, and ping answered (IPv4, and IPv6 when the plan has address6).
//
// nkd starts it as the rt guest's process with NK_NET_PLAN set from the guest's `net = {...}`
// table; from a linux guest of the platform:
//
//   ping 10.77.2.1                 # lwIP answers
//   telnet 10.77.2.1               # rt> help | status | tasks | counters | echo TEXT | quit
//
// It runs on the rt executive (nk::rt): the console and an RFC 863 discard service on TCP port 9
// (what the net benchmark streams into) are two of its tasks, shown by `nkctl rt` and by the
// console's `tasks`. Its heartbeat (nk::heartbeat, period argv[1] ms, default 100, 3 misses) is
// beaten from the console task, so a stuck console is found hung by nkd. SIGTERM stops it cleanly.
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "nk/nanokernel/guest.hpp"
#include "nk/nanokernel/heartbeat.hpp"
#include "nk/netbridge/console.hpp"
#include "nk/netbridge/discard_service.hpp"
#include "nk/netbridge/lwip_stack.hpp"
#include "nk/rt/executive.hpp"
#include "nk/rt/stop_signals.hpp"
#include "nk/rt/watchdog_task.hpp"

namespace {

int fail(const char* what, const nk::Error& error) {
    std::fprintf(stderr, "rt console: %s: %s\n", what, error.message.c_str());
    return 1;
}

}  // namespace

int main(int argc, char** argv) {
    // First of all, before any task thread exists: nkd may stop the guest at any moment.
    const nk::rt::StopSignals stop_signals;
    const int beat_ms = argc > 1 ? std::max(10, std::atoi(argv[1])) : 100;

    const char* line = std::getenv("NK_NET_PLAN");
    if (line == nullptr || *line == '\0') {
        std::fprintf(stderr, "rt console: NK_NET_PLAN is not set: give the rt guest a net = {...} table in the "
                             "platform config (nkd sets it then)\n");
        return 1;
    }
    auto plan = nk::netbridge::decode_plan(line);
    if (!plan) return fail("NK_NET_PLAN", plan.error());
    auto attached = nk::guest::attach();
    if (!attached) return fail("cannot attach", attached.error());
    nk::Region& region = attached->get();

    auto stack = nk::netbridge::LwipStack::start(region, *plan);
    if (!stack) return fail("lwIP", stack.error());
    nk::netbridge::Console console({.port = 23, .banner = "nk rt guest '" + plan->guest + "' console"});
    nk::netbridge::add_guest_commands(console, region, (*stack)->plan());
    if (auto listening = console.listen(); !listening) return fail("console", listening.error());
    nk::netbridge::DiscardService discard({.port = 9});
    if (auto listening = discard.listen(); !listening) return fail("discard", listening.error());

    // The executive runs them as two of its tasks, below any control task the guest adds.
    sched_param param{};
    const bool fifo = sched_getscheduler(0) == SCHED_FIFO && sched_getparam(0, &param) == 0;
    const int priority = fifo ? std::max(1, param.sched_priority - 10) : 0;
    nk::rt::ExecutiveOptions options;
    options.status_where = "";  // the common area: every guest and nkctl rt read it there
    options.max_tasks = 4 + nk::rt::watchdog_tasks_from_env();  // console, discard, spares; the watchdog task
    auto exec = nk::rt::Executive::create(region, options);
    if (!exec) return fail("executive", exec.error());
    const auto slice = std::chrono::milliseconds(std::max(5, beat_ms / 4));
    // The console task beats the guest's heartbeat: a stuck console is found hung by nkd.
    auto served = (*exec)->spawn("console", priority, [&](nk::rt::StopToken stop) {
        while (!stop.stop_requested()) {
            console.serve_once(slice);
            (void)nk::heartbeat::beat(region, 0);
        }
    });
    if (!served) return fail("task console", served.error());
    auto discarding = (*exec)->spawn("discard", priority, [&](nk::rt::StopToken stop) {
        while (!stop.stop_requested()) discard.serve_once(slice);
    });
    if (!discarding) return fail("task discard", discarding.error());
    console.add_command("tasks", "tasks: the executive's tasks (activations, overruns, delays)", [&](std::string_view) {
        auto status = (*exec)->report();
        if (!status) return "tasks: " + status.error().message + "\n";
        std::string out;
        for (const auto& task : status->tasks)
            out += task.name + ": SCHED_FIFO " + std::to_string(task.priority) + ", activations " +
                   std::to_string(task.activations) + ", overruns " + std::to_string(task.overruns) + "\n";
        return out;
    });
    if (auto armed = nk::heartbeat::arm(region, std::chrono::milliseconds(beat_ms), 3); !armed)
        return fail("heartbeat", armed.error());
    // The guest's watchdog task, when the config gives it one (NK_WATCHDOG from nkd).
    if (auto watchdog = nk::rt::add_watchdog_from_env(**exec, region); !watchdog) return fail("watchdog", watchdog.error());
    if (auto started = (*exec)->start(); !started) return fail("start", started.error());
    std::printf("rt console: up at %s%s%s, telnet port 23, discard port 9, %zu peer(s)\n", plan->address.text().c_str(),
                plan->address6 ? ", " : "", plan->address6 ? plan->address6->text().c_str() : "", plan->peers.size());
    std::fflush(stdout);

    (void)stop_signals.wait();
    (*exec)->stop();
    console.stop();
    (void)nk::heartbeat::disarm(region);
    const auto totals = (*stack)->totals();
    std::printf("rt console: stopped (%llu packets in, %llu out, %llu bytes discarded)\n",
                static_cast<unsigned long long>(totals.received), static_cast<unsigned long long>(totals.sent),
                static_cast<unsigned long long>(discard.bytes()));
    stack->reset();
    return 0;
}
