// The nanokernel's timer core (timer_core.hpp).
#include "nk/nanokernel/timer_core.hpp"

#include <pthread.h>
#include <sched.h>
#include <sys/prctl.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>

#include "control_page.hpp"
#include "doorbell.hpp"
#include "nk/nanokernel/clock.hpp"
#include "nk/nanokernel/detail/futex.hpp"
#include "nk/nanokernel/vtimer.hpp"

namespace nk {
namespace {

// What the core keeps of one guest's timer: the schedule is its own, so a guest that rewrites
// its request mid-period cannot move an expiry the core already computed except by re-arming.
struct Schedule {
    std::uint32_t sequence_seen = UINT32_MAX;  // odd values never publish, so this means "never read"
    bool active = false;
    std::uint64_t next_ns = 0;
    std::uint64_t period_ns = 0;
};

struct GuestTimers {
    std::uint16_t id = 0;
    layout::ControlPage* page = nullptr;
    const layout::GuestEntry* entry = nullptr;
    std::uint32_t incarnation_seen = 0;
    Schedule timers[layout::kVirtualTimers];
};

timespec to_timespec(std::uint64_t ns) {
    return timespec{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
}

}  // namespace

struct TimerCore::Impl {
    bool timers = false;
    PanicHandler on_panic;
    PanicHandler on_recovery;
    std::vector<GuestTimers> guests;
    std::uint32_t stop_word = 0;  // process-private futex; the destructor bumps it
    std::atomic<bool> stopping{false};
    std::thread thread;
    std::atomic<std::uint64_t> raises{0}, overruns{0}, rejected{0}, wakeups{0};

    // Re-reads a timer whose request changed; keeps the old schedule while the guest rewrites it.
    void refresh(GuestTimers& g, unsigned index, std::uint32_t incarnation, bool up) {
        Schedule& s = g.timers[index];
        auto& t = g.page->timers[index];
        // acquire: pairs with the release that published the request (vtimer.cpp, publish()).
        const std::uint32_t before = layout::atomic(t.sequence).load(std::memory_order_acquire);
        if ((before & 1U) != 0 || before == s.sequence_seen) {
            if (!up) s.active = false;
            return;
        }
        const std::uint32_t armed = layout::atomic(t.armed).load(std::memory_order_acquire);
        const std::uint64_t first = layout::atomic(t.first_ns).load(std::memory_order_acquire);
        const std::uint64_t period = layout::atomic(t.period_ns).load(std::memory_order_acquire);
        const std::uint32_t owner = layout::atomic(t.incarnation).load(std::memory_order_acquire);
        if (layout::atomic(t.sequence).load(std::memory_order_relaxed) != before) return;  // torn: next round
        s.sequence_seen = before;
        s.active = false;
        if (armed != 1 || !up) return;
        const auto min_period = static_cast<std::uint64_t>(vtimer::kMinPeriod.count());
        const auto max_delay = static_cast<std::uint64_t>(vtimer::kMaxDelay.count());
        const std::uint64_t now = clock::monotonic_ns();
        const bool sane = owner == incarnation && (period == 0 || (period >= min_period && period <= max_delay)) &&
                          first <= now + max_delay;
        if (!sane) {
            rejected.fetch_add(1, std::memory_order_relaxed);
            return;
        }
        s.active = true;
        s.next_ns = first;
        s.period_ns = period;
    }

    // Counts and raises every due expiry; returns the nearest deadline still ahead (0: none).
    std::uint64_t fire_due() {
        std::uint64_t nearest = 0;
        for (auto& g : guests) {
            const bool up = detail::guest_is_up(*g.entry);
            const std::uint32_t incarnation =
                layout::atomic(const_cast<std::uint32_t&>(g.entry->incarnation)).load(std::memory_order_acquire);
            if (incarnation != g.incarnation_seen) {
                // A new incarnation: every request is read again, and the old one's are refused.
                for (auto& schedule : g.timers) schedule = Schedule{};
                g.incarnation_seen = incarnation;
            }
            for (unsigned i = 0; i < layout::kVirtualTimers; ++i) {
                refresh(g, i, incarnation, up);
                Schedule& s = g.timers[i];
                if (!s.active) continue;
                const std::uint64_t now = clock::monotonic_ns();
                if (s.next_ns <= now) {
                    const std::uint64_t due = s.period_ns != 0 ? (now - s.next_ns) / s.period_ns + 1 : 1;
                    auto& t = g.page->timers[i];
                    // release: the count before the ring; pairs with the dispatcher's acquire.
                    layout::atomic(t.expirations).fetch_add(due, std::memory_order_release);
                    layout::atomic(t.last_fire_ns).store(now, std::memory_order_release);
                    detail::ring(g.page->inbox, layout::kFirstTimerLine + i);
                    raises.fetch_add(1, std::memory_order_relaxed);
                    if (due > 1) overruns.fetch_add(due - 1, std::memory_order_relaxed);
                    if (s.period_ns != 0) {
                        s.next_ns += due * s.period_ns;
                    } else {
                        s.active = false;
                        continue;
                    }
                }
                if (nearest == 0 || s.next_ns < nearest) nearest = s.next_ns;
            }
        }
        return nearest;
    }

