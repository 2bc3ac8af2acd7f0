// Internal to nk::nanokernel: the raiser's half of the doorbell protocol (layout::Doorbell).
//
// Ordering contract (the dispatcher's half is in interrupts.cpp, Dispatcher::wait_until):
//   raiser:     pending |= bit; wake += 1; if (waiters) futex_wake(wake)      (all seq_cst)
//   dispatcher: waiters += 1; w = wake; take pending; if nothing: futex_wait(wake, w)
// If the raiser reads waiters == 0, the dispatcher's increment comes later in the single total
// order, so its read of `pending` sees the bit; otherwise the raiser wakes it, or the dispatcher's
// futex_wait finds `wake` changed and returns at once. No raise is lost.
#pragma once

#include <climits>

#include "nk/nanokernel/detail/futex.hpp"
#include "nk/nanokernel/layout.hpp"

namespace nk::detail {

inline void ring(layout::Doorbell& bell, unsigned line) {
    layout::atomic(bell.pending).fetch_or(std::uint64_t{1} << (line % layout::kLinesPerGuest), std::memory_order_seq_cst);
    layout::atomic(bell.raised).fetch_add(1, std::memory_order_relaxed);  // a counter for the operator only
    layout::atomic(bell.wake).fetch_add(1, std::memory_order_seq_cst);
    if (layout::atomic(bell.waiters).load(std::memory_order_seq_cst) != 0) futex_wake(&bell.wake, INT_MAX);
}

}  // namespace nk::detail
