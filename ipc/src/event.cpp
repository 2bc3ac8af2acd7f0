// Event: the ordering contract between signallers and waiters.
//
//   signaller                                   waiter (after its spin found nothing)
//   -------------------------------------       -------------------------------------------
//   [S1] state = 1 (or broadcasts += 1)         [W1] s = sequence
//   [S2] sequence += 1                          [W2] waiters += 1
//   [S3] if waiters > 0: futex_wake(sequence)   [W3] take the event if state/broadcasts say so
//                                               [W4] futex_wait(sequence, s): sleeps only if
//                                                    sequence is still s
// S1..S3 and W2..W3 are sequentially consistent, so either W3 sees S1 (the waiter takes the event
// and does not sleep) or S3 sees W2 (the signaller wakes it). If S2 comes after W1, W4 returns at
// once because the word moved. A waiter that dies after W2 leaves `waiters` too high: signallers
// then make a futex call that wakes nobody, which is all it costs.
//
// Auto-reset mode takes the token with a CAS 1 -> 0, so exactly one waiter (or the next one to
// come) gets each signal; signals while the event is already set coalesce (it is a binary
// event). broadcast() moves `broadcasts`: every waiter that entered before it returns Signaled,
// the event's state is not touched.
//
// Trust: `state` must be 0 or 1. Another value is a scribble by a peer: reported as Corrupt.
// sequence, broadcasts and waiters are compared for change only, never used as indices.
#include "nk/ipc/event.hpp"

#include <immintrin.h>
#include <time.h>

#include <climits>
#include <utility>

#include "futex.hpp"
#include "named_object.hpp"
#include "nk/nanokernel/access_policy.hpp"
#include "queue_support.hpp"

