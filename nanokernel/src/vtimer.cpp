// Virtual timers, the guest's side (vtimer.hpp). The timer core's side is timer_core.cpp.
#include "nk/nanokernel/vtimer.hpp"

#include <string>

#include "control_page.hpp"
#include "doorbell.hpp"
#include "nk/nanokernel/clock.hpp"
#include "timer_schedule.hpp"

namespace nk::vtimer {
namespace {

Result<layout::ControlPage*> my_page(const Region& region, unsigned timer) {
    if (region.identity().role != Role::Guest)
        return fail(RegionError::InvalidArgument, "only a guest arms its virtual timers (attach as a guest)");
    if (timer >= kTimers)
        return fail(RegionError::InvalidArgument, "timer " + std::to_string(timer) + " does not exist (0 to 7)");
    auto* page = detail::control_page(region, region.identity().guest_id, true);
    if (page == nullptr) return fail(RegionError::NotMapped, "this guest's control page is not mapped writable here");
    return page;
}

// Rewrites the request under its seqlock, then tells the timer core.
void publish(layout::ControlPage& page, unsigned timer, std::uint32_t armed, std::uint64_t first_ns,
             std::uint64_t period_ns, std::uint32_t incarnation, Delivery delivery) {
    auto& t = page.timers[timer];
    auto sequence = layout::atomic(t.sequence);
    // odd while rewriting. acquire (on an RMW): the stores below cannot move before the mark.
    const std::uint32_t start = sequence.load(std::memory_order_relaxed) | 1U;
    sequence.exchange(start, std::memory_order_acquire);
    layout::atomic(t.armed).store(armed, std::memory_order_relaxed);  // ordered by the marks
    layout::atomic(t.first_ns).store(first_ns, std::memory_order_relaxed);
    layout::atomic(t.period_ns).store(period_ns, std::memory_order_relaxed);
    layout::atomic(t.incarnation).store(incarnation, std::memory_order_relaxed);
    layout::atomic(t.delivery).store(static_cast<std::uint32_t>(delivery), std::memory_order_relaxed);
    // release: publishes the request; pairs with the acquire in the timer core's read.
    sequence.store(start + 1, std::memory_order_release);
    detail::ring(page.to_nanokernel, layout::kTimerChangeLine);
}

}  // namespace

Result<void> arm(const Region& region, unsigned timer, std::chrono::nanoseconds first, std::chrono::nanoseconds period,
                 Delivery delivery) {
    if (first.count() < 0 || first > kMaxDelay)
        return fail(RegionError::InvalidArgument, "a first expiry is 0 to a year away, not " + std::to_string(first.count()) + " ns");
    if (delivery != Delivery::Raise && delivery != Delivery::Direct)
        return fail(RegionError::InvalidArgument, "delivery " + std::to_string(static_cast<std::uint32_t>(delivery)) +
                                                      " is not Raise or Direct");
    if (period.count() != 0 && (period < kMinPeriod || period > kMaxDelay))
        return fail(RegionError::InvalidArgument, "a period is 0 (one-shot) or 50 µs to a year, not " +
                                                      std::to_string(period.count()) + " ns");
    auto page = my_page(region, timer);
    if (!page) return fail(std::move(page.error()));
    const auto* entry = detail::live_guest(region, region.identity().guest_id);
    const std::uint32_t incarnation =
        entry != nullptr ? layout::atomic(const_cast<std::uint32_t&>(entry->incarnation)).load(std::memory_order_acquire) : 0;
    publish(**page, timer, 1, clock::monotonic_ns() + static_cast<std::uint64_t>(first.count()),
            static_cast<std::uint64_t>(period.count()), incarnation, delivery);
    return {};
}

Result<void> disarm(const Region& region, unsigned timer) {
    auto page = my_page(region, timer);
    if (!page) return fail(std::move(page.error()));
    publish(**page, timer, 0, 0, 0, 0, Delivery::Raise);
    return {};
}

std::optional<State> read(const Region& region, std::uint16_t guest_id, unsigned timer) {
    if (timer >= kTimers) return std::nullopt;
    auto* page = detail::control_page(region, guest_id, false);
    if (page == nullptr) return std::nullopt;
    auto& t = page->timers[timer];
    // A plain snapshot for the operator: each word is read atomically; a rewrite in between can
    // mix two requests, which the sequence check below rejects.
    const std::uint32_t before = layout::atomic(t.sequence).load(std::memory_order_acquire);
    State s;
    s.armed = layout::atomic(t.armed).load(std::memory_order_acquire) == 1;
    s.first_ns = layout::atomic(t.first_ns).load(std::memory_order_acquire);
    s.period_ns = layout::atomic(t.period_ns).load(std::memory_order_acquire);
    s.direct = layout::atomic(t.delivery).load(std::memory_order_acquire) ==
               static_cast<std::uint32_t>(Delivery::Direct);
    // The low bits are the count; the epoch above them is the timer core's (layout.hpp).
    s.expirations = detail::timer_count(layout::atomic(t.expirations).load(std::memory_order_acquire));
    s.last_fire_ns = layout::atomic(t.last_fire_ns).load(std::memory_order_acquire);
    if ((before & 1U) != 0 || layout::atomic(t.sequence).load(std::memory_order_relaxed) != before) return std::nullopt;
    return s;
}

}  // namespace nk::vtimer
