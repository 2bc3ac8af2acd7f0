// nkd's supervisor (supervisor.hpp).
#include "supervisor.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sys/syscall.h>

#include <algorithm>
#include <fstream>
#include <cstdio>
#include <cstring>

#include <nlohmann/json.hpp>

#include "nk/nanokernel/clock.hpp"
#include "nk/nanokernel/directory.hpp"
#include "nk/nanokernel/guest_hosts.hpp"
#include "nk/nanokernel/heartbeat.hpp"
#include "nk/nanokernel/interrupts.hpp"
#include "nk/nanokernel/panic.hpp"
#include "nk/nanokernel/partition.hpp"
#include "nk/nanokernel/recovery.hpp"
#include "nk/nanokernel/rt_watchdog_settings.hpp"
#include "nk/netbridge/net_plan.hpp"

namespace nk::nkd {
namespace {

using namespace std::chrono_literals;

constexpr auto kFirstBackoff = 100ms;
constexpr auto kMaxBackoff = 5000ms;
constexpr auto kHealthyAfter = 10s;
constexpr auto kPanicGrace = 500ms;  // for the guest's init to end the guest itself after a panic  // a guest that ran this long starts a fresh failure count
constexpr const char* kSystemPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

std::string describe(int status) {
    if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) return std::string("was killed by SIG") + sigabbrev_np(WTERMSIG(status));
    return "ended";
}

// The directory nkd serves its socket from; guests must not see it (they attach by inherited fds).
std::string run_dir() {
    const char* dir = std::getenv("NK_RUN_DIR");
    return dir != nullptr && *dir != '\0' ? dir : "/run/nk";
}

}  // namespace

Supervisor::Supervisor(Region& region, const PlatformConfig& config, std::string init_path,
                       std::vector<UniqueFd> kept_consoles)
    : region_(region), config_(config), init_path_(std::move(init_path)) {
    guests_.resize(config_.guests.size());
    for (std::size_t i = 0; i < guests_.size(); ++i) {
        Guest& guest = guests_[i];
        guest.config = &config_.guests[i];
        // One pipe per guest for the life of the platform: every incarnation writes into it, and
        // the keeper holds its read end, so a guest never gets SIGPIPE while nkd is away.
        if (i < kept_consoles.size() && kept_consoles[i]) {
            guest.console = std::move(kept_consoles[i]);
            const std::string path = "/proc/self/fd/" + std::to_string(guest.console.get());
            guest.console_write = UniqueFd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
        } else {
            int ends[2];
            if (::pipe2(ends, O_CLOEXEC | O_NONBLOCK) == 0) {
                guest.console = UniqueFd(ends[0]);
                guest.console_write = UniqueFd(ends[1]);
                // The guest's end blocks as an ordinary stdout does; only nkd's end is non-blocking.
                ::fcntl(ends[1], F_SETFL, 0);
            }
        }
    }
}

std::vector<int> Supervisor::console_read_fds() const {
    std::vector<int> fds;
    for (const auto& guest : guests_) fds.push_back(guest.console ? guest.console.get() : -1);
    return fds;
}

std::vector<std::string> Supervisor::init_argv(const GuestConfig& g) const {
    std::vector<std::string> argv{init_path_, "--guest", g.name, "--hostname", g.hostname, "--hide", run_dir()};
    if (g.kind == GuestKind::Linux) {
        auto services = g.services;
        if (g.watchdog.enabled) {
            // The guest's watchdog is one of its services (nk-watchdog is beside nk-init).
            std::string watch;
            for (const auto& name : g.watchdog.watch) watch += (watch.empty() ? "" : ",") + name;
            std::vector<std::string> daemon{"nk-watchdog", "--period", std::to_string(g.watchdog.period_ms), "--misses",
                                            std::to_string(g.watchdog.misses), "--priority",
                                            std::to_string(g.watchdog.priority)};
            if (!watch.empty()) daemon.insert(daemon.end(), {"--watch", watch});
            if (!g.watchdog.hook.empty()) daemon.insert(daemon.end(), {"--hook", g.watchdog.hook});
            // The health page on the guest's netbridge address (the config made sure it has one).
            if (g.watchdog.http_port != 0 && g.net.enabled)
                daemon.insert(daemon.end(), {"--http", g.net.address.address_text(), "--http-port",
                                             std::to_string(g.watchdog.http_port)});
            services.insert(services.begin(), daemon);
        }
        if (g.net.enabled) {
            // Its netbridge router is its first service: the network is up before the others start.
            if (auto plan = netbridge::plan_for(config_, g))
                services.insert(services.begin(), {"nk-netbridge", "--plan", netbridge::encode(*plan)});
        }
        for (const auto& line : guest_hosts_lines(config_, g)) argv.insert(argv.end(), {"--host", line});
        argv.push_back("--loopback");
        argv.push_back("--services");
        argv.push_back(nlohmann::json(services).dump());
        return argv;
    }
    argv.insert(argv.end(), {"--cpus", cpu_list_text(g.cpus)});
    if (g.sched == SchedClass::Rt) argv.insert(argv.end(), {"--fifo", std::to_string(g.priority)});
    argv.insert(argv.end(), {"--exec", "--"});
    argv.insert(argv.end(), g.run.begin(), g.run.end());
    return argv;
}

