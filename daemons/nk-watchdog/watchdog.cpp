// nk-watchdog's core (watchdog.hpp).
#include "watchdog.hpp"

#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "nk/nanokernel/heartbeat.hpp"

extern char** environ;

namespace nk::wd {
namespace {

void log(const std::string& line) {
    std::fprintf(stderr, "nk-watchdog: %s\n", line.c_str());
}

// The state letter of /proc/PID/stat ('R', 'S', 'T' stopped, 't' traced, 'Z'...), or 0.
char process_state(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto close = text.rfind(')');  // the command may hold spaces and parentheses
    return close != std::string::npos && close + 2 < text.size() ? text[close + 2] : 0;
}

}  // namespace

Watchdog::Watchdog(const Region& region, Settings settings)
    : region_(region),
      settings_(std::move(settings)),
      peers_(region, settings_.watch, [this](const PeerFailure& failure) { on_peer_failure(failure); }, &log) {}

void Watchdog::on_message(pid_t pid, const std::string& message) {
    // The whole datagram first: "WATCHDOG_USEC=...\nNK_NAME=..." registers under that name.
    std::map<std::string, std::string> fields;
    std::istringstream lines(message);
    for (std::string line; std::getline(lines, line);) {
        const auto eq = line.find('=');
        if (eq != std::string::npos) fields[line.substr(0, eq)] = line.substr(eq + 1);
    }
    auto it = critical_.find(pid);
    if (fields.count("WATCHDOG_USEC") != 0) {
        const long long usec = std::atoll(fields["WATCHDOG_USEC"].c_str());
        if (usec > 0) {
            const bool fresh = it == critical_.end();
            auto& c = critical_[pid];
            c.period = std::chrono::microseconds(usec);
            c.last_kick = Clock::now();
            if (fields.count("NK_NAME") != 0) c.name = fields["NK_NAME"];
            if (c.name.empty()) c.name = "pid " + std::to_string(pid);
            if (fresh)
                log("critical process " + c.name + " (pid " + std::to_string(pid) + ") registered, deadline " +
                    std::to_string(usec / 1000) + " ms");
            it = critical_.find(pid);
        }
    }
    if (it == critical_.end()) return;  // not registered: kicks from strangers mean nothing
    Critical& c = it->second;
    if (fields.count("NK_NAME") != 0) c.name = fields["NK_NAME"];
    if (fields["WATCHDOG"] == "1") c.last_kick = Clock::now();
    if (fields.count("NK_HEALTH") != 0) c.health = std::strtoull(fields["NK_HEALTH"].c_str(), nullptr, 10);
    if (fields["STOPPING"] == "1") {
        log("critical process " + c.name + " (pid " + std::to_string(pid) + ") unregistered");
        critical_.erase(it);
    }
}

std::string Watchdog::check_self() {
    const auto now = Clock::now();
    // The guest's init (PID 1 of its namespace) stopped for a period: the guest is hung.
    const char state = process_state(1);
    if (state == 'T' || state == 't') {
        if (!init_stopped_since_) init_stopped_since_ = now;
        if (now - *init_stopped_since_ >= settings_.period) return "the guest's init (pid 1) is stopped";
    } else {
        init_stopped_since_.reset();
    }
    for (auto it = critical_.begin(); it != critical_.end(); ++it) {
        const auto& [pid, c] = *it;
        if (::kill(pid, 0) != 0 && errno == ESRCH)
            return "critical process " + c.name + " (pid " + std::to_string(pid) + ") exited without STOPPING=1";
        const auto late = now - c.last_kick;
        if (late > c.period)
            return "critical process " + c.name + " (pid " + std::to_string(pid) + ") missed its deadline of " +
                   std::to_string(c.period.count() / 1000) + " ms (last kick " +
                   std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(late).count()) + " ms ago)";
    }
    return {};
}

bool Watchdog::tick() {
    const std::string reason = check_self();
    if (reason != unhealthy_reason_) {
        if (!reason.empty()) log("guest unhealthy, no more heartbeats: " + reason);
        else log("guest healthy again, beating");
        unhealthy_reason_ = reason;
    }
    if (unhealthy_reason_.empty()) {
        std::uint64_t health = 0;
        for (const auto& [pid, c] : critical_) health = std::max(health, c.health);
        if (auto beat = heartbeat::beat(region_, health); !beat) {
            log("cannot beat: " + beat.error().message);
            return false;
        }
    }
    peers_healthy_ = peers_.check();
    int status = 0;
    while (::waitpid(-1, &status, WNOHANG) > 0) {  // hooks that ended
    }
    return true;
}

void Watchdog::on_peer_failure(const PeerFailure& failure) {
    log(failure.facts + "; asking nkd to recover it");
    std::string tail;
    for (const auto& line : failure.console_tail) {
        log("  " + failure.name + "'s console: " + line);
        tail += line + "\n";
    }
    if (settings_.hook.empty()) return;
    std::vector<std::string> env{"NK_FAILED_GUEST=" + failure.name,
                                 "NK_FAILED_INCARNATION=" + std::to_string(failure.incarnation),
                                 "NK_MISSED_HEARTBEATS=" + std::to_string(failure.missed),
                                 "NK_HEALTH=" + std::to_string(failure.health), "NK_DETECTOR=heartbeat",
                                 "NK_REPORT=" + failure.facts};
    if (failure.panic_reason) env.push_back("NK_PANIC_REASON=" + *failure.panic_reason);
    env.push_back("NK_CONSOLE_TAIL=" + tail);  // the failed guest's last console lines, one per line
    run_hook(env);
}

void Watchdog::run_hook(const std::vector<std::string>& env) {
    // posix_spawn, not fork: this process has its memory locked and runs SCHED_FIFO; a fork
    // would copy its page tables on the heartbeat's time, and the hook must not inherit the
    // real-time class.
    std::vector<std::string> all(env);
    for (char** e = environ; *e != nullptr; ++e) all.emplace_back(*e);
    std::vector<char*> envp;
    for (auto& e : all) envp.push_back(e.data());
    envp.push_back(nullptr);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sched_param normal{};
    posix_spawnattr_setschedpolicy(&attr, SCHED_OTHER);
    posix_spawnattr_setschedparam(&attr, &normal);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSCHEDULER);
    std::string command = settings_.hook;
    char sh[] = "/bin/sh", dash_c[] = "-c";
    char* argv[] = {sh, dash_c, command.data(), nullptr};
    pid_t pid = -1;
    const int rc = ::posix_spawn(&pid, "/bin/sh", nullptr, &attr, argv, envp.data());
    posix_spawnattr_destroy(&attr);
    if (rc != 0) log(std::string("cannot run the hook: ") + std::strerror(rc));
}

}  // namespace nk::wd
