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
#include "timer_schedule.hpp"

namespace nk {
namespace {

// What the core keeps of one guest's timer: the schedule it adopted, its own copy, so that a guest
// that rewrites its request (or scribbles on the adoption fields) moves nothing but by re-arming.
struct Schedule {
    std::uint32_t sequence_seen = UINT32_MAX;  // odd values never publish, so this means "never read"
    bool active = false;
    bool direct = false;  // TimerDelivery::Direct: the owner counts; the core catches up after a grace
    std::uint64_t first_ns = 0;
    std::uint64_t period_ns = 0;
    std::uint64_t base = 0;  // the count when it was adopted: expiry k of the schedule is count base + k + 1
};

// How long past a deadline the core leaves a Direct timer's expiry to its owner before it counts
// and raises it itself (for an owner that is not waiting, or is stuck). Half a period more, so that
// the core's wake-ups fall between the owner's deadlines instead of on them.
constexpr std::uint64_t kDirectGraceNs = 20'000'000;

std::uint64_t grace_of(const Schedule& s) { return s.direct ? kDirectGraceNs + s.period_ns / 2 : 0; }

// Publishes the schedule the core now follows for `t` (`sequence`: the request it adopted; 0:
// none) and returns its base. The epoch bump makes every count an owner computed from the old
// schedule fail its compare-and-swap (timer_schedule.hpp has the contract).
std::uint64_t adopt(layout::VirtualTimer& t, std::uint32_t sequence) {
    auto adoption = layout::atomic(t.adoption);
    const std::uint32_t start = adoption.load(std::memory_order_relaxed) | 1U;
    // acquire (on an RMW): the stores below cannot move before the odd mark.
    adoption.exchange(start, std::memory_order_acquire);
    auto expirations = layout::atomic(t.expirations);
    std::uint64_t word = expirations.load(std::memory_order_relaxed);  // the CAS below checks it
    const std::uint64_t epoch_step = std::uint64_t{1} << layout::kTimerEpochShift;
    // release: the odd mark before the new epoch; pairs with the owner's acquire of the word.
    while (!expirations.compare_exchange_weak(word, (detail::timer_epoch_bits(word) + epoch_step) | detail::timer_count(word),
                                              std::memory_order_acq_rel, std::memory_order_relaxed)) {
    }
    const std::uint64_t base = detail::timer_count(word);
    layout::atomic(t.adopted_base).store(base, std::memory_order_relaxed);  // ordered by the marks
    layout::atomic(t.adopted_sequence).store(sequence, std::memory_order_relaxed);
    // release: publishes the adoption; pairs with the dispatcher's acquire (interrupts.cpp).
    adoption.store(start + 1, std::memory_order_release);
    return base;
}

// The schedule an earlier core (before nkd restarted) adopted for request `sequence`, if the
// control page still says so plausibly: continuing it counts no expiry twice.
bool resume(layout::VirtualTimer& t, std::uint32_t sequence, std::uint64_t& base) {
    const std::uint32_t before = layout::atomic(t.adoption).load(std::memory_order_acquire);
    const std::uint32_t adopted = layout::atomic(t.adopted_sequence).load(std::memory_order_acquire);
    const std::uint64_t adopted_base = layout::atomic(t.adopted_base).load(std::memory_order_acquire);
    const std::uint64_t count = detail::timer_count(layout::atomic(t.expirations).load(std::memory_order_acquire));
    if ((before & 1U) != 0 || layout::atomic(t.adoption).load(std::memory_order_relaxed) != before) return false;
    if (adopted != sequence || adopted_base > count) return false;
    base = adopted_base;
    return true;
}

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