// The guest's outside interface moves from the host's network namespace into the guest's before
// the guest runs (I/O partitioning: the device is the guest's alone); its router gives it its
// address. A veth moved so ends with the guest's namespace: a restarted gateway guest needs the
// interface made again on the host (the config names it; nkd does not create it).
void Supervisor::hand_over_interface(const GuestConfig& g, pid_t pid) const {
    const std::string command = "ip link set dev '" + g.net.outside + "' netns " + std::to_string(pid);
    const int status = std::system(command.c_str());
    if (status != 0)
        std::fprintf(stderr, "nkd: guest '%s': cannot hand it interface '%s' (%s: exit %d); it runs without it\n",
                     g.name.c_str(), g.net.outside.c_str(), command.c_str(), WEXITSTATUS(status));
}

CgroupLimits Supervisor::limits_for(const GuestConfig& g) const {
    CgroupLimits limits{g.cpus, g.cpu_weight, g.memory_limit, g.sched == SchedClass::Rt, 0, {}};
    // Its watchdog at SCHED_FIFO needs RT time: little per period, but a group that spends its
    // budget is throttled to the end of the second, and the heartbeat with it; so a wide margin.
    if (g.watchdog.enabled && g.watchdog.priority > 0) limits.rt_budget_us = 100'000;
    // Every device another guest owns is closed to this one (I/O partitioning).
    for (const auto& other : config_.guests)
        if (other.id != g.id) limits.denied_devices.insert(limits.denied_devices.end(), other.devices.begin(), other.devices.end());
    return limits;
}

void Supervisor::reclaim_objects(const GuestConfig& g) {
    // What the failed incarnation owned in its private area, its links and the common area goes;
    // its PNV area is kept whole (that is what PNV memory is for).
    for (const auto& area : region_.areas()) {
        const bool candidate = (area.kind == layout::AreaKind::Private && area.owner_guest == g.id) ||
                               (area.kind == layout::AreaKind::Link && area.involves(g.id)) ||
                               area.kind == layout::AreaKind::Common;
        if (!candidate) continue;
        Directory directory(region_, area.index);
        auto objects = directory.list();
        if (!objects) {
            std::fprintf(stderr, "nkd: guest '%s': cannot list area '%s': %s\n", g.name.c_str(), area.label.c_str(),
                         objects.error().message.c_str());
            continue;
        }
        for (const auto& object : *objects) {
            if (object.owner_guest != g.id || object.state != layout::EntryState::Live) continue;
            if (auto removed = directory.remove(object.name); removed)
                std::fprintf(stderr, "nkd: guest '%s': reclaimed %s '%s' in '%s' (incarnation %u)\n", g.name.c_str(),
                             std::string(to_string(object.kind)).c_str(), object.name.c_str(), area.label.c_str(),
                             object.owner_incarnation);
            else
                std::fprintf(stderr, "nkd: guest '%s': cannot reclaim '%s': %s\n", g.name.c_str(), object.name.c_str(),
                             removed.error().message.c_str());
        }
    }
}

void Supervisor::watch_failures(Guest& guest) {
    if (!guest.console_ring) {
        auto ring = ConsoleRing::open(region_, guest.config->id, true);
        if (ring) guest.console_ring = std::move(*ring);
        else std::fprintf(stderr, "nkd: guest '%s': no console ring: %s\n", guest.config->name.c_str(), ring.error().message.c_str());
    }
    const auto record = read_failure_record(region_, guest.config->id);
    guest.panic_sequence = record ? record->sequence : 0;
}

