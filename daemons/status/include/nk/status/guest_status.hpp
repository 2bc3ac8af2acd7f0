// nk::status: the guest table as operators read it, one JSON shape for every tool that shows it
// (nkctl guests / crash-info / events --follow, nk-watchdog's health page). Everything here reads
// a Region's checked GuestInfo copies; nothing touches shared memory directly.
//
//   for (const auto& g : region.guests()) out.push_back(nk::status::guest_json(g, nk::clock::unix_ns()));
//
// Functions are pure given their arguments; any thread may call them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "nk/nanokernel/region.hpp"

namespace nk::status {

// "2026-12-02T17:35:00Z" (UTC, second resolution).
[[nodiscard]] std::string iso_time(std::uint64_t unix_ns);

// A wait status as a person reads it: "status 3", "SIGKILL"; "" for -1 (none recorded).
[[nodiscard]] std::string exit_text(std::int32_t wait_status);

// True while the guest runs with an init nkd knows.
[[nodiscard]] bool running(const GuestInfo& g);

// What found the guest's last failure: "none", "panic" (its panic record), "heartbeat" (a hang)
// or "death" (its init ended, seen through the pidfd).
[[nodiscard]] std::string_view detector_of(const GuestInfo& g);

// Who reported a hang: "nkd" (its own look at the heartbeat) or the name of the guest whose
// watchdog did. Meaningful for heartbeat failures only.
[[nodiscard]] std::string reporter_of(const Region& region, const GuestInfo& g);

// nkctl guests --json's object for one guest: name, id, kind, state, pid, incarnation, restarts,
// uptime_s, cpus, last_failure (null or {kind, exit, wait_status, time}).
[[nodiscard]] nlohmann::json guest_json(const GuestInfo& g, std::uint64_t now_unix_ns);

// The guest's last failure with its facts: kind, time, detector, and for a hang missed_heartbeats
// and reported_by; null when it never failed.
[[nodiscard]] nlohmann::json failure_json(const Region& region, const GuestInfo& g);

}  // namespace nk::status
