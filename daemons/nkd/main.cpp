// nkd: the nanokernel supervisor. It creates the platform's region from the config, holds it
// (the region lives as long as nkd does, which is what makes PNV memory outlive guests), serves
// attach-by-name requests on the platform's socket, and starts each guest as an isolated
// partition, watches it and restarts only the guest that failed (supervisor.hpp).
//
// The data path never passes through it.
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "nk/nanokernel/cgroup.hpp"
#include "nk/nanokernel/platform_config.hpp"
#include "nk/nanokernel/region.hpp"
#include "nk/nanokernel/region_client.hpp"
#include "nk/nanokernel/region_keeper.hpp"
#include "nk/nanokernel/region_server.hpp"
#include "nk/nanokernel/timer_core.hpp"
#include "notify.hpp"
#include "control_server.hpp"
#include "supervisor.hpp"

namespace {

// nk-init lives beside nkd, in the build tree and when installed.
std::string default_init_path() {
    char exe[4096];
    const ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return "nk-init";
    std::string path(exe, static_cast<std::size_t>(n));
    return path.substr(0, path.rfind('/') + 1) + "nk-init";
}

// Empty when the region's guest table matches the config's guests; else what differs.
std::string same_guests(const nk::Region& region, const nk::PlatformConfig& config) {
    const auto guests = region.guests();
    if (guests.size() != config.guests.size())
        return "the running platform has " + std::to_string(guests.size()) + " guests, the config " +
               std::to_string(config.guests.size());
    for (std::size_t i = 0; i < guests.size(); ++i)
        if (guests[i].id != config.guests[i].id || guests[i].name != config.guests[i].name)
            return "the running platform's guest " + std::to_string(i) + " is '" + guests[i].name + "' (id " +
                   std::to_string(guests[i].id) + "), the config's '" + config.guests[i].name + "'";
    return {};
}

int run(const std::string& config_path, std::string init_path) {
    auto config = nk::load_platform_config(config_path);
    if (!config) {
        std::fprintf(stderr, "nkd: %s\n", config.error().message.c_str());
        return 2;
    }
    // One nkd per platform: a live one answers on the platform's socket.
    if (auto served = nk::attach_by_name(config->name, nk::Identity::observer())) {
        std::fprintf(stderr, "nkd: platform '%s' is already served by another nkd (%s)\n", config->name.c_str(),
                     nk::platform_socket_path(config->name).c_str());
        return 1;
    }
    // A keeper left by an nkd that died holds the running platform: adopt it, guests and all.
    const std::string keeper_file = nk::run_directory() + "/" + config->name + ".keeper";
    std::optional<nk::Region> region;
    std::vector<nk::UniqueFd> kept_consoles;
    pid_t keeper = -1;
    auto kept = nk::reopen_from_keeper(config->name, config->guests.size(), keeper_file);
    if (kept) {
        auto adopted = nk::Region::adopt(std::move(kept->areas));
        if (!adopted) {
            std::fprintf(stderr, "nkd: the kept region of platform '%s' cannot be adopted: %s\n(stop its keeper, "
                                 "kill %d, to start the platform afresh)\n",
                         config->name.c_str(), adopted.error().message.c_str(), kept->keeper);
            return 1;
        }
        if (auto same = same_guests(*adopted, *config); !same.empty()) {
            std::fprintf(stderr, "nkd: %s: %s; stop the running platform first (kill %d ends its keeper)\n",
                         config_path.c_str(), same.c_str(), kept->keeper);
            return 1;
        }
        region = std::move(*adopted);
        kept_consoles = std::move(kept->consoles);
        keeper = kept->keeper;
        std::fprintf(stderr, "nkd: adopting the running platform '%s' from its keeper (pid %d)\n",
                     config->name.c_str(), keeper);
    } else if (kept.error().code != make_error_code(nk::RegionError::NotFound)) {
        std::fprintf(stderr, "nkd: %s\n", kept.error().message.c_str());
        return 1;
    } else {
        if (auto pids = nk::GuestCgroup::platform_pids(config->name); !pids.empty()) {
            std::fprintf(stderr, "nkd: a platform named '%s' is running already (its guest cgroups hold %zu processes, "
                                 "pid %d among them), perhaps served from another NK_RUN_DIR; stop it first\n",
                         config->name.c_str(), pids.size(), pids.front());
            return 1;
        }
        auto created = nk::Region::create(*config);
        if (!created) {
            std::fprintf(stderr, "nkd: cannot create the region of platform '%s': %s\n", config->name.c_str(),
                         created.error().message.c_str());
            return 1;
        }
        region = std::move(*created);
    }
    const bool adopting = keeper > 0;
    // Signals arrive as events on a signalfd, never as handlers (STYLE.md, "Daemons"). Blocked
    // before the socket appears: whoever sees the socket may stop nkd at once, and a SIGTERM that
    // came before the block would kill it instead of stopping it cleanly.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGHUP);
    sigprocmask(SIG_BLOCK, &signals, nullptr);
    const int signal_fd = ::signalfd(-1, &signals, SFD_CLOEXEC);
    if (signal_fd < 0) {
        std::perror("nkd: signalfd");
        return 1;
    }
    auto server = nk::RegionServer::listen(*region);
    if (!server) {
        std::fprintf(stderr, "nkd: cannot serve platform '%s': %s\n", config->name.c_str(),
                     server.error().message.c_str());
        return 1;
    }

    std::fprintf(stderr, "nkd: platform '%s' up: region %llu KiB in %zu areas, %zu guests; serving %s\n",
                 config->name.c_str(), static_cast<unsigned long long>(region->size() >> 10), region->areas().size(),
                 config->guests.size(), server->path().c_str());

    auto control = nk::nkd::ControlServer::listen(nk::run_directory() + "/" + config->name + ".ctl");
    if (!control) {
        std::fprintf(stderr, "nkd: %s\n", control.error().message.c_str());
        return 1;
    }
    if (init_path.empty()) init_path = default_init_path();
    nk::nkd::Supervisor supervisor(*region, *config, init_path, std::move(kept_consoles));
    if (!adopting) {
        auto started = nk::start_region_keeper(*region, supervisor.console_read_fds(), keeper_file);
        if (!started) {
            std::fprintf(stderr, "nkd: %s\n", started.error().message.c_str());
            return 1;
        }
        keeper = *started;
    }
    // The guests' panic lines and their watchdogs' recovery requests are heard on a thread of
    // nkd's timer core and handed to this loop through an eventfd, with the guests in masks.
    const int calls_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    std::atomic<std::uint32_t> panicked{0}, asked_recovery{0};
    auto guest_bit = [&](std::uint16_t id) {
        for (std::size_t i = 0; i < config->guests.size(); ++i)
            if (config->guests[i].id == id) return 1U << i;
        return 0U;
    };
    // (The timers themselves are served by the region keeper's core.)
    nk::TimerCore::Options panic_watch;
    // Each call marks the guest in its mask and wakes this loop; pairs with the exchanges below.
    auto hand_to_loop = [&](std::atomic<std::uint32_t>& mask) {
        return [&, mask_ptr = &mask](std::uint16_t guest) {
            mask_ptr->fetch_or(guest_bit(guest), std::memory_order_release);
            const std::uint64_t one = 1;
            (void)::write(calls_fd, &one, sizeof one);
        };
    };
    panic_watch.on_panic = hand_to_loop(panicked);
    panic_watch.on_recovery_request = hand_to_loop(asked_recovery);
    auto timer_core = nk::TimerCore::start(*region, std::move(panic_watch));
    if (!timer_core || calls_fd < 0) {
        std::fprintf(stderr, "nkd: cannot start the timer core: %s\n",
                     timer_core ? "eventfd failed" : timer_core.error().message.c_str());
        return 1;
    }
    supervisor.start_all(adopting);
    nk::daemon::notify("READY=1\nSTATUS=platform " + config->name + ": " + supervisor.status());

    // systemd's watchdog: WATCHDOG=1 at half its interval, while the loop runs (a wedged nkd
    // stops sending and systemd restarts it; the restarted nkd adopts the guests).
    const std::uint64_t watchdog_us = nk::daemon::watchdog_usec();
    const auto watchdog_every = std::chrono::microseconds(watchdog_us / 2);
    auto next_watchdog = std::chrono::steady_clock::now();
    std::string last_status;
    for (;;) {
        int timeout = supervisor.timeout_ms();
        if (watchdog_us != 0) {
            const auto now = std::chrono::steady_clock::now();
            if (now >= next_watchdog) {
                nk::daemon::notify("WATCHDOG=1");
                next_watchdog = now + watchdog_every;
            }
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(next_watchdog - now).count() + 1;
            timeout = timeout < 0 ? static_cast<int>(left) : std::min(timeout, static_cast<int>(left));
        }
        std::vector<pollfd> fds = {{server->fd(), POLLIN, 0}, {signal_fd, POLLIN, 0}, {control->fd(), POLLIN, 0},
                                   {calls_fd, POLLIN, 0}};
        const std::vector<pollfd> guest_fds = supervisor.poll_fds();
        fds.insert(fds.end(), guest_fds.begin(), guest_fds.end());
        if (::poll(fds.data(), fds.size(), timeout) < 0) {
            if (errno == EINTR) continue;
            std::perror("nkd: poll");
            return 1;
        }
        if ((fds[3].revents & POLLIN) != 0) {
            std::uint64_t count = 0;
            (void)::read(calls_fd, &count, sizeof count);
            auto each_guest_in = [&](std::atomic<std::uint32_t>& mask, auto act) {
                const std::uint32_t guests = mask.exchange(0, std::memory_order_acquire);
                for (std::size_t i = 0; i < config->guests.size(); ++i)
                    if ((guests & (1U << i)) != 0) act(config->guests[i].id);
            };
            each_guest_in(panicked, [&](std::uint16_t id) { supervisor.on_panic_line(id); });
            each_guest_in(asked_recovery, [&](std::uint16_t id) { supervisor.on_recovery_request(id); });
        }
        supervisor.on_ready({fds.begin() + 4, fds.end()});
        if ((fds[2].revents & POLLIN) != 0)
            control->serve_one([&](const std::string& op, const std::string& guest) { return supervisor.operate(op, guest); });
        supervisor.check_heartbeats();
        supervisor.end_panicked_guests();
        supervisor.run_due_restarts();
        // STATUS only when it changes: the loop wakes many times a second.
        if (std::string status = "STATUS=platform " + config->name + ": " + supervisor.status(); status != last_status) {
            nk::daemon::notify(status);
            last_status = std::move(status);
        }
        if ((fds[1].revents & POLLIN) != 0) {
            signalfd_siginfo info{};
            if (::read(signal_fd, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
                if (info.ssi_signo == SIGHUP) {
                    std::fprintf(stderr, "nkd: SIGHUP: the region's partition is fixed while it runs; "
                                         "restart nkd to apply config changes\n");
                    continue;
                }
                std::fprintf(stderr, "nkd: signal %u: stopping platform '%s'\n", info.ssi_signo, config->name.c_str());
                nk::daemon::notify("STOPPING=1");
                supervisor.stop_all();
                timer_core->reset();
                nk::stop_region_keeper(keeper, keeper_file);
                return 0;
            }
        }
        if ((fds[0].revents & POLLIN) != 0) {
            if (auto served = server->serve_one(); !served)
                std::fprintf(stderr, "nkd: attach request refused: %s\n", served.error().message.c_str());
        }
    }
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"nkd: the nk nanokernel supervisor"};
    std::string config_path, init_path;
    app.add_option("-c,--config", config_path, "platform config (TOML)")->required();
    app.add_option("--init", init_path, "the nk-init binary (default: beside nkd)");
    CLI11_PARSE(app, argc, argv);
    nk::daemon::adopt_notify_environment();
    return run(config_path, init_path);
}