void Supervisor::start_all(bool adopting) {
    for (auto& guest : guests_) {
        if (!guest.config->runnable()) {
            std::fprintf(stderr, "nkd: guest '%s' has nothing to run (an rt guest without `run`); its processes "
                                 "attach by hand\n", guest.config->name.c_str());
            continue;
        }
        if (adopting) {
            const auto info = region_.guest(guest.config->id);
            if (info && (info->state == layout::GuestState::Running || info->state == layout::GuestState::Starting) &&
                adopt(guest, *info))
                continue;
            if (info && (info->state == layout::GuestState::Down || info->state == layout::GuestState::Stopped)) {
                std::fprintf(stderr, "nkd: guest '%s' was left %s; it stays so\n", guest.config->name.c_str(),
                             std::string(to_string(info->state)).c_str());
                continue;
            }
        }
        start(guest, adopting);
    }
}

bool Supervisor::adopt(Guest& guest, const GuestInfo& info) {
    const GuestConfig& g = *guest.config;
    const auto pid = static_cast<pid_t>(info.init_pid);
    // The pid must still be this guest's init: alive, and in the guest's cgroup.
    std::ifstream cgroups("/proc/" + std::to_string(pid) + "/cgroup");
    const std::string want = "/nk/" + config_.name + "/" + g.name;
    bool ours = false;
    for (std::string line; std::getline(cgroups, line);) ours |= line.size() >= want.size() &&
                                                             line.compare(line.size() - want.size(), want.size(), want) == 0;
    const int pidfd = ours ? static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)) : -1;
    if (pidfd < 0) {
        std::fprintf(stderr, "nkd: guest '%s' (pid %d) is gone; starting it again\n", g.name.c_str(), pid);
        return false;
    }
    auto group = GuestCgroup::create(config_.name, g.name, limits_for(g));
    if (group) guest.cgroup = std::move(*group);
    guest.pid = pid;
    guest.pidfd = UniqueFd(pidfd);
    guest.adopted = true;
    guest.started = Clock::now();
    watch_failures(guest);
    region_.set_guest_state(g.id, layout::GuestState::Running, false);
    std::fprintf(stderr, "nkd: guest '%s' adopted: pid %d, incarnation %u\n", g.name.c_str(), pid, info.incarnation);
    return true;
}

void Supervisor::start(Guest& guest, bool is_restart) {
    const GuestConfig& g = *guest.config;
    guest.restart_at.reset();
    guest.stopping = false;
    auto fail_start = [&](const std::string& why) {
        std::fprintf(stderr, "nkd: cannot start guest '%s': %s\n", g.name.c_str(), why.c_str());
        region_.set_guest_state(g.id, layout::GuestState::Down, false);
    };
    if (!guest.cgroup) {
        auto group = GuestCgroup::create(config_.name, g.name, limits_for(g));
        if (!group) return fail_start("its cgroup: " + group.error().message);
        guest.cgroup = std::move(*group);
    }
    auto fds = region_.export_fds(Identity::guest(g.id));
    if (!fds) return fail_start("its region descriptors: " + fds.error().message);
    if (is_restart) reclaim_objects(g);
    // The new incarnation starts with no pending lines and no armed timers of the old one.
    if (auto reset = irq::reset_guest(region_, g.id); !reset)
        std::fprintf(stderr, "nkd: guest '%s': %s\n", g.name.c_str(), reset.error().message.c_str());
    watch_failures(guest);

    PartitionSpec spec;
    spec.argv = init_argv(g);
    spec.env = export_env(*fds, Identity::guest(g.id));
    // nk's own programs (nk-netbridge, nk-watchdog, examples) are found beside nk-init.
    const std::string nk_bin = init_path_.substr(0, init_path_.rfind('/'));
    spec.env.insert(spec.env.end(), {"PATH=" + nk_bin + ":" + kSystemPath, "HOME=/root", "TERM=dumb", "NK_PLATFORM=" + config_.name,
                                     "NK_GUEST=" + g.name});
    for (const auto& fd : *fds) spec.keep_fds.push_back(fd.get());
    spec.stdout_fd = guest.console_write.get();
    spec.new_network = true;  // rt guests have no interface at all; linux guests get theirs from netbridge
    // An rt guest's lwIP netif runs from the same plan a linux guest's router gets as an argument.
    if (g.net.enabled && g.kind == GuestKind::Rt)
        if (auto plan = netbridge::plan_for(config_, g)) spec.env.push_back("NK_NET_PLAN=" + netbridge::encode(*plan));
    // An rt guest's watchdog is a task of its program's executive (nk/rt/watchdog_task.hpp).
    if (g.watchdog.enabled && g.kind == GuestKind::Rt) {
        RtWatchdogSettings watchdog;
        watchdog.period = std::chrono::milliseconds(g.watchdog.period_ms);
        watchdog.priority = g.watchdog.priority > 0 ? g.watchdog.priority : watchdog.priority;
        watchdog.watch = g.watchdog.watch;
        spec.env.push_back(std::string(kRtWatchdogEnv) + "=" + encode(watchdog));
    }

    region_.set_guest_state(g.id, layout::GuestState::Starting, true);
    auto started = start_partition(spec);
    if (!started) return fail_start(started.error().message);
    if (auto added = guest.cgroup->add(started->pid); !added) {
        ::kill(started->pid, SIGKILL);
        ::waitpid(started->pid, nullptr, 0);
        return fail_start("joining its cgroup: " + added.error().message);
    }
    if (!g.net.outside.empty()) hand_over_interface(g, started->pid);
    if (auto go = started->release(); !go) std::fprintf(stderr, "nkd: guest '%s': %s\n", g.name.c_str(), go.error().message.c_str());
    guest.pid = started->pid;
    guest.pidfd = std::move(started->pidfd);
    guest.adopted = false;
    guest.started = Clock::now();
    GuestRuntimeUpdate update;
    update.init_pid = static_cast<std::uint32_t>(guest.pid);
    update.count_restart = is_restart;
    update.started_unix_ns = clock::unix_ns();
    region_.set_guest_runtime(g.id, update);
    region_.set_guest_state(g.id, layout::GuestState::Running, false);
    irq::announce_peer(region_, g.id, false);
    const auto info = region_.guest(g.id);
    std::fprintf(stderr, "nkd: guest '%s' %s: pid %d, incarnation %u\n", g.name.c_str(),
                 is_restart ? "restarted" : "started", guest.pid, info ? info->incarnation : 0U);
}

