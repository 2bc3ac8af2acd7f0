// Internal to nk::nanokernel: a virtual timer's schedule as arithmetic, and the compare-and-swap
// by which the timer core and (for Direct delivery) the owner's dispatcher count its expiries.
//
// Ordering contract (layout::VirtualTimer; docs/ARCHITECTURE.md, "Virtual timers"):
//   core, adopting request S:  adoption = odd; expirations.epoch += 1 (CAS, release);
//                              adopted_base = count; adopted_sequence = S (or 0); adoption = even (release)
//   either side, counting:     w = expirations (acquire); [owner: read adoption and request, both
//                              seqlocks stable, request sequence == adopted_sequence];
//                              CAS(w, epoch(w) | target) where target = base + due(now)
// An owner that read the word before the core's epoch bump fails its CAS; one that read it after
// the bump sees the adoption odd or the new schedule (the bump is a release after the odd store).
// So no count computed from one schedule is ever stored under another, and since both sides store
// the same function of time, only ever forward, no expiry is counted twice or lost.
#pragma once

#include <cstdint>

#include "nk/nanokernel/layout.hpp"

namespace nk::detail {

inline constexpr std::uint64_t kNoDeadline = UINT64_MAX;

[[nodiscard]] constexpr std::uint64_t timer_count(std::uint64_t word) { return word & layout::kTimerCountMask; }
[[nodiscard]] constexpr std::uint64_t timer_epoch_bits(std::uint64_t word) { return word & ~layout::kTimerCountMask; }

// How many deadlines of the schedule (first, first + period, ...; one only when period is 0)
// lie at or before `now`.
[[nodiscard]] constexpr std::uint64_t due_count(std::uint64_t first, std::uint64_t period, std::uint64_t now) {
    if (now < first) return 0;
    return period == 0 ? 1 : (now - first) / period + 1;
}

// The schedule's deadline number `k` (0: the first); kNoDeadline past a one-shot's only one or
// where the arithmetic would overflow (a count the guest scribbled, say).
[[nodiscard]] constexpr std::uint64_t deadline_of(std::uint64_t first, std::uint64_t period, std::uint64_t k) {
    if (k == 0) return first;
    if (period == 0 || k > (kNoDeadline - 1 - first) / period) return kNoDeadline;
    return first + k * period;
}

// Advances the count in `word`, last read as `seen`, to `target` (clamped to the count's bits),
// never backwards. With `same_epoch` (the owner's rule) it gives up once the epoch differs from
// the one in `seen`; the core, which alone moves the epoch, keeps whatever epoch it finds.
struct Advance {
    bool stored = false;       // this call moved the count
    std::uint64_t before = 0;  // the count it last found
    std::uint64_t after = 0;   // the count the word holds now: the target when stored, else `before`
};
[[nodiscard]] inline Advance advance_count(std::uint64_t& word, std::uint64_t seen, std::uint64_t target, bool same_epoch) {
    if (target > layout::kTimerCountMask) target = layout::kTimerCountMask;
    const std::uint64_t epoch = timer_epoch_bits(seen);
    auto expirations = layout::atomic(word);
    for (;;) {
        const std::uint64_t found = timer_count(seen);
        if ((same_epoch && timer_epoch_bits(seen) != epoch) || found >= target) return Advance{false, found, found};
        // release: the count before the ring that announces it; pairs with the dispatcher's acquire.
        // acquire on failure: the fresh value is the next `seen`.
        if (expirations.compare_exchange_weak(seen, timer_epoch_bits(seen) | target, std::memory_order_acq_rel,
                                              std::memory_order_acquire))
            return Advance{true, found, target};
    }
}

}  // namespace nk::detail