namespace nk::ipc {
namespace {

constexpr layout::ObjectKind kKind = layout::ObjectKind::Event;
constexpr std::uint32_t kMaxSpinNs = 10'000'000;

timespec to_timespec(std::chrono::steady_clock::time_point t) {
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
    timespec ts{};
    ts.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
    ts.tv_nsec = static_cast<long>(ns % 1'000'000'000);
    return ts;
}

}  // namespace

Result<Event> Event::create(const Region& region, std::string_view name, EventMode mode, std::string_view where,
                            std::chrono::nanoseconds spin) {
    if (auto allowed = check_access(region, name, Rights::ReadWrite); !allowed) return fail(std::move(allowed.error()));
    if (mode != EventMode::AutoReset && mode != EventMode::ManualReset)
        return fail(RegionError::InvalidArgument, detail::describe(kKind, name) + ": unknown mode");
    if (spin.count() < 0 || spin.count() > kMaxSpinNs)
        return fail(RegionError::InvalidArgument, detail::describe(kKind, name) + ": spin time must be 0 to 10 ms");
    auto made = detail::create_object(region, name, kKind, sizeof(EventHeader), where);
    if (!made) return fail(std::move(made.error()));
    auto data = region.bytes(made->region_offset, made->object.size, true);
    if (!data) return fail(std::move(data.error()));
    // Page-aligned: the 64-byte alignment holds.
    auto event = embedded(reinterpret_cast<EventHeader*>(*data), name, true, mode, spin);
    if (!event) return fail(std::move(event.error()));
    event->object_ = std::move(made->object);
    return event;
}

Result<Event> Event::open(const Region& region, std::string_view name) {
    if (auto allowed = check_access(region, name, Rights::ReadWrite); !allowed) return fail(std::move(allowed.error()));
    auto found = detail::find_object(region, name, kKind);
    if (!found) return fail(std::move(found.error()));
    const std::string what = detail::describe(kKind, name);
    if (found->object.size < sizeof(EventHeader))
        return fail(RegionError::Corrupt, what + " is smaller than its header; the directory entry is damaged");
    auto data = region.bytes(found->region_offset, found->object.size, true);
    if (!data) return fail(std::move(data.error()));
    auto event = embedded(reinterpret_cast<EventHeader*>(*data), name, false);
    if (!event) return fail(std::move(event.error()));
    event->object_ = std::move(found->object);
    return event;
}

Result<Event> Event::embedded(EventHeader* header, std::string_view name, bool format, EventMode mode,
                              std::chrono::nanoseconds spin) {
    const std::string what = detail::describe(kKind, name);
    ObjectInfo object;
    object.name = std::string(name);
    object.kind = kKind;
    if (format) {
        if (mode != EventMode::AutoReset && mode != EventMode::ManualReset)
            return fail(RegionError::InvalidArgument, what + ": unknown mode");
        if (spin.count() < 0 || spin.count() > kMaxSpinNs)
            return fail(RegionError::InvalidArgument, what + ": spin time must be 0 to 10 ms");
        header->layout_version = kEventLayoutVersion;
        header->header_size = sizeof(EventHeader);
        header->mode = static_cast<std::uint32_t>(mode);
        header->spin_ns = static_cast<std::uint32_t>(spin.count());
        // release: publishes the fields above; pairs with the acquire below in a later open.
        layout::atomic(header->magic).store(kEventMagic, std::memory_order_release);
        return Event(std::move(object), header, mode, header->spin_ns);
    }
    // acquire: pairs with the release above.
    const std::uint64_t magic = layout::atomic(header->magic).load(std::memory_order_acquire);
    if (magic == 0) return fail(RegionError::Busy, what + " is not initialised yet (or its creator died doing so)");
    if (magic != kEventMagic) return fail(RegionError::BadMagic, what + " does not start with an event header");
    // Read once into locals, then checked: the handle never re-reads them.
    const std::uint32_t version = header->layout_version, size = header->header_size, seen_mode = header->mode,
                        seen_spin = header->spin_ns;
    if (version != kEventLayoutVersion)
        return fail(RegionError::VersionMismatch, what + " has layout version " + std::to_string(version));
    if (size != sizeof(EventHeader)) return fail(RegionError::SizeMismatch, what + " has a header of " + std::to_string(size) + " bytes");
    if (seen_mode != static_cast<std::uint32_t>(EventMode::AutoReset) &&
        seen_mode != static_cast<std::uint32_t>(EventMode::ManualReset))
        return fail(RegionError::Corrupt, what + " has mode " + std::to_string(seen_mode) + ", neither auto- nor manual-reset");
    if (seen_spin > kMaxSpinNs) return fail(RegionError::Corrupt, what + " has a spin time of " + std::to_string(seen_spin) + " ns");
    return Event(std::move(object), header, static_cast<EventMode>(seen_mode), seen_spin);
}

Result<void> Event::remove(const Region& region, std::string_view name) { return detail::remove_object(region, name, kKind); }

Error Event::corrupt(std::uint32_t state) const {
    return Error{make_error_code(RegionError::Corrupt),
                 detail::describe(kKind, object_.name) + " has state " + std::to_string(state) +
                     " (only 0 and 1 exist): a peer scribbled on it; remove and re-create it"};
}

Result<bool> Event::try_take(std::uint32_t entry) {
    auto state = layout::atomic(header_->state);
    const std::uint32_t seen = state.load(std::memory_order_seq_cst);  // W3; see the contract
    if (seen > 1) return fail(corrupt(seen));
    if (seen == 1) {
        if (mode_ == EventMode::ManualReset) return true;
        std::uint32_t expected = 1;
        // acq_rel: takes the token and what the signaller wrote before it.
        if (state.compare_exchange_strong(expected, 0, std::memory_order_acq_rel, std::memory_order_relaxed)) return true;
        if (expected > 1) return fail(corrupt(expected));
    }
    // acquire: a broadcast since we entered releases us; pairs with the fetch_add in broadcast().
    return layout::atomic(header_->broadcasts).load(std::memory_order_acquire) != entry;
}

Result<void> Event::wait(WaitStyle style) {
    auto r = wait_until(std::chrono::steady_clock::time_point::max(), style);
    if (!r) return fail(std::move(r.error()));
    return {};
}

Result<WaitResult> Event::wait_for(std::chrono::nanoseconds timeout, WaitStyle style) {
    return wait_until(std::chrono::steady_clock::now() + timeout, style);
}

Result<WaitResult> Event::wait_until(std::chrono::steady_clock::time_point deadline, WaitStyle style) {
    using Clock = std::chrono::steady_clock;
    // acquire: pairs with broadcast(); only broadcasts after this point release us.
    const std::uint32_t entry = layout::atomic(header_->broadcasts).load(std::memory_order_acquire);
    auto done = [&](WaitResult result) -> Result<WaitResult> {
        // relaxed: statistics.
        layout::atomic(result == WaitResult::Signaled ? header_->wakeup_count : header_->timeout_count)
            .fetch_add(1, std::memory_order_relaxed);
        return result;
    };
    // Spin: a busy peer answers within a few microseconds, far below a sleeping wake-up.
    const auto spin_end = style == WaitStyle::Polling ? deadline : std::min(deadline, Clock::now() + std::chrono::nanoseconds(spin_ns_));
    for (unsigned i = 0;; ++i) {
        auto taken = try_take(entry);
        if (!taken) return fail(std::move(taken.error()));
        if (*taken) return done(WaitResult::Signaled);
        if ((i & 63U) == 0 && Clock::now() >= spin_end) break;
        _mm_pause();
    }
    if (style == WaitStyle::Polling) return done(WaitResult::TimedOut);

    auto sequence = layout::atomic(header_->sequence);
    auto waiters = layout::atomic(header_->waiters);
    const bool forever = deadline == Clock::time_point::max();
    const timespec until = forever ? timespec{} : to_timespec(deadline);
    for (;;) {
        const std::uint32_t s = sequence.load(std::memory_order_seq_cst);  // W1
        waiters.fetch_add(1, std::memory_order_seq_cst);                      // W2
        auto taken = try_take(entry);                                         // W3
        int rc = 0;
        if (taken && !*taken) rc = detail::futex_wait_until(&header_->sequence, s, forever ? nullptr : &until);  // W4
        waiters.fetch_sub(1, std::memory_order_seq_cst);
        if (!taken) return fail(std::move(taken.error()));
        if (*taken) return done(WaitResult::Signaled);
        auto after = try_take(entry);
        if (!after) return fail(std::move(after.error()));
        if (*after) return done(WaitResult::Signaled);
        if (rc == ETIMEDOUT || (!forever && Clock::now() >= deadline)) return done(WaitResult::TimedOut);
        // Woken by a signal another waiter took, a futex word that moved, or EINTR: wait again.
    }
}

Result<void> Event::signal() {
    auto state = layout::atomic(header_->state);
    // S1: 0 -> 1 (already 1: it stays set). A scribbled value is reported and left as it is.
    std::uint32_t seen = state.load(std::memory_order_seq_cst);
    while (seen == 0 && !state.compare_exchange_weak(seen, 1, std::memory_order_seq_cst, std::memory_order_seq_cst)) {
    }
    if (seen > 1) return fail(corrupt(seen));
    layout::atomic(header_->signal_count).fetch_add(1, std::memory_order_relaxed);  // relaxed: a statistic
    layout::atomic(header_->sequence).fetch_add(1, std::memory_order_seq_cst);       // S2
    if (layout::atomic(header_->waiters).load(std::memory_order_seq_cst) != 0)       // S3
        detail::futex_wake(&header_->sequence, mode_ == EventMode::AutoReset ? 1 : INT_MAX);
    return {};
}

Result<void> Event::broadcast() {
    layout::atomic(header_->broadcasts).fetch_add(1, std::memory_order_seq_cst);  // S1; pairs with try_take()
    layout::atomic(header_->broadcast_count).fetch_add(1, std::memory_order_relaxed);
    layout::atomic(header_->sequence).fetch_add(1, std::memory_order_seq_cst);     // S2
    if (layout::atomic(header_->waiters).load(std::memory_order_seq_cst) != 0)     // S3
        detail::futex_wake(&header_->sequence, INT_MAX);
    return {};
}

Result<void> Event::reset() {
    auto state = layout::atomic(header_->state);
    std::uint32_t seen = state.load(std::memory_order_acquire);
    while (seen == 1 && !state.compare_exchange_weak(seen, 0, std::memory_order_acq_rel, std::memory_order_acquire)) {
    }
    if (seen > 1) return fail(corrupt(seen));
    return {};
}

Result<EventStats> Event::stats() const {
    // relaxed: a snapshot for people; each word stands on its own.
    const std::uint32_t state = layout::atomic(header_->state).load(std::memory_order_relaxed);
    if (state > 1) return fail(corrupt(state));
    EventStats s;
    s.mode = mode_;
    s.set = state == 1;
    s.waiters = layout::atomic(header_->waiters).load(std::memory_order_relaxed);
    s.signals = layout::atomic(header_->signal_count).load(std::memory_order_relaxed);
    s.broadcasts = layout::atomic(header_->broadcast_count).load(std::memory_order_relaxed);
    s.wakeups = layout::atomic(header_->wakeup_count).load(std::memory_order_relaxed);
    s.timeouts = layout::atomic(header_->timeout_count).load(std::memory_order_relaxed);
    return s;
}

}  // namespace nk::ipc