std::vector<pollfd> Supervisor::poll_fds() const {
    std::vector<pollfd> fds;
    for (const auto& guest : guests_) {
        if (guest.pidfd) fds.push_back({guest.pidfd.get(), POLLIN, 0});
        if (guest.console) fds.push_back({guest.console.get(), POLLIN, 0});
    }
    return fds;
}

void Supervisor::on_ready(const std::vector<pollfd>& ready) {
    for (const auto& p : ready) {
        if (p.revents == 0) continue;
        for (auto& guest : guests_) {
            if (guest.console && p.fd == guest.console.get()) drain_console(guest, false);
            if (guest.pidfd && p.fd == guest.pidfd.get()) on_exit(guest);
        }
    }
}

void Supervisor::drain_console(Guest& guest, bool flush) {
    char buffer[4096];
    for (;;) {
        const ssize_t n = ::read(guest.console.get(), buffer, sizeof buffer);
        if (n <= 0) break;  // EAGAIN: drained (nkd holds a write end, so there is no EOF)
        guest.console_tail.append(buffer, static_cast<std::size_t>(n));
        std::size_t newline;
        while ((newline = guest.console_tail.find('\n')) != std::string::npos) {
            log_console_line(guest, guest.console_tail.substr(0, newline));
            guest.console_tail.erase(0, newline + 1);
        }
    }
    if (flush && !guest.console_tail.empty()) {
        log_console_line(guest, guest.console_tail);
        guest.console_tail.clear();
    }
}

void Supervisor::log_console_line(Guest& guest, const std::string& line) {
    std::fprintf(stderr, "[%s] %s\n", guest.config->name.c_str(), line.c_str());
    if (guest.console_ring) guest.console_ring->append(line + "\n");
}