    // Takes the lines this core serves: the panic line if it has a handler, the timer-change line
    // if it serves timers (which needs nothing more: fire_due() re-reads every changed request).
    void take_calls() {
        const std::uint64_t panic = std::uint64_t{1} << layout::kPanicLine;
        const std::uint64_t recover = std::uint64_t{1} << layout::kRecoverLine;
        const std::uint64_t mine = (on_panic ? panic : 0) | (on_recovery ? recover : 0) |
                                   (timers ? std::uint64_t{1} << layout::kTimerChangeLine : 0);
        for (auto& g : guests) {
            auto pending = layout::atomic(g.page->to_nanokernel.pending);
            if ((pending.load(std::memory_order_acquire) & mine) == 0) continue;
            // acq_rel: takes our lines only; the panic record was published before its ring.
            const std::uint64_t lines = pending.fetch_and(~mine, std::memory_order_acq_rel);
            if ((lines & panic & mine) != 0) on_panic(g.id);
            if ((lines & recover & mine) != 0) on_recovery(g.id);
        }
    }

    void run() {
        std::vector<futex_waitv> words;
        for (;;) {
            words.clear();
            for (auto& g : guests)
                words.push_back(detail::futex_waiter(&g.page->to_nanokernel.wake,
                                                     layout::atomic(g.page->to_nanokernel.wake).load(std::memory_order_seq_cst)));
            const std::uint32_t stop = std::atomic_ref<std::uint32_t>(stop_word).load(std::memory_order_acquire);
            words.push_back(detail::futex_waiter(&stop_word, stop, true));
            if (stopping.load(std::memory_order_acquire)) return;
            take_calls();
            const std::uint64_t nearest = timers ? fire_due() : 0;
            const timespec until = to_timespec(nearest);
            (void)detail::futex_wait_any(words, nearest != 0 ? &until : nullptr);  // woken, changed, timed out or EINTR: look again
            wakeups.fetch_add(1, std::memory_order_relaxed);
        }
    }
};

TimerCore::TimerCore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::unique_ptr<TimerCore>> TimerCore::start(const Region& region, Options options) {
    if (region.identity().role != Role::Creator)
        return fail(RegionError::AccessDenied, "the timer core runs in the region's creator (nkd)");
    auto impl = std::make_unique<Impl>();
    impl->timers = options.timers;
    impl->on_panic = std::move(options.on_panic);
    impl->on_recovery = std::move(options.on_recovery_request);
    const int fifo_priority = options.fifo_priority;
    const auto& t = region.tables();
    for (std::uint32_t g = 0; g < t.header.guest_count && g < layout::kMaxGuests; ++g) {
        GuestTimers timers;
        timers.id = t.guests[g].id;
        timers.page = detail::control_page(region, timers.id, true);
        timers.entry = detail::live_guest(region, timers.id);
        if (timers.page == nullptr || timers.entry == nullptr)
            return fail(RegionError::NotMapped, "the control page of guest " + std::to_string(timers.id) + " is not mapped");
        timers.incarnation_seen =
            layout::atomic(const_cast<std::uint32_t&>(timers.entry->incarnation)).load(std::memory_order_acquire);
        // The core sleeps on this doorbell for its whole life: one waiter, counted once.
        layout::atomic(timers.page->to_nanokernel.waiters).fetch_add(1, std::memory_order_seq_cst);
        impl->guests.push_back(timers);
    }
    Impl* raw = impl.get();
    raw->thread = std::thread([raw, fifo_priority, cpus = options.cpus] {
        (void)::prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);  // 1 ns: the deadline is the deadline
        (void)::pthread_setname_np(::pthread_self(), "nk-timer-core");
        if (!cpus.empty()) {
            cpu_set_t set;
            CPU_ZERO(&set);
            for (const std::uint32_t cpu : cpus)
                if (cpu < CPU_SETSIZE) CPU_SET(cpu, &set);
            if (const int rc = ::pthread_setaffinity_np(::pthread_self(), sizeof set, &set); rc != 0)
                std::fprintf(stderr, "nkd: timer core runs on any CPU (its rt guests' CPUs refused: %s)\n",
                             std::strerror(rc));
        }
        if (fifo_priority > 0) {
            sched_param param{};
            param.sched_priority = fifo_priority;
            if (const int rc = ::pthread_setschedparam(::pthread_self(), SCHED_FIFO, &param); rc != 0)
                std::fprintf(stderr, "nkd: timer core stays SCHED_OTHER (SCHED_FIFO %d refused: %s)\n", fifo_priority,
                             std::strerror(rc));
        }
        raw->run();
    });
    return std::unique_ptr<TimerCore>(new TimerCore(std::move(impl)));
}

std::vector<std::uint32_t> TimerCore::rt_guest_cpus(const Region& region) {
    std::vector<std::uint32_t> cpus;
    for (const auto& guest : region.guests())
        if (guest.kind == GuestKind::Rt) cpus.insert(cpus.end(), guest.cpus.begin(), guest.cpus.end());
    std::sort(cpus.begin(), cpus.end());
    cpus.erase(std::unique(cpus.begin(), cpus.end()), cpus.end());
    return cpus;
}

TimerCore::~TimerCore() {
    if (!impl_) return;
    impl_->stopping.store(true, std::memory_order_release);
    // release: pairs with the acquire load in run(); the wake ends its sleep.
    std::atomic_ref<std::uint32_t>(impl_->stop_word).fetch_add(1, std::memory_order_release);
    detail::futex_wake_private(&impl_->stop_word, INT_MAX);
    if (impl_->thread.joinable()) impl_->thread.join();
    for (auto& g : impl_->guests) layout::atomic(g.page->to_nanokernel.waiters).fetch_sub(1, std::memory_order_seq_cst);
}

TimerCore::Counters TimerCore::counters() const {
    return Counters{impl_->raises.load(std::memory_order_relaxed), impl_->overruns.load(std::memory_order_relaxed),
                    impl_->rejected.load(std::memory_order_relaxed), impl_->wakeups.load(std::memory_order_relaxed)};
}

}  // namespace nk
