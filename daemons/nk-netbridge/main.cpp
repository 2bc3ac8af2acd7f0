// nk-netbridge: a linux guest's netbridge router (netbridge/router.hpp). nkd starts it as the
// first service of every linux guest with a `net` table, with the guest's plan on the command
// line; it can be run by hand inside a guest the same way.
//
//   nk-netbridge --plan 'self=alpha;id=1;kind=linux;mtu=1500;tun=nk0;address=10.77.1.1/24;peer=...'
//                [--no-offload] [--queues N] [--scheduling batch|other]
//
// It makes the TUN device, its addresses and routes; makes this guest's inbound packet ports;
// for a gateway guest, sets up the outside interface and turns on forwarding; then routes until
// SIGTERM or SIGINT, which is a clean exit (status 0).
#include <net/if.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <thread>

#include <CLI/CLI.hpp>
#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>

#include "nk/nanokernel/guest.hpp"
#include "nk/netbridge/router.hpp"

namespace {

// The outside interface is handed into this namespace by nkd just before the guest starts; it
// may take a moment to show up when the router is started by hand.
nk::Result<void> set_up_outside(const nk::netbridge::NetPlan& plan) {
    for (int i = 0; i < 50 && ::if_nametoindex(plan.outside.c_str()) == 0; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (::if_nametoindex(plan.outside.c_str()) == 0)
        return nk::fail(nk::RegionError::NotFound, "outside interface '" + plan.outside + "' is not in this guest");
    const std::string family = plan.outside_address->is_v4() ? "-4" : "-6";
    if (auto added = nk::netbridge::run_ip({family, "addr", "replace", plan.outside_address->text(), "dev", plan.outside}); !added)
        return added;
    return nk::netbridge::run_ip({"link", "set", "dev", plan.outside, "up"});
}

std::size_t usable_cpus() {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (::sched_getaffinity(0, sizeof set, &set) != 0) return 1;
    return std::clamp<std::size_t>(static_cast<std::size_t>(CPU_COUNT(&set)), 1, 8);
}

// SCHED_BATCH, for this thread and the threads it starts after: a packet the router is woken for
// was written by a program that usually goes on to sleep on its socket a moment later. As an
// ordinary task the router took the CPU from it at once (wake-up preemption) and the program came
// back only to block; as a batch task it runs when the program sleeps, one context switch fewer
// per hop. Measured on one CPU (docs/BENCHMARKS.md, net): TCP round trip p50 -15%, one stream +3%.
// A router given real-time priority by its guest keeps it.
void schedule_as_batch() {
    if (::sched_getscheduler(0) != SCHED_OTHER) return;
    sched_param param{};
    if (::sched_setscheduler(0, SCHED_BATCH, &param) != 0)
        std::fprintf(stderr, "nk-netbridge: cannot switch to SCHED_BATCH (%s); staying SCHED_OTHER\n", std::strerror(errno));
}

bool write_sysctl(const std::string& path, const char* value) {
    std::ofstream out(path);
    out << value;
    return static_cast<bool>(out.flush());
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"nk-netbridge: carries this guest's IP packets to the other guests as nanokernel messages"};
    std::string plan_line;
    bool no_offload = false;
    // One queue by default: on the 2-CPU development machine two queues routed 3 Gbit/s where one
    // routes 7 (the lanes and the guest's TCP then share two CPUs), and two sending threads on one
    // port were seen refused as "stopped" under load (docs/ARCHITECTURE.md, netbridge).
    std::size_t queues = 1;
    app.add_option("--plan", plan_line, "this guest's netbridge plan (nkd writes it)")->required();
    app.add_option("--queues", queues, "TUN queues, each routed by its own thread (default 1; at most the CPUs it may use)")
        ->check(CLI::Range(1, 64));
    app.add_flag("--no-offload", no_offload, "no TSO/GSO or checksum offload: MTU-sized packets only");
    std::string scheduling = "batch";
    app.add_option("--scheduling", scheduling, "batch (default: never preempts the programs it carries packets for) or other")
        ->check(CLI::IsMember({"batch", "other"}));
    CLI11_PARSE(app, argc, argv);
    queues = std::min(queues, usable_cpus());

    auto plan = nk::netbridge::decode_plan(plan_line);
    if (!plan) {
        std::fprintf(stderr, "nk-netbridge: %s\n", plan.error().message.c_str());
        return 2;
    }
    auto region = nk::guest::attach();
    if (!region) {
        std::fprintf(stderr, "nk-netbridge: cannot attach to the region: %s\n", region.error().message.c_str());
        return 1;
    }
    auto links = nk::netbridge::PacketLinks::open(region->get(), *plan);
    if (!links) {
        std::fprintf(stderr, "nk-netbridge: %s\n", links.error().message.c_str());
        return 1;
    }
    auto tun = nk::netbridge::TunDevice::open(*plan, {.offloads = !no_offload, .queues = queues});
    if (!tun) {
        std::fprintf(stderr, "nk-netbridge: TUN device %s: %s\n", plan->tun.c_str(), tun.error().message.c_str());
        return 1;
    }
    if (!plan->outside.empty()) {
        if (auto outside = set_up_outside(*plan); !outside) {
            std::fprintf(stderr, "nk-netbridge: %s\n", outside.error().message.c_str());
            return 1;
        }
    }
    if (plan->forward && (!write_sysctl("/proc/sys/net/ipv4/ip_forward", "1") ||
                          (plan->address6 && !write_sysctl("/proc/sys/net/ipv6/conf/all/forwarding", "1")))) {
        std::fprintf(stderr, "nk-netbridge: cannot turn on forwarding in /proc/sys/net\n");
        return 1;
    }

    // The counters come last: `nkctl net` (and whoever waits for the network) sees this guest's
    // end up only once its addresses and routes are in place. Made first, they announced a router
    // whose routes a ping could still miss ("Network is unreachable").
    auto stats = nk::netbridge::NetStats::create(region->get(), *plan);
    if (!stats) {
        std::fprintf(stderr, "nk-netbridge: %s\n", stats.error().message.c_str());
        return 1;
    }

    asio::io_context io;
    nk::netbridge::Router router(io, nk::netbridge::RouteTable(*plan), std::move(*tun), std::move(*links),
                                 std::move(*stats));
    asio::signal_set signals(io, SIGTERM, SIGINT);
    signals.async_wait([&](const asio::error_code&, int) { io.stop(); });
    if (scheduling == "batch") schedule_as_batch();  // before start(): the inbound thread inherits it
    router.start();
    std::fprintf(stderr, "nk-netbridge: guest '%s' on %s %s%s, mtu %u, %zu queue(s), %zu peer(s)%s%s\n", plan->guest.c_str(),
                 plan->tun.c_str(), plan->address.text().c_str(),
                 plan->address6 ? (" " + plan->address6->text()).c_str() : "", plan->mtu, queues, plan->peers.size(),
                 no_offload ? ", no offloads" : ", offloads on", plan->forward ? ", forwarding" : "");
    // One thread per TUN queue: each lane's handlers run one at a time, different lanes at once.
    std::vector<std::thread> more;
    for (std::size_t q = 1; q < queues; ++q) more.emplace_back([&] { io.run(); });
    io.run();
    for (auto& thread : more) thread.join();
    router.stop();  // after the io_context: nothing of the router runs on it any more
    return 0;
}