void Supervisor::on_exit(Guest& guest) {
    const GuestConfig& g = *guest.config;
    int status = -1;  // an adopted init is not our child: its status is not ours to read
    if (!guest.adopted && ::waitpid(guest.pid, &status, WNOHANG) <= 0) return;  // not ended after all
    const auto ran = Clock::now() - guest.started;
    guest.pidfd.reset();
    guest.pid = -1;
    guest.kill_after_panic.reset();
    // The init's end ends its PID namespace; the cgroup catches anything that escaped it.
    if (auto killed = guest.cgroup->kill_all(); !killed) std::fprintf(stderr, "nkd: %s\n", killed.error().message.c_str());
    if (guest.console) drain_console(guest, true);

    layout::FailureKind kind = layout::FailureKind::Killed;  // also an adopted init's end: it did not stop on request
    const auto record = read_failure_record(region_, g.id);
    const bool panicked = record && record->sequence != guest.panic_sequence;
    if (guest.hung) {
        kind = layout::FailureKind::Heartbeat;
    } else if (panicked) {
        kind = layout::FailureKind::Panic;
        std::fprintf(stderr, "nkd: guest '%s' panicked: %s (pid %u, %s)\n", g.name.c_str(), record->reason.c_str(),
                     record->pid, record->program.c_str());
    } else if (guest.stopping) {
        kind = layout::FailureKind::Stopped;
    } else if (status != -1 && WIFEXITED(status)) {
        kind = WEXITSTATUS(status) == 0 ? layout::FailureKind::CleanExit : layout::FailureKind::Exited;
    }
    GuestRuntimeUpdate update;
    update.exit_status = status;
    update.failure = kind;
    update.failure_unix_ns = clock::unix_ns();
    update.missed_heartbeats = guest.hung.value_or(0);
    update.detected_by = guest.hung ? guest.hung_reported_by : 0;
    guest.hung.reset();
    region_.set_guest_runtime(g.id, update);
    // Peer-down goes out before any restart decision: the others learn of the end at once.
    region_.set_guest_state(g.id, layout::GuestState::Down, false);
    irq::announce_peer(region_, g.id, true);
    std::fprintf(stderr, "nkd: guest '%s' %s after %.1f s\n", g.name.c_str(),
                 status == -1 ? "ended (adopted: exit status unknown)" : describe(status).c_str(),
                 std::chrono::duration<double>(ran).count());

    const bool failed = kind == layout::FailureKind::Killed || kind == layout::FailureKind::Exited ||
                        kind == layout::FailureKind::Panic || kind == layout::FailureKind::Heartbeat;
    const bool wanted = !guest.stopping && (g.restart == RestartPolicy::Always ||
                                            (g.restart == RestartPolicy::OnFailure && failed));
    if (!wanted) {
        region_.set_guest_state(g.id, failed ? layout::GuestState::Down : layout::GuestState::Stopped, false);
        if (failed) std::fprintf(stderr, "nkd: guest '%s' stays down (restart = \"%s\")\n", g.name.c_str(),
                                 std::string(to_string(g.restart)).c_str());
        return;
    }
    guest.failures_in_a_row = ran >= kHealthyAfter ? 1 : guest.failures_in_a_row + 1;
    if (guest.failures_in_a_row > g.restart_limit) {
        region_.set_guest_state(g.id, layout::GuestState::Down, false);
        std::fprintf(stderr, "nkd: guest '%s' failed %u times in a row; giving up (restart_limit = %u)\n",
                     g.name.c_str(), guest.failures_in_a_row, g.restart_limit);
        return;
    }
    auto backoff = kFirstBackoff * (1U << std::min(guest.failures_in_a_row - 1, 6U));
    backoff = std::min<std::chrono::milliseconds>(backoff, kMaxBackoff);
    guest.restart_at = Clock::now() + backoff;
    region_.set_guest_state(g.id, layout::GuestState::Restarting, false);
    std::fprintf(stderr, "nkd: restarting guest '%s' in %lld ms\n", g.name.c_str(),
                 static_cast<long long>(backoff.count()));
}

int Supervisor::timeout_ms() const {
    std::optional<Clock::time_point> next;
    for (const auto& guest : guests_)
        if (guest.restart_at && (!next || *guest.restart_at < *next)) next = guest.restart_at;
    int timeout = -1;
    if (next) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*next - Clock::now()).count();
        timeout = static_cast<int>(std::max<long long>(0, left + 1));
    }
    for (const auto& guest : guests_) {
        if (!guest.kill_after_panic) continue;
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*guest.kill_after_panic - Clock::now()).count();
        const int wait = static_cast<int>(std::max<long long>(0, left + 1));
        timeout = timeout < 0 ? wait : std::min(timeout, wait);
    }
    // Armed heartbeats are looked at four times a period, so a hang is seen within
    // period * (misses + 1/4).
    for (const auto& guest : guests_) {
        if (guest.pid <= 0) continue;
        if (auto beat = heartbeat::read(region_, guest.config->id)) {
            const int quarter = static_cast<int>(std::max<std::uint32_t>(1, beat->period_ms / 4));
            timeout = timeout < 0 ? quarter : std::min(timeout, quarter);
        }
    }
    return timeout;
}