    // Re-reads a timer whose request changed and adopts it; keeps the old schedule while the
    // guest rewrites it.
    void refresh(GuestTimers& g, unsigned index, std::uint32_t incarnation, bool up) {
        Schedule& s = g.timers[index];
        auto& t = g.page->timers[index];
        // acquire: pairs with the release that published the request (vtimer.cpp, publish()).
        const std::uint32_t before = layout::atomic(t.sequence).load(std::memory_order_acquire);
        if ((before & 1U) != 0 || before == s.sequence_seen) {
            if (!up && s.active) {
                s.active = false;
                (void)adopt(t, 0);
            }
            return;
        }
        const std::uint32_t armed = layout::atomic(t.armed).load(std::memory_order_acquire);
        const std::uint64_t first = layout::atomic(t.first_ns).load(std::memory_order_acquire);
        const std::uint64_t period = layout::atomic(t.period_ns).load(std::memory_order_acquire);
        const std::uint32_t owner = layout::atomic(t.incarnation).load(std::memory_order_acquire);
        const std::uint32_t delivery = layout::atomic(t.delivery).load(std::memory_order_acquire);
        if (layout::atomic(t.sequence).load(std::memory_order_relaxed) != before) return;  // torn: next round
        const bool first_read = s.sequence_seen == UINT32_MAX;
        s.sequence_seen = before;
        s.active = false;
        if (armed != 1 || !up) {
            (void)adopt(t, 0);
            return;
        }
        const auto min_period = static_cast<std::uint64_t>(vtimer::kMinPeriod.count());
        const auto max_delay = static_cast<std::uint64_t>(vtimer::kMaxDelay.count());
        const std::uint64_t now = clock::monotonic_ns();
        const bool sane = owner == incarnation && (period == 0 || (period >= min_period && period <= max_delay)) &&
                          first <= now + max_delay &&
                          (delivery == static_cast<std::uint32_t>(layout::TimerDelivery::Raise) ||
                           delivery == static_cast<std::uint32_t>(layout::TimerDelivery::Direct));
        if (!sane) {
            rejected.fetch_add(1, std::memory_order_relaxed);
            (void)adopt(t, 0);
            return;
        }
        s.active = true;
        s.first_ns = first;
        s.period_ns = period;
        s.direct = delivery == static_cast<std::uint32_t>(layout::TimerDelivery::Direct);
        if (first_read && resume(t, before, s.base)) return;
        s.base = adopt(t, before);
        // A Direct owner sleeps until deadlines it learns from the adoption: wake it to read this
        // one (the count is unchanged, so its dispatcher runs no handler for the raise).
        if (s.direct) detail::ring(g.page->inbox, layout::kFirstTimerLine + index);
    }

    // Counts (and raises) what is due of one active schedule; returns its next wake-up (0: none).
    std::uint64_t fire_one(GuestTimers& g, unsigned index) {
        Schedule& s = g.timers[index];
        auto& t = g.page->timers[index];
        const std::uint64_t now = clock::monotonic_ns();
        const std::uint64_t grace = grace_of(s);
        const std::uint64_t target = s.base + (now >= grace ? detail::due_count(s.first_ns, s.period_ns, now - grace) : 0);
        // acquire: an owner's count (Direct) is seen before the core computes from it.
        const std::uint64_t word = layout::atomic(t.expirations).load(std::memory_order_acquire);
        const detail::Advance advanced = detail::advance_count(t.expirations, word, target, false);
        const std::uint64_t count = advanced.after;
        if (advanced.stored) {
            layout::atomic(t.last_fire_ns).store(now, std::memory_order_release);
            detail::ring(g.page->inbox, layout::kFirstTimerLine + index);
            raises.fetch_add(1, std::memory_order_relaxed);
            if (count - advanced.before > 1) overruns.fetch_add(count - advanced.before - 1, std::memory_order_relaxed);
        }
        const std::uint64_t k = count >= s.base ? count - s.base : 0;
        if (s.period_ns == 0 && k >= 1) {
            s.active = false;  // a one-shot that has fired
            return 0;
        }
        const std::uint64_t deadline = detail::deadline_of(s.first_ns, s.period_ns, k);
        if (deadline == detail::kNoDeadline || deadline > detail::kNoDeadline - grace) return 0;
        return deadline + grace;
    }

    // Counts and raises every due expiry; returns the nearest wake-up still ahead (0: none).
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
                if (!g.timers[i].active) continue;
                const std::uint64_t wake = fire_one(g, i);
                if (wake != 0 && (nearest == 0 || wake < nearest)) nearest = wake;
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
