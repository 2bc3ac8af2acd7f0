// nk::status's view of one guest (guest_status.hpp).
#include "nk/status/guest_status.hpp"

#include <sys/wait.h>

#include <cstring>
#include <ctime>

#include "nk/nanokernel/panic.hpp"
#include "nk/nanokernel/platform_config.hpp"

namespace nk::status {

std::string iso_time(std::uint64_t unix_ns) {
    const std::time_t seconds = static_cast<std::time_t>(unix_ns / 1'000'000'000ULL);
    std::tm tm{};
    gmtime_r(&seconds, &tm);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return text;
}

std::string exit_text(std::int32_t status) {
    if (status < 0) return "";
    if (WIFEXITED(status)) return "status " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) {
        const char* name = sigabbrev_np(WTERMSIG(status));
        return name != nullptr ? std::string("SIG") + name : "signal " + std::to_string(WTERMSIG(status));
    }
    return "?";
}

bool running(const GuestInfo& g) { return g.state == layout::GuestState::Running && g.init_pid != 0; }

std::string_view detector_of(const GuestInfo& g) {
    switch (g.last_failure) {
        case layout::FailureKind::None: return "none";
        case layout::FailureKind::Panic: return "panic";
        case layout::FailureKind::Heartbeat: return "heartbeat";
        default: return "death";
    }
}

std::string reporter_of(const Region& region, const GuestInfo& g) {
    if (g.detected_by == 0) return "nkd";
    auto by = region.guest(g.detected_by);
    return by ? by->name : std::to_string(g.detected_by);
}

nlohmann::json guest_json(const GuestInfo& g, std::uint64_t now) {
    nlohmann::json last = nullptr;
    if (g.last_failure != layout::FailureKind::None)
        last = {{"kind", to_string(g.last_failure)},
                {"exit", exit_text(g.last_exit_status)},
                {"wait_status", g.last_exit_status},
                {"time", iso_time(g.last_failure_unix_ns)}};
    const bool up = running(g) && g.started_unix_ns != 0 && now >= g.started_unix_ns;
    return {{"name", g.name},
            {"id", g.id},
            {"kind", to_string(g.kind)},
            {"state", to_string(g.state)},
            {"pid", running(g) ? nlohmann::json(g.init_pid) : nlohmann::json(nullptr)},
            {"incarnation", g.incarnation},
            {"restarts", g.restarts},
            {"uptime_s", up ? static_cast<double>(now - g.started_unix_ns) / 1e9 : 0.0},
            {"cpus", cpu_list_text(g.cpus)},
            {"last_failure", last}};
}

nlohmann::json failure_json(const Region& region, const GuestInfo& g) {
    if (g.last_failure == layout::FailureKind::None) return nullptr;
    nlohmann::json failure{{"kind", to_string(g.last_failure)},
                           {"time", iso_time(g.last_failure_unix_ns)},
                           {"detector", detector_of(g)}};
    const std::string exit = exit_text(g.last_exit_status);
    if (!exit.empty()) failure["exit"] = exit;
    std::string reason;
    if (g.last_failure == layout::FailureKind::Heartbeat) {
        failure["missed_heartbeats"] = g.missed_heartbeats;
        failure["reported_by"] = reporter_of(region, g);
        reason = "no heartbeat for " + std::to_string(g.missed_heartbeats) + " periods, reported by " +
                 (g.detected_by == 0 ? std::string("nkd") : "guest '" + reporter_of(region, g) + "'s watchdog");
    } else if (g.last_failure == layout::FailureKind::Panic) {
        const auto record = read_failure_record(region, g.id);  // checked copy of the guest-written record
        reason = record ? "panic: " + record->reason : std::string("panic (no readable record)");
    } else if (g.last_failure == layout::FailureKind::Stopped) {
        reason = "stopped by the operator";
    } else {
        reason = "init ended" + (exit.empty() ? std::string() : " (" + exit + ")");
    }
    failure["reason"] = reason;
    return failure;
}

}  // namespace nk::status