void Supervisor::check_heartbeats() {
    for (auto& guest : guests_) {
        if (guest.pid <= 0 || guest.stopping || guest.hung || guest.kill_after_panic) continue;
        const auto beat = heartbeat::read(region_, guest.config->id);
        if (!beat) continue;
        // A guest its peers' watchdogs watch is theirs to report first (they hold the facts and
        // run the operator's hook); nkd is the backstop, two periods later.
        const std::uint64_t allowed = beat->misses + (watched_by_a_running_watchdog(*guest.config) ? 2U : 0U);
        if (beat->age_ns <= std::uint64_t{beat->period_ms} * allowed * 1'000'000) continue;
        guest.hung = static_cast<std::uint32_t>(std::min<std::uint64_t>(beat->missed(), UINT32_MAX));
        guest.hung_seen_by = "nkd";
        guest.hung_reported_by = 0;
        std::fprintf(stderr,
                     "nkd: guest '%s' is hung: no heartbeat for %.1f ms (%u periods of %u ms missed, %u allowed; "
                     "last health word %llu, %llu beats); recovering it\n",
                     guest.config->name.c_str(), static_cast<double>(beat->age_ns) / 1e6, *guest.hung, beat->period_ms,
                     beat->misses, static_cast<unsigned long long>(beat->health),
                     static_cast<unsigned long long>(beat->sequence));
        ::kill(guest.pid, SIGKILL);  // works on a stopped init too; its end comes through the pidfd
    }
}

void Supervisor::on_panic_line(std::uint16_t guest_id) {
    for (auto& guest : guests_) {
        if (guest.config->id != guest_id || guest.pid <= 0 || guest.stopping || guest.kill_after_panic) continue;
        const auto record = read_failure_record(region_, guest_id);
        std::fprintf(stderr, "nkd: guest '%s' raised its panic line: %s\n", guest.config->name.c_str(),
                     record ? record->reason.c_str() : "(no readable failure record)");
        guest.kill_after_panic = Clock::now() + kPanicGrace;
    }
}

void Supervisor::on_recovery_request(std::uint16_t from) {
    const auto asked = recovery::take(region_, from);
    if (!asked) return;
    auto asker = std::find_if(guests_.begin(), guests_.end(), [&](const Guest& g) { return g.config->id == from; });
    auto target = std::find_if(guests_.begin(), guests_.end(), [&](const Guest& g) { return g.config->id == asked->target; });
    if (asker == guests_.end() || target == guests_.end() || target == asker) return;
    const std::string& who = asker->config->name;
    const std::string& name = target->config->name;
    const auto info = region_.guest(asked->target);
    if (!info || target->pid <= 0 || info->incarnation != asked->incarnation || target->stopping) {
        std::fprintf(stderr, "nkd: guest '%s's watchdog reports guest '%s' (incarnation %u) failed: already handled\n",
                     who.c_str(), name.c_str(), asked->incarnation);
        return;
    }
    if (target->hung || target->kill_after_panic) {
        std::fprintf(stderr, "nkd: guest '%s's watchdog reports guest '%s' hung: recovery already under way (found by %s)\n",
                     who.c_str(), name.c_str(), target->hung_seen_by.c_str());
        return;
    }
    target->hung = static_cast<std::uint32_t>(std::min<std::uint64_t>(asked->missed, UINT32_MAX));
    target->hung_seen_by = "guest '" + who + "'s watchdog";
    target->hung_reported_by = from;
    std::fprintf(stderr, "nkd: guest '%s's watchdog reports guest '%s' hung (%llu periods without a heartbeat, health "
                         "word %llu); recovering it\n",
                 who.c_str(), name.c_str(), static_cast<unsigned long long>(asked->missed),
                 static_cast<unsigned long long>(asked->health));
    ::kill(target->pid, SIGKILL);  // its end comes through the pidfd and is recorded as a heartbeat failure
}

void Supervisor::end_panicked_guests() {
    const auto now = Clock::now();
    for (auto& guest : guests_) {
        if (!guest.kill_after_panic || *guest.kill_after_panic > now) continue;
        guest.kill_after_panic.reset();
        if (guest.pid <= 0) continue;
        std::fprintf(stderr, "nkd: guest '%s' still runs %lld ms after its panic; killing it\n",
                     guest.config->name.c_str(), static_cast<long long>(kPanicGrace.count()));
        ::kill(guest.pid, SIGKILL);  // its end comes through the pidfd and is recorded as a panic
    }
}

