// Heartbeats (heartbeat.hpp).
#include "nk/nanokernel/heartbeat.hpp"

#include "nk/nanokernel/clock.hpp"
#include "control_page.hpp"

namespace nk::heartbeat {
namespace {

layout::Heartbeat* heartbeat_of(const Region& region, std::uint16_t guest_id, bool want_write) {
    auto* page = detail::control_page(region, guest_id, want_write);
    return page != nullptr ? &page->heartbeat : nullptr;
}

Result<layout::Heartbeat*> mine(const Region& region) {
    if (region.identity().role != Role::Guest)
        return fail(RegionError::InvalidArgument, "only a guest beats its heartbeat (attach as a guest)");
    auto* hb = heartbeat_of(region, region.identity().guest_id, true);
    if (hb == nullptr) return fail(RegionError::NotMapped, "this guest's control page is not mapped writable here");
    return hb;
}

}  // namespace

Result<void> arm(const Region& region, std::chrono::milliseconds period, std::uint32_t misses) {
    if (period.count() < 1 || period.count() > kMaxPeriodMs || misses < 1 || misses > kMaxMisses)
        return fail(RegionError::InvalidArgument, "a heartbeat period is 1 to 60000 ms and misses 1 to 100, not " +
                                                      std::to_string(period.count()) + " ms and " + std::to_string(misses));
    auto hb = mine(region);
    if (!hb) return fail(std::move(hb.error()));
    auto info = region.guest(region.identity().guest_id);
    // relaxed: nkd reads each word on its own and checks it; the sequence store below publishes.
    layout::atomic((*hb)->period_ms).store(static_cast<std::uint32_t>(period.count()), std::memory_order_relaxed);
    layout::atomic((*hb)->misses).store(misses, std::memory_order_relaxed);
    layout::atomic((*hb)->incarnation).store(info ? info->incarnation : 0, std::memory_order_relaxed);
    layout::atomic((*hb)->monotonic_ns).store(clock::monotonic_ns(), std::memory_order_relaxed);
    // release: the fields above before the armed sequence; pairs with the acquire in read().
    layout::atomic((*hb)->sequence).store(1, std::memory_order_release);
    return {};
}

Result<void> beat(const Region& region, std::uint64_t health) {
    auto hb = mine(region);
    if (!hb) return fail(std::move(hb.error()));
    layout::atomic((*hb)->health).store(health, std::memory_order_relaxed);
    layout::atomic((*hb)->monotonic_ns).store(clock::monotonic_ns(), std::memory_order_relaxed);
    // release: the time and health before the count; pairs with the acquire in read().
    layout::atomic((*hb)->sequence).fetch_add(1, std::memory_order_release);
    return {};
}

Result<void> disarm(const Region& region) {
    auto hb = mine(region);
    if (!hb) return fail(std::move(hb.error()));
    layout::atomic((*hb)->sequence).store(0, std::memory_order_release);
    return {};
}

std::optional<State> read(const Region& region, std::uint16_t guest_id) {
    auto* hb = heartbeat_of(region, guest_id, false);
    auto info = region.guest(guest_id);
    if (hb == nullptr || !info) return std::nullopt;
    State s;
    // acquire: pairs with the release in beat()/arm().
    s.sequence = layout::atomic(hb->sequence).load(std::memory_order_acquire);
    if (s.sequence == 0) return std::nullopt;
    s.period_ms = layout::atomic(hb->period_ms).load(std::memory_order_relaxed);
    s.misses = layout::atomic(hb->misses).load(std::memory_order_relaxed);
    s.incarnation = layout::atomic(hb->incarnation).load(std::memory_order_relaxed);
    s.health = layout::atomic(hb->health).load(std::memory_order_relaxed);
    const std::uint64_t last = layout::atomic(hb->monotonic_ns).load(std::memory_order_relaxed);
    // A guest may write anything here: out-of-range values mean "not armed", never a verdict.
    if (s.period_ms < 1 || s.period_ms > kMaxPeriodMs || s.misses < 1 || s.misses > kMaxMisses) return std::nullopt;
    if (s.incarnation != info->incarnation) return std::nullopt;
    const std::uint64_t now = clock::monotonic_ns();
    s.age_ns = last <= now ? now - last : 0;  // a beat "from the future" counts as fresh
    return s;
}

}  // namespace nk::heartbeat
