// Virtual interrupt lines (interrupts.hpp). The raiser's half of the doorbell protocol is
// detail::ring() (doorbell.hpp); the dispatcher's half is here.
#include "nk/nanokernel/interrupts.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <optional>

#include "control_page.hpp"
#include "doorbell.hpp"
#include "nk/nanokernel/clock.hpp"
#include "nk/nanokernel/detail/futex.hpp"
#include "timer_schedule.hpp"

namespace nk::irq {
namespace {

constexpr std::uint64_t bit(unsigned line) { return std::uint64_t{1} << line; }
constexpr std::uint64_t kNanokernelLines = bit(layout::kFirstConfiguredLine) - 1;
constexpr std::uint64_t kTimerLines = bit(layout::kFirstTimerLine + layout::kVirtualTimers) - bit(layout::kFirstTimerLine);

std::string bounded(const char* text, std::size_t capacity) { return std::string(text, strnlen(text, capacity)); }

LineInfo info_of(const layout::InterruptLine& entry) {
    return LineInfo{bounded(entry.name, sizeof entry.name), entry.owner_guest, entry.line, entry.raiser_mask,
                    entry.source_line};
}

std::string guest_name(const Region& region, std::uint16_t id) {
    const int index = detail::guest_index(region, id);
    if (index < 0) return "guest " + std::to_string(id);
    const auto& g = region.tables().guests[index];
    return "'" + bounded(g.name, sizeof g.name) + "'";
}

const layout::InterruptLine* configured(const Region& region, std::uint16_t owner, unsigned line) {
    const auto& t = region.tables();
    for (std::uint32_t i = 0; i < t.header.line_count && i < layout::kMaxInterruptLines; ++i)
        if (t.lines[i].owner_guest == owner && t.lines[i].line == line) return &t.lines[i];
    return nullptr;
}

// The doorbell through which guest `from` rings guest `to`: `to`'s inbox when they are the same
// guest, else `to`'s side of their link area. Null if this process does not hold it writable.
layout::Doorbell* doorbell(const Region& region, std::uint16_t from, std::uint16_t to) {
    if (from == to) {
        auto* page = detail::control_page(region, to, true);
        return page != nullptr ? &page->inbox : nullptr;
    }
    const AreaInfo* link = region.link_area(from, to);
    if (link == nullptr || link->kind != layout::AreaKind::Link) return nullptr;
    auto bytes = region.bytes(link->offset, sizeof(layout::AreaHeader), true);
    if (!bytes) return nullptr;
    auto* header = reinterpret_cast<layout::AreaHeader*>(*bytes);
    return &header->doorbells[link->owner_guest == to ? 0 : 1];
}

}  // namespace

std::vector<LineInfo> lines(const Region& region) {
    std::vector<LineInfo> out;
    const auto& t = region.tables();
    for (std::uint32_t i = 0; i < t.header.line_count && i < layout::kMaxInterruptLines; ++i) out.push_back(info_of(t.lines[i]));
    return out;
}

Result<LineInfo> find_line(const Region& region, std::string_view name) {
    const auto& t = region.tables();
    for (std::uint32_t i = 0; i < t.header.line_count && i < layout::kMaxInterruptLines; ++i)
        if (bounded(t.lines[i].name, sizeof t.lines[i].name) == name) return info_of(t.lines[i]);
    return fail(RegionError::NotFound, "no interrupt line is named '" + std::string(name) + "' in platform '" +
                                           std::string(region.platform_name()) + "' (see its [[interrupts]])");
}

Result<void> raise(const Region& region, std::string_view line_name) {
    auto line = find_line(region, line_name);
    if (!line) return fail(std::move(line.error()));
    return raise(region, line->owner, line->line);
}

Result<void> raise(const Region& region, std::uint16_t owner, unsigned line) {
    const Identity& me = region.identity();
    if (me.role == Role::Creator) return raise_as_nanokernel(region, owner, line);
    if (me.role != Role::Guest) return fail(RegionError::AccessDenied, "only a guest or the nanokernel raises interrupt lines");
    if (line >= kLines) return fail(RegionError::InvalidArgument, "line " + std::to_string(line) + " does not exist (0 to 63)");
    const layout::GuestEntry* target = detail::live_guest(region, owner);
    if (target == nullptr) return fail(RegionError::NotFound, "no guest has id " + std::to_string(owner));
    if (line < kFirstConfiguredLine)
        return fail(RegionError::AccessDenied, "line " + std::to_string(line) + " of " + guest_name(region, owner) +
                                                   " is the nanokernel's (timers and peer lines); guests raise lines 16 to 63");
    const layout::InterruptLine* entry = configured(region, owner, line);
    if (entry == nullptr)
        return fail(RegionError::NotFound, "guest " + guest_name(region, owner) + " has no line " + std::to_string(line) +
                                               " (see the platform's [[interrupts]])");
    const int my_index = detail::guest_index(region, me.guest_id);
    const bool allowed = owner == me.guest_id || (my_index >= 0 && (entry->raiser_mask & (1U << my_index)) != 0);
    if (!allowed)
        return fail(RegionError::AccessDenied,
                    std::string(region.config_file()) + ":" + std::to_string(entry->source_line) + ": line '" +
                        bounded(entry->name, sizeof entry->name) + "' may not be raised by guest " +
                        guest_name(region, me.guest_id) + " (add it to the line's raisers)");
    if (!detail::guest_is_up(*target))
        return fail(RegionError::NotRunning, "guest " + guest_name(region, owner) + " is not running; line '" +
                                                 bounded(entry->name, sizeof entry->name) + "' was not raised");
    layout::Doorbell* bell = doorbell(region, me.guest_id, owner);
    if (bell == nullptr)
        return fail(RegionError::NotMapped, "the doorbell of guest " + guest_name(region, owner) +
                                                " is not mapped writable in this process");
    detail::ring(*bell, line);
    return {};
}

Result<void> raise_as_nanokernel(const Region& region, std::uint16_t guest_id, unsigned line) {
    if (region.identity().role != Role::Creator)
        return fail(RegionError::AccessDenied, "only the nanokernel (the region's creator) raises into a guest's inbox");
    if (line >= kLines) return fail(RegionError::InvalidArgument, "line " + std::to_string(line) + " does not exist (0 to 63)");
    auto* page = detail::control_page(region, guest_id, true);
    if (page == nullptr) return fail(RegionError::NotFound, "no control page for guest " + std::to_string(guest_id));
    detail::ring(page->inbox, line);
    return {};
}

Result<void> reset_guest(const Region& region, std::uint16_t guest_id) {
    if (region.identity().role != Role::Creator)
        return fail(RegionError::AccessDenied, "only the nanokernel resets a guest's interrupt state");
    auto* page = detail::control_page(region, guest_id, true);
    if (page == nullptr) return fail(RegionError::NotFound, "no control page for guest " + std::to_string(guest_id));
    // No process of the guest runs now: nothing races these stores but raisers, whose raises for
    // the old incarnation are meant to be lost. relaxed: the guest's start (a fork) orders them.
    layout::atomic(page->inbox.pending).store(0, std::memory_order_relaxed);
    layout::atomic(page->to_nanokernel.pending).store(0, std::memory_order_relaxed);
    layout::atomic(page->peers_down).store(0, std::memory_order_relaxed);
    layout::atomic(page->peers_up).store(0, std::memory_order_relaxed);
    for (auto& t : page->timers) {
        auto sequence = layout::atomic(t.sequence);
        const std::uint32_t start = sequence.load(std::memory_order_relaxed) | 1U;
        sequence.exchange(start, std::memory_order_acquire);
        layout::atomic(t.armed).store(0, std::memory_order_relaxed);
        sequence.store(start + 1, std::memory_order_release);  // pairs with the timer core's acquire
    }
    for (const auto& area : region.areas()) {
        if (area.kind != layout::AreaKind::Link || !area.involves(guest_id)) continue;
        auto bytes = region.bytes(area.offset, sizeof(layout::AreaHeader), true);
        if (!bytes) continue;
        auto* header = reinterpret_cast<layout::AreaHeader*>(*bytes);
        layout::atomic(header->doorbells[area.owner_guest == guest_id ? 0 : 1].pending).store(0, std::memory_order_relaxed);
    }
    return {};
}

void announce_peer(const Region& region, std::uint16_t guest_id, bool down) {
    if (region.identity().role != Role::Creator) return;
    const int index = detail::guest_index(region, guest_id);
    if (index < 0) return;
    const auto& t = region.tables();
    for (std::uint32_t g = 0; g < t.header.guest_count && g < layout::kMaxGuests; ++g) {
        if (t.guests[g].id == guest_id) continue;
        auto* page = detail::control_page(region, t.guests[g].id, true);
        if (page == nullptr) continue;
        // release: the name before the line; pairs with the dispatcher's acq_rel exchange.
        layout::atomic(down ? page->peers_down : page->peers_up).fetch_or(1U << index, std::memory_order_release);
        detail::ring(page->inbox, down ? layout::kPeerDownLine : layout::kPeerUpLine);
    }
}

// ---- the dispatcher ------------------------------------------------------------------------

struct Dispatcher::Impl {
    struct Source {
        layout::Doorbell* bell = nullptr;
        std::uint16_t from = 0;     // guest id; 0 for the inbox (the nanokernel or the guest itself)
        std::uint64_t allowed = 0;  // lines this source may raise here
    };
    const Region* region = nullptr;
    std::uint16_t self = 0;
    layout::ControlPage* page = nullptr;
    DispatcherOptions options;
    std::vector<Source> sources;
    std::array<Handler, kLines> handlers{};
    std::uint64_t handled = 0;
    std::array<std::uint64_t, layout::kVirtualTimers> timer_seen{};
    std::uint32_t stop_word = 0;  // process-private futex: wake_up() bumps it
    Counters counters;