bool Supervisor::watched_by_a_running_watchdog(const GuestConfig& g) const {
    for (const auto& other : guests_) {
        if (other.pid <= 0 || !other.config->watchdog.enabled) continue;
        const auto& watch = other.config->watchdog.watch;
        if (std::find(watch.begin(), watch.end(), g.name) != watch.end()) return true;
    }
    return false;
}

void Supervisor::run_due_restarts() {
    const auto now = Clock::now();
    for (auto& guest : guests_)
        if (guest.restart_at && *guest.restart_at <= now) start(guest, true);
}

void Supervisor::stop_guest(Guest& guest, std::chrono::milliseconds grace) {
    guest.restart_at.reset();
    if (guest.pid <= 0) return;
    guest.stopping = true;
    ::kill(guest.pid, SIGTERM);
    pollfd p{guest.pidfd.get(), POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(grace.count())) <= 0) {
        std::fprintf(stderr, "nkd: guest '%s' did not stop within %lld ms; killing it\n", guest.config->name.c_str(),
                     static_cast<long long>(grace.count()));
        ::kill(guest.pid, SIGKILL);
        ::poll(&p, 1, -1);
    }
    on_exit(guest);
}

void Supervisor::stop_all(std::chrono::milliseconds grace) {
    for (auto it = guests_.rbegin(); it != guests_.rend(); ++it) {
        Guest& guest = *it;
        stop_guest(guest, grace);
        if (guest.cgroup) {
            if (auto killed = guest.cgroup->kill_all(); !killed) std::fprintf(stderr, "nkd: %s\n", killed.error().message.c_str());
            if (auto removed = guest.cgroup->remove(); !removed)
                std::fprintf(stderr, "nkd: %s\n", removed.error().message.c_str());
            guest.cgroup.reset();
        }
    }
}

Result<std::string> Supervisor::operate(std::string_view op, std::string_view name) {
    auto it = std::find_if(guests_.begin(), guests_.end(), [&](const Guest& g) { return g.config->name == name; });
    if (it == guests_.end()) return fail(RegionError::NotFound, "no guest is named '" + std::string(name) + "'");
    Guest& guest = *it;
    if (!guest.config->runnable())
        return fail(RegionError::InvalidArgument, "guest '" + std::string(name) + "' has nothing for nkd to run");
    const bool up = guest.pid > 0;
    if (op == "stop") {
        if (!up && !guest.restart_at) return std::string("guest '" + std::string(name) + "' is not running");
        std::fprintf(stderr, "nkd: stopping guest '%s' (nkctl stop)\n", guest.config->name.c_str());
        stop_guest(guest, std::chrono::milliseconds(5000));
        region_.set_guest_state(guest.config->id, layout::GuestState::Stopped, false);
        return std::string("guest '" + std::string(name) + "' stopped");
    }
    if (op == "start") {
        if (up) return std::string("guest '" + std::string(name) + "' is already running");
        guest.failures_in_a_row = 0;
        start(guest, false);
        if (guest.pid <= 0) return fail(RegionError::NotRunning, "guest '" + std::string(name) + "' did not start (see nkd's log)");
        return std::string("guest '" + std::string(name) + "' started");
    }
    if (op == "restart") {
        std::fprintf(stderr, "nkd: restarting guest '%s' (nkctl restart)\n", guest.config->name.c_str());
        stop_guest(guest, std::chrono::milliseconds(5000));
        guest.failures_in_a_row = 0;
        start(guest, true);
        if (guest.pid <= 0) return fail(RegionError::NotRunning, "guest '" + std::string(name) + "' did not start (see nkd's log)");
        return std::string("guest '" + std::string(name) + "' restarted");
    }
    return fail(RegionError::InvalidArgument, "unknown operation '" + std::string(op) + "' (stop, start, restart)");
}

std::string Supervisor::status() const {
    std::string text;
    for (const auto& guest : guests_) {
        auto info = region_.guest(guest.config->id);
        if (!text.empty()) text += ", ";
        text += guest.config->name + " " + std::string(info ? to_string(info->state) : "?");
    }
    return text;
}

}  // namespace nk::nkd
