// nk::heartbeat: a guest says it is alive; nkd notices when it stops saying so.
//
// The guest's watchdog (nk-watchdog, or any process that answers for the guest) arms the beat
// with its period and the misses it tolerates, then beats every period. nkd reads the beat of
// every running guest; one older than period * misses is a hang (the guest may be alive but
// stuck: SIGSTOP, a live-lock, a wedged kernel path), and nkd recovers the guest as it does a
// dead one, with the failure recorded as `heartbeat`.
//
//   nk::heartbeat::arm(region, std::chrono::milliseconds(50), 3);
//   for (;;) { nk::heartbeat::beat(region, health_word); sleep(50 ms); }
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

#include "nk/nanokernel/region.hpp"

namespace nk::heartbeat {

inline constexpr std::uint32_t kMaxPeriodMs = 60'000;
inline constexpr std::uint32_t kMaxMisses = 100;

// Arms the calling guest's heartbeat (the region attached as a guest) and beats once.
[[nodiscard]] Result<void> arm(const Region& region, std::chrono::milliseconds period, std::uint32_t misses);

// One beat, with the guest's health word (0: healthy). Wait-free.
[[nodiscard]] Result<void> beat(const Region& region, std::uint64_t health = 0);

// Disarms it (a watchdog that stops on purpose).
[[nodiscard]] Result<void> disarm(const Region& region);

// A guest's heartbeat as read back and checked.
struct State {
    std::uint64_t sequence = 0;
    std::uint64_t age_ns = 0;        // now - last beat
    std::uint64_t health = 0;
    std::uint32_t period_ms = 0;
    std::uint32_t misses = 0;
    std::uint32_t incarnation = 0;
    [[nodiscard]] std::uint64_t missed() const { return period_ms ? age_ns / (std::uint64_t{period_ms} * 1'000'000) : 0; }
    [[nodiscard]] bool stale() const { return age_ns > std::uint64_t{period_ms} * misses * 1'000'000; }
};

// Guest `guest_id`'s heartbeat, if armed by its current incarnation with sane values.
[[nodiscard]] std::optional<State> read(const Region& region, std::uint16_t guest_id);

}  // namespace nk::heartbeat