    void run(unsigned line, const Interrupt& irq) {
        ++counters.dispatched;
        handlers[line](irq);
    }

    // Takes what `source` has pending for our handlers; returns the handlers run.
    unsigned take(const Source& source) {
        // acquire: the raiser's writes before its ring (a message, a timer count) are visible to the handler.
        const std::uint64_t pending = layout::atomic(source.bell->pending).load(std::memory_order_acquire);
        const std::uint64_t bad = pending & ~source.allowed;
        const std::uint64_t mine = pending & source.allowed & handled;
        if ((bad | mine) == 0) return 0;
        // acq_rel: the AND decides which of several dispatchers gets each bit.
        const std::uint64_t before = layout::atomic(source.bell->pending).fetch_and(~(bad | mine), std::memory_order_acq_rel);
        const std::uint64_t taken = before & mine;
        counters.dropped += static_cast<std::uint64_t>(std::popcount(before & bad));
        unsigned ran = 0;
        for (unsigned line = 0; line < kLines; ++line) {
            if ((taken & bit(line)) == 0) continue;
            if (line < layout::kVirtualTimers && source.from == 0) {
                // acquire: pairs with the release of the count (timer core or a Direct claim) before its ring.
                const std::uint64_t word = layout::atomic(page->timers[line].expirations).load(std::memory_order_acquire);
                ran += dispatch_timer(line, detail::timer_count(word));
                continue;
            }
            Interrupt irq{line, source.from, 0, 0};
            if ((line == kPeerDownLine || line == kPeerUpLine) && source.from == 0) {
                auto& word = line == kPeerDownLine ? page->peers_down : page->peers_up;
                const std::uint32_t peers = layout::atomic(word).exchange(0, std::memory_order_acq_rel);
                const auto& t = region->tables();
                for (std::uint32_t g = 0; g < t.header.guest_count && g < layout::kMaxGuests; ++g) {
                    if ((peers & (1U << g)) == 0 || t.guests[g].id == self) continue;
                    irq.peer = t.guests[g].id;
                    run(line, irq);
                    ++ran;
                }
                continue;
            }
            run(line, irq);
            ++ran;
        }
        return ran;
    }

