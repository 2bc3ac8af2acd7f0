// nk::irq: virtual interrupt lines, the Nanokernel's interrupt routing between guests.
//
// Every guest has 64 lines. Lines 0..15 are the nanokernel's: 0..7 are its virtual timers
// (vtimer.hpp), 8 tells that a peer guest went down and 9 that one runs again; only nkd raises
// them. Lines 16..63 are configured in the platform's [[interrupts]] table, which names each
// line, its owner and the guests that may raise it; the table sits in the read-only management
// area, so it is the same static ownership table for everyone. A guest raises a peer's line in
// the doorbell of their link area (memory only the two share) and its own lines in its control
// page; the owner's dispatcher takes the pending bits, drops (and counts) any bit its source may
// not raise, and runs the handlers in the owner's process. docs/ARCHITECTURE.md, "Virtual
// interrupts", has the protocol.
//
//   // in the rt guest: receive "rt.command"
//   auto dispatcher = nk::irq::Dispatcher::open(region);
//   dispatcher->on("rt.command", [](const nk::irq::Interrupt&) { ... });
//   for (;;) (void)dispatcher->wait();
//   // in the linux guest:
//   if (auto raised = nk::irq::raise(region, "rt.command"); !raised) report(raised.error());
//
// A dispatcher takes only the lines it has handlers for, so several dispatchers of one guest
// (one per process, say) may share its lines between them; two that handle the same line race
// for each raise and one of them gets it. A dispatcher that handles a Direct virtual timer's line
// (vtimer.hpp) also wakes at that timer's deadlines and counts its expiries itself.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nk/nanokernel/layout.hpp"
#include "nk/nanokernel/region.hpp"

namespace nk::irq {

inline constexpr unsigned kLines = layout::kLinesPerGuest;
inline constexpr unsigned kPeerDownLine = layout::kPeerDownLine;
inline constexpr unsigned kPeerUpLine = layout::kPeerUpLine;
inline constexpr unsigned kFirstConfiguredLine = layout::kFirstConfiguredLine;
[[nodiscard]] constexpr unsigned timer_line(unsigned timer) { return layout::kFirstTimerLine + timer; }

// A configured line, as the static table holds it.
struct LineInfo {
    std::string name;
    std::uint16_t owner = 0;     // guest id
    unsigned line = 0;
    std::uint32_t raiser_mask = 0;  // bit i = guests[i]
    std::uint32_t source_line = 0;  // in the platform config
};

[[nodiscard]] std::vector<LineInfo> lines(const Region& region);
[[nodiscard]] Result<LineInfo> find_line(const Region& region, std::string_view name);

// Raises a configured line in its owner. Any thread of any process of a guest that the line's
// raisers include (the owner always may). Wait-free but for the futex wake of a sleeping owner.
// Errors: NotFound (no such line), AccessDenied (the table does not let this guest raise it),
// NotRunning (the owner is down, restarting or stopped), NotMapped (no link to the owner here).
[[nodiscard]] Result<void> raise(const Region& region, std::string_view line_name);
[[nodiscard]] Result<void> raise(const Region& region, std::uint16_t owner_guest, unsigned line);

// The nanokernel's raise into a guest's inbox: any line, timers and peer lines included.
// The region's creator (nkd) only.
[[nodiscard]] Result<void> raise_as_nanokernel(const Region& region, std::uint16_t guest_id, unsigned line);

// The nanokernel's bookkeeping around a guest's restart (creator only):
// Clears the guest's pending lines (its inbox, its link doorbells, its lines toward nkd) and
// disarms its timers, before a new incarnation starts.
[[nodiscard]] Result<void> reset_guest(const Region& region, std::uint16_t guest_id);
// Tells every other guest that `guest_id` went down (`down`) or runs again: names it in their
// peers_down / peers_up word and raises their peer-down / peer-up line.
void announce_peer(const Region& region, std::uint16_t guest_id, bool down);

// What a handler is told.
struct Interrupt {
    unsigned line = 0;
    std::uint16_t source = 0;       // the raising guest's id; 0: the nanokernel (timers, peer lines)
    std::uint16_t peer = 0;         // peer-down and peer-up lines: the guest that went down or came back
    std::uint64_t expirations = 0;  // timer lines: expiries since the last dispatch (more than 1: overrun)
};

struct DispatcherOptions {
    // How long wait() polls the doorbells before it sleeps in the kernel: a raise that comes
    // within it is taken in about a cache-line transfer instead of a futex wake-up.
    std::chrono::nanoseconds spin{0};
};

class Dispatcher {
public:
    using Handler = std::function<void(const Interrupt&)>;

    // The calling guest's dispatcher (a Region attached as a guest). Watches its inbox and the
    // doorbell of every link it is part of.
    [[nodiscard]] static Result<Dispatcher> open(const Region& region, DispatcherOptions options = {});

    Dispatcher(Dispatcher&&) noexcept;
    Dispatcher& operator=(Dispatcher&&) noexcept;
    ~Dispatcher();

    // Handles `line` (0..63) of this guest. Not while another thread waits or polls.
    [[nodiscard]] Result<void> on(unsigned line, Handler handler);
    // Handles the configured line `name`, which must belong to this guest.
    [[nodiscard]] Result<void> on(std::string_view line_name, Handler handler);

    // Runs the handler of every pending line it handles, once per line per source; returns how
    // many ran. Never blocks. One thread at a time (poll and the waits).
    unsigned poll();

    // Polls, and if nothing was pending spins (DispatcherOptions::spin) and then sleeps until
    // something is raised or the deadline passes. Returns how many handlers ran: 0 at the deadline
    // or after wake_up(). Signals do not end the wait.
    [[nodiscard]] Result<unsigned> wait_until(std::chrono::steady_clock::time_point deadline);
    [[nodiscard]] Result<unsigned> wait_for(std::chrono::nanoseconds timeout);
    [[nodiscard]] Result<unsigned> wait();  // no deadline

    // Makes a wait in another thread return now (with 0). Any thread.
    void wake_up();

    struct Counters {
        std::uint64_t dispatched = 0;  // handler calls
        std::uint64_t dropped = 0;     // pending bits their source may not raise, thrown away
    };
    [[nodiscard]] Counters counters() const;

private:
    struct Impl;
    explicit Dispatcher(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace nk::irq
