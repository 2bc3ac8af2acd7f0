// nk::vtimer: a guest's virtual timers, merged by the nanokernel into one kernel timer.
//
// Each guest has 8 timers in its control page. A guest arms one with its first expiry and period;
// nkd's timer core (timer_core.hpp) adopts the request as its schedule, keeps every guest's
// timers, sleeps until the nearest deadline of all of them, and at each expiry counts it and
// raises the owner's timer line (irq::timer_line(t)). The guest's dispatcher tells the handler how
// many expiries passed since the last one it ran (more than one: an overrun, counted, never hidden).
//
// Delivery::Direct takes the core out of each expiry's path: the owner's dispatcher, which handles
// the timer line, sleeps until each deadline of the core's schedule and counts it itself; the core
// counts and raises an expiry only when the owner has left it for 20 ms and half a period (it is
// not waiting, or is stuck). Same counts, one context switch fewer per expiry: what the rt
// executive's periodic tasks use.
//
//   nk::vtimer::arm(region, 0, 1ms, 1ms);                       // 1 kHz, from 1 ms on
//   dispatcher->on(nk::irq::timer_line(0), [](const nk::irq::Interrupt& irq) { tick(irq.expirations); });
//
// Periods go down to 50 µs; what a period that short delivers depends on the machine (measure it:
// the timer tests and `scripts/bench.sh rt` do). One thread at a time arms or disarms one timer.
// Timers fire while nkd runs: a restarted nkd picks the armed timers up from the control pages.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

#include "nk/nanokernel/layout.hpp"
#include "nk/nanokernel/region.hpp"

namespace nk::vtimer {

inline constexpr unsigned kTimers = layout::kVirtualTimers;
inline constexpr std::chrono::nanoseconds kMinPeriod{50'000};
inline constexpr std::chrono::nanoseconds kMaxDelay = std::chrono::hours(24 * 365);

using Delivery = layout::TimerDelivery;

// Arms timer `timer` (0..7) of the calling guest: first expiry `first` from now, then every
// `period` (zero: one-shot). Replaces an earlier arming of the same timer.
[[nodiscard]] Result<void> arm(const Region& region, unsigned timer, std::chrono::nanoseconds first,
                               std::chrono::nanoseconds period = std::chrono::nanoseconds::zero(),
                               Delivery delivery = Delivery::Raise);

// Disarms it; a raise already on its way may still arrive (with no new expiries).
[[nodiscard]] Result<void> disarm(const Region& region, unsigned timer);

// A timer as read back and checked (any process that holds the guest's control page).
struct State {
    bool armed = false;
    bool direct = false;  // Delivery::Direct
    std::uint64_t first_ns = 0;  // CLOCK_MONOTONIC
    std::uint64_t period_ns = 0;
    std::uint64_t expirations = 0;   // counted (by the timer core or a Direct owner) since the guest's start
    std::uint64_t last_fire_ns = 0;  // CLOCK_MONOTONIC; 0: never
};
[[nodiscard]] std::optional<State> read(const Region& region, std::uint16_t guest_id, unsigned timer);

}  // namespace nk::vtimer