    // Runs timer `line`'s handler for the expiries up to `count` it has not reported yet; 0 if
    // there are none (a raise whose expiries an earlier dispatch, or a Direct claim, reported).
    unsigned dispatch_timer(unsigned line, std::uint64_t count) {
        if (count <= timer_seen[line]) return 0;
        const Interrupt irq{line, 0, 0, count - timer_seen[line]};
        timer_seen[line] = count;
        run(line, irq);
        return 1;
    }

    // A Direct timer's schedule as the timer core adopted it, read consistently (timer_schedule.hpp
    // has the contract); nothing while the core has not adopted the current request.
    struct DirectSchedule {
        std::uint64_t word = 0;  // `expirations` as read first
        std::uint64_t base = 0;
        std::uint64_t first_ns = 0;
        std::uint64_t period_ns = 0;
        [[nodiscard]] std::uint64_t next_deadline() const {
            const std::uint64_t count = detail::timer_count(word);
            return detail::deadline_of(first_ns, period_ns, count >= base ? count - base : 0);
        }
    };
    std::optional<DirectSchedule> direct_schedule(unsigned timer) const {
        auto& t = page->timers[timer];
        DirectSchedule d;
        // acquire: pairs with the core's release of the epoch (then the odd adoption mark is seen).
        d.word = layout::atomic(t.expirations).load(std::memory_order_acquire);
        // acquire: pairs with the core's release that published the adoption.
        const std::uint32_t adoption = layout::atomic(t.adoption).load(std::memory_order_acquire);
        if ((adoption & 1U) != 0) return std::nullopt;
        const std::uint32_t adopted = layout::atomic(t.adopted_sequence).load(std::memory_order_acquire);
        d.base = layout::atomic(t.adopted_base).load(std::memory_order_acquire);
        const std::uint32_t sequence = layout::atomic(t.sequence).load(std::memory_order_acquire);
        const std::uint32_t armed = layout::atomic(t.armed).load(std::memory_order_acquire);
        const std::uint32_t delivery = layout::atomic(t.delivery).load(std::memory_order_acquire);
        d.first_ns = layout::atomic(t.first_ns).load(std::memory_order_acquire);
        d.period_ns = layout::atomic(t.period_ns).load(std::memory_order_acquire);
        // relaxed: the acquire loads above keep these re-reads after them.
        if (layout::atomic(t.sequence).load(std::memory_order_relaxed) != sequence ||
            layout::atomic(t.adoption).load(std::memory_order_relaxed) != adoption)
            return std::nullopt;
        if (adopted == 0 || adopted != sequence || armed != 1 ||
            delivery != static_cast<std::uint32_t>(layout::TimerDelivery::Direct))
            return std::nullopt;
        return d;
    }

