// nkctl guests (the guest table as nkd keeps it) and nkctl exec (a command inside a guest).
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "format.hpp"
#include "nk/nanokernel/cgroup.hpp"
#include "nk/nanokernel/clock.hpp"
#include "nk/nanokernel/console_ring.hpp"
#include "nk/nanokernel/panic.hpp"
#include "nk/status/guest_status.hpp"

namespace nk::ctl {
namespace {

std::string own_directory() {
    char exe[4096];
    const ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return "/usr/local/bin";
    const std::string path(exe, static_cast<std::size_t>(n));
    return path.substr(0, path.rfind('/'));
}

using status::exit_text;
using status::guest_json;
using status::running;

}  // namespace

int guests_command(const Target& target, bool json) {
    auto region = connect(target, Identity::observer());
    if (!region) {
        std::fprintf(stderr, "nkctl guests: %s\n", region.error().message.c_str());
        return 1;
    }
    const std::uint64_t now = clock::unix_ns();
    const auto guests = region->guests();
    if (json) {
        nlohmann::json out = nlohmann::json::array();
        for (const auto& g : guests) out.push_back(guest_json(g, now));
        std::printf("%s\n", out.dump(2).c_str());
        return 0;
    }
    Table table({"NAME", "KIND", "STATE", "PID", "INCARNATION", "RESTARTS", "UPTIME", "CPUS", "LAST FAILURE"});
    for (const auto& g : guests) {
        char uptime[32] = "-";
        if (running(g) && g.started_unix_ns != 0)
            std::snprintf(uptime, sizeof uptime, "%.1f s", static_cast<double>(now - g.started_unix_ns) / 1e9);
        std::string last = "-";
        if (g.last_failure != layout::FailureKind::None)
            last = std::string(to_string(g.last_failure)) +
                   (g.last_exit_status >= 0 ? " (" + exit_text(g.last_exit_status) + ")" : std::string()) + " at " +
                   iso_time(g.last_failure_unix_ns);
        table.add({g.name, std::string(to_string(g.kind)), std::string(to_string(g.state)),
                   running(g) ? std::to_string(g.init_pid) : "-", std::to_string(g.incarnation),
                   std::to_string(g.restarts), uptime, cpu_list_text(g.cpus), last});
    }
    std::printf("%s", table.render().c_str());
    return 0;
}

int crash_info_command(const Target& target, const std::string& guest_name, bool json, std::size_t lines) {
    auto region = connect(target, Identity::observer());
    if (!region) {
        std::fprintf(stderr, "nkctl crash-info: %s\n", region.error().message.c_str());
        return 1;
    }
    auto g = region->guest(guest_name);
    if (!g) {
        std::fprintf(stderr, "nkctl crash-info: no guest is named '%s'\n", guest_name.c_str());
        return 1;
    }
    const auto record = read_failure_record(*region, g->id);
    std::vector<std::string> console;
    if (auto ring = ConsoleRing::open(*region, g->id, false)) console = ring->tail(lines);
    // The detector: a panic record written for this failure, a hang, else the init's death (pidfd);
    // a hang was found by nkd's own look at the heartbeat, or reported by a peer's watchdog.
    const std::string detector(status::detector_of(*g));
    const std::string reporter = status::reporter_of(*region, *g);
    if (json) {
        nlohmann::json out = guest_json(*g, clock::unix_ns());
        out["detector"] = detector;
        if (g->last_failure == layout::FailureKind::Heartbeat) out["reported_by"] = reporter;
        out["missed_heartbeats"] = g->missed_heartbeats;
        out["panic"] = nullptr;
        if (record)
            out["panic"] = {{"reason", record->reason},   {"pid", record->pid},
                            {"program", record->program}, {"incarnation", record->incarnation},
                            {"time", iso_time(record->unix_ns)}, {"backtrace", record->backtrace}};
        out["console_tail"] = console;
        std::printf("%s\n", out.dump(2).c_str());
        return 0;
    }
    std::printf("guest %s: %s, incarnation %u, %u restarts\n", g->name.c_str(), std::string(to_string(g->state)).c_str(),
                g->incarnation, g->restarts);
    if (g->last_failure == layout::FailureKind::None) {
        std::printf("last failure: none\n");
    } else {
        std::printf("last failure: %s at %s, detected by %s%s\n", std::string(to_string(g->last_failure)).c_str(),
                    iso_time(g->last_failure_unix_ns).c_str(), detector.c_str(),
                    g->last_exit_status >= 0 ? (", init " + exit_text(g->last_exit_status)).c_str() : "");
        if (g->last_failure == layout::FailureKind::Heartbeat)
            std::printf("missed heartbeats: %u periods, reported by %s\n", g->missed_heartbeats,
                        reporter == "nkd" ? "nkd" : ("guest '" + reporter + "'s watchdog").c_str());
    }
    if (record) {
        std::printf("panic record: \"%s\" by %s (pid %u in the guest, incarnation %u) at %s\n", record->reason.c_str(),
                    record->program.c_str(), record->pid, record->incarnation, iso_time(record->unix_ns).c_str());
        if (!record->backtrace.empty()) std::printf("backtrace:\n%s", record->backtrace.c_str());
    }
    std::printf("console (last %zu lines):\n", console.size());
    for (const auto& line : console) std::printf("  %s\n", line.c_str());
    return 0;
}

int exec_command(const Target& target, const std::string& guest_name, const std::vector<std::string>& command) {
    auto fail_with = [&](const std::string& what) {
        std::fprintf(stderr, "nkctl exec %s: %s\n", guest_name.c_str(), what.c_str());
        return 125;  // as env(1) and nsenter do for their own failures, apart from the command's status
    };
    if (command.empty()) return fail_with("no command given (nkctl exec GUEST -- CMD ...)");
    auto observer = connect(target, Identity::observer());
    if (!observer) return fail_with(observer.error().message);
    auto info = observer->guest(guest_name);
    if (!info) return fail_with("no guest is named '" + guest_name + "' on platform '" +
                                std::string(observer->platform_name()) + "'");
    if (!running(*info))
        return fail_with("guest is " + std::string(to_string(info->state)) + ", not running (nkctl guests)");

    // The command gets the guest's own region descriptors, as the guest's services do.
    auto as_guest = connect(target, Identity::guest(info->id));
    if (!as_guest) return fail_with("its region descriptors: " + as_guest.error().message);
    std::vector<int> fds;
    for (const auto& area : as_guest->areas())
        if (area.mapped) fds.push_back(as_guest->area_fd(area.index));
    std::string fd_list;
    for (int fd : fds) fd_list += (fd_list.empty() ? "" : ",") + std::to_string(fd);

    const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, static_cast<pid_t>(info->init_pid), 0));
    if (pidfd < 0) return fail_with("its init (pid " + std::to_string(info->init_pid) + "): " + std::strerror(errno));
    auto group = GuestCgroup::of_process(static_cast<pid_t>(info->init_pid));
    if (!group) return fail_with("its cgroup: " + group.error().message);
    // nkctl itself stays in its own namespaces (its sanitizers' leak checker, for one, cannot work
    // from another PID namespace): a helper child enters the guest's, and its child runs the
    // command, since after setns(CLONE_NEWPID) only children land in the new PID namespace.
    const auto wait_for = [](pid_t pid) {
        int status = 0;
        while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        if (WIFEXITED(status)) return WEXITSTATUS(status);
        if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
        return 1;
    };
    const pid_t helper = ::fork();
    if (helper < 0) return fail_with(std::string("fork: ") + std::strerror(errno));
    if (helper == 0) {
        // _exit everywhere below: the helper is a copy of nkctl and must not run its exit handlers.
        if (::setns(pidfd, CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET) != 0) {
            std::fprintf(stderr, "nkctl exec %s: entering its namespaces: %s%s\n", guest_name.c_str(),
                         std::strerror(errno), errno == EPERM ? " (needs root)" : "");
            ::_exit(125);
        }
        const pid_t child = ::fork();
        if (child < 0) ::_exit(125);
        if (child == 0) {
            // Only the command joins the guest's cgroup: nkctl must outlive a guest that ends under it.
            if (auto joined = group->add(::getpid()); !joined) {
                std::fprintf(stderr, "nkctl exec %s: joining its cgroup: %s\n", guest_name.c_str(),
                             joined.error().message.c_str());
                ::_exit(125);
            }
            for (int fd : fds) ::fcntl(fd, F_SETFD, 0);
            ::setenv("NK_REGION_FDS", fd_list.c_str(), 1);
            ::setenv("NK_REGION_ROLE", ("guest:" + std::to_string(info->id)).c_str(), 1);
            ::setenv("NK_PLATFORM", std::string(observer->platform_name()).c_str(), 1);
            ::setenv("NK_GUEST", guest_name.c_str(), 1);
            // The PATH of the guest's own services: nk's programs (beside nkctl), then the system's.
            ::setenv("PATH", (own_directory() + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin").c_str(), 1);
            std::vector<char*> argv;
            for (const auto& word : command) argv.push_back(const_cast<char*>(word.c_str()));
            argv.push_back(nullptr);
            ::execvp(argv[0], argv.data());
            std::fprintf(stderr, "nkctl exec %s: cannot run %s: %s\n", guest_name.c_str(), argv[0], std::strerror(errno));
            ::_exit(127);
        }
        ::signal(SIGINT, SIG_IGN);
        ::signal(SIGQUIT, SIG_IGN);
        ::_exit(wait_for(child));
    }
    // The command owns the terminal's signals; nkctl only waits and passes its status on.
    ::signal(SIGINT, SIG_IGN);
    ::signal(SIGQUIT, SIG_IGN);
    return wait_for(helper);
}

}  // namespace nk::ctl