    // Counts and dispatches the due expiries of the Direct timers it handles.
    unsigned claim_direct() {
        if ((handled & kTimerLines) == 0) return 0;
        unsigned ran = 0;
        const std::uint64_t now = clock::monotonic_ns();
        for (unsigned line = 0; line < layout::kVirtualTimers; ++line) {
            if ((handled & bit(line)) == 0) continue;
            const auto schedule = direct_schedule(line);
            if (!schedule || schedule->next_deadline() > now) continue;
            const std::uint64_t target = schedule->base + detail::due_count(schedule->first_ns, schedule->period_ns, now);
            const detail::Advance advanced = detail::advance_count(page->timers[line].expirations, schedule->word, target, true);
            // Not stored: the core counted them first (its raise reports them) or adopted a new schedule.
            if (!advanced.stored) continue;
            layout::atomic(page->timers[line].last_fire_ns).store(now, std::memory_order_relaxed);  // for the operator
            ran += dispatch_timer(line, advanced.after);
        }
        return ran;
    }

    // The nearest deadline of the Direct timers it handles (kNoDeadline: none).
    std::uint64_t next_direct_deadline() const {
        std::uint64_t nearest = detail::kNoDeadline;
        if ((handled & kTimerLines) == 0) return nearest;
        for (unsigned line = 0; line < layout::kVirtualTimers; ++line) {
            if ((handled & bit(line)) == 0) continue;
            if (const auto schedule = direct_schedule(line)) nearest = std::min(nearest, schedule->next_deadline());
        }
        return nearest;
    }

    unsigned poll() {
        unsigned ran = 0;
        for (const auto& source : sources) ran += take(source);
        return ran + claim_direct();
    }
};

Dispatcher::Dispatcher(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Dispatcher::Dispatcher(Dispatcher&&) noexcept = default;
Dispatcher& Dispatcher::operator=(Dispatcher&&) noexcept = default;
Dispatcher::~Dispatcher() = default;

Result<Dispatcher> Dispatcher::open(const Region& region, DispatcherOptions options) {
    const Identity& me = region.identity();
    if (me.role != Role::Guest) return fail(RegionError::InvalidArgument, "a dispatcher serves a guest (attach as a guest)");
    auto impl = std::make_unique<Impl>();
    impl->region = &region;
    impl->self = me.guest_id;
    impl->options = options;
    impl->page = detail::control_page(region, me.guest_id, true);
    if (impl->page == nullptr) return fail(RegionError::NotMapped, "this guest's control page is not mapped writable here");
    // Start counting timer expiries from now: what an earlier dispatcher saw is not ours to report.
    for (unsigned t = 0; t < layout::kVirtualTimers; ++t)
        impl->timer_seen[t] =
            detail::timer_count(layout::atomic(impl->page->timers[t].expirations).load(std::memory_order_acquire));

    const auto& tables = region.tables();
    std::uint64_t own_lines = kNanokernelLines;
    for (std::uint32_t i = 0; i < tables.header.line_count && i < layout::kMaxInterruptLines; ++i)
        if (tables.lines[i].owner_guest == me.guest_id) own_lines |= bit(tables.lines[i].line);
    impl->sources.push_back({&impl->page->inbox, 0, own_lines});
    for (std::uint32_t g = 0; g < tables.header.guest_count && g < layout::kMaxGuests; ++g) {
        const std::uint16_t peer = tables.guests[g].id;
        if (peer == me.guest_id) continue;
        layout::Doorbell* bell = doorbell(region, peer, me.guest_id);
        if (bell == nullptr) continue;  // no link with that guest
        std::uint64_t allowed = 0;
        for (std::uint32_t i = 0; i < tables.header.line_count && i < layout::kMaxInterruptLines; ++i)
            if (tables.lines[i].owner_guest == me.guest_id && (tables.lines[i].raiser_mask & (1U << g)) != 0)
                allowed |= bit(tables.lines[i].line);
        impl->sources.push_back({bell, peer, allowed});
    }
    return Dispatcher(std::move(impl));
}

Result<void> Dispatcher::on(unsigned line, Handler handler) {
    if (line >= kLines) return fail(RegionError::InvalidArgument, "line " + std::to_string(line) + " does not exist (0 to 63)");
    if (!handler) return fail(RegionError::InvalidArgument, "a handler is required");
    impl_->handlers[line] = std::move(handler);
    impl_->handled |= bit(line);
    return {};
}

Result<void> Dispatcher::on(std::string_view line_name, Handler handler) {
    auto line = find_line(*impl_->region, line_name);
    if (!line) return fail(std::move(line.error()));
    if (line->owner != impl_->self)
        return fail(RegionError::AccessDenied, "line '" + line->name + "' belongs to guest " +
                                                   guest_name(*impl_->region, line->owner) + ", not to this one");
    return on(line->line, std::move(handler));
}

unsigned Dispatcher::poll() { return impl_->poll(); }

Result<unsigned> Dispatcher::wait_until(std::chrono::steady_clock::time_point deadline) {
    Impl& d = *impl_;
    if (const unsigned ran = d.poll(); ran != 0) return ran;
    const auto spin_end = std::min(deadline, std::chrono::steady_clock::now() + d.options.spin);
    while (std::chrono::steady_clock::now() < spin_end) {
        if (const unsigned ran = d.poll(); ran != 0) return ran;
    }
    const std::uint32_t stop = std::atomic_ref<std::uint32_t>(d.stop_word).load(std::memory_order_acquire);
    // The dispatcher's half of the protocol in doorbell.hpp: waiters up, read wake, take, sleep.
    for (const auto& s : d.sources) layout::atomic(s.bell->waiters).fetch_add(1, std::memory_order_seq_cst);
    std::vector<futex_waitv> words;
    words.reserve(d.sources.size() + 1);
    unsigned ran = 0;
    const bool forever = deadline == std::chrono::steady_clock::time_point::max();
    const std::uint64_t deadline_ns =
        forever ? detail::kNoDeadline
                : static_cast<std::uint64_t>(std::max<std::int64_t>(
                      0, std::chrono::duration_cast<std::chrono::nanoseconds>(deadline.time_since_epoch()).count()));
    for (;;) {
        words.clear();
        for (const auto& s : d.sources)
            words.push_back(detail::futex_waiter(&s.bell->wake, layout::atomic(s.bell->wake).load(std::memory_order_seq_cst)));
        words.push_back(detail::futex_waiter(&d.stop_word, stop, true));
        ran = d.poll();
        if (ran != 0) break;
        if (std::atomic_ref<std::uint32_t>(d.stop_word).load(std::memory_order_acquire) != stop) break;
        if (!forever && clock::monotonic_ns() >= deadline_ns) break;
        // Sleep to the caller's deadline or the next Direct timer deadline, whichever is first
        // (steady_clock is CLOCK_MONOTONIC, the futex's clock).
        const std::uint64_t wake_ns = std::min(deadline_ns, d.next_direct_deadline());
        const timespec until{static_cast<time_t>(wake_ns / 1'000'000'000), static_cast<long>(wake_ns % 1'000'000'000)};
        const int rc = detail::futex_wait_any(words, wake_ns == detail::kNoDeadline ? nullptr : &until);
        if (rc != 0 && rc != EINTR && rc != ETIMEDOUT) {
            for (const auto& s : d.sources) layout::atomic(s.bell->waiters).fetch_sub(1, std::memory_order_seq_cst);
            return fail(Error{std::error_code(rc, std::system_category()), "futex_waitv on the guest's doorbells failed"});
        }
    }
    for (const auto& s : d.sources) layout::atomic(s.bell->waiters).fetch_sub(1, std::memory_order_seq_cst);
    return ran;
}

Result<unsigned> Dispatcher::wait_for(std::chrono::nanoseconds timeout) {
    return wait_until(std::chrono::steady_clock::now() + timeout);
}

Result<unsigned> Dispatcher::wait() { return wait_until(std::chrono::steady_clock::time_point::max()); }

void Dispatcher::wake_up() {
    // release: pairs with the acquire loads in wait_until().
    std::atomic_ref<std::uint32_t>(impl_->stop_word).fetch_add(1, std::memory_order_release);
    detail::futex_wake_private(&impl_->stop_word, INT_MAX);
}

Dispatcher::Counters Dispatcher::counters() const { return impl_->counters; }

}  // namespace nk::irq
