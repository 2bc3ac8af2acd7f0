// nkd's supervisor: starts each runnable guest as a partition, watches it, restarts only the
// guest that ended, and stops them all in reverse order.
//
// A guest's partition is its init (nk-init for a linux guest, the rt program for an rt guest) in
// namespaces of its own (nanokernel/partition.hpp) and a cgroup of its own (cgroup.hpp). Its end
// is seen through its pidfd; the exit status, the kind of failure and the new state are written
// to the guest table, where `nkctl guests` reads them. Restarts follow the guest's policy with
// exponential back-off (100 ms doubling to 5 s), and stop after `restart_limit` failures in a
// row (a guest that ran 10 s counts as healthy again). Before a restart, the named objects the
// guest owned (outside its PNV area) are reclaimed.
//
// The console of each guest (its init's stdout and stderr, inherited by its services) is a pipe
// that nkd copies to its own stderr, each line prefixed with the guest's name, and into the
// guest's console ring in PNV (console_ring.hpp). A guest that ends after nk::panic() left a
// new failure record in its control page ended by panic (panic.hpp).
//
// Single-threaded: nkd's loop polls poll_fds() and calls back here.
#pragma once

#include <poll.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nk/nanokernel/cgroup.hpp"
#include "nk/nanokernel/console_ring.hpp"
#include "nk/nanokernel/platform_config.hpp"
#include "nk/nanokernel/region.hpp"
#include "nk/nanokernel/unique_fd.hpp"

namespace nk::nkd {

class Supervisor {
public:
    using Clock = std::chrono::steady_clock;

    // `init_path`: the nk-init binary. `kept_consoles`: the console pipes a region keeper held
    // for a restarted nkd (read ends, one per guest); empty: make new ones.
    Supervisor(Region& region, const PlatformConfig& config, std::string init_path,
               std::vector<UniqueFd> kept_consoles = {});

    // The read end of each guest's console pipe, in config order, for the region keeper.
    [[nodiscard]] std::vector<int> console_read_fds() const;

    // Starts every runnable guest in config order; a guest that cannot start is logged and left
    // down (the others still start). With `adopting` (a restarted nkd on a kept region), a guest
    // the table shows running is adopted if its init still lives, and one that was left down
    // stays down.
    void start_all(bool adopting = false);

    // What the caller's poll() must watch: one pidfd and one console pipe per running guest.
    [[nodiscard]] std::vector<pollfd> poll_fds() const;
    // Handles the fds of poll_fds() that poll() marked ready.
    void on_ready(const std::vector<pollfd>& ready);

    // Milliseconds until the next scheduled restart (-1: none), for poll()'s timeout.
    [[nodiscard]] int timeout_ms() const;
    // Starts the guests whose back-off has run out.
    void run_due_restarts();
    // Recovers the running guests whose heartbeat went stale (heartbeat.hpp): a hang.
    void check_heartbeats();
    // Guest `guest_id` raised its panic line (nk::panic()). Its init normally ends the guest at
    // once (nk-init on the panic signal; an rt guest's process is the panicking one); if the guest
    // still runs a grace period later, nkd kills it. Either way the end is recorded as a panic.
    void on_panic_line(std::uint16_t guest_id);
    // Guest `from`'s watchdog asks to recover a peer it found hung (recovery.hpp). Acted on only
    // while the peer still runs the incarnation that stopped beating: of several watchers of one
    // failure, the first causes the one recovery and the others are told it is under way.
    void on_recovery_request(std::uint16_t from);
    // Kills the guests whose panic grace ran out.
    void end_panicked_guests();

    // SIGTERM to every guest in reverse config order, SIGKILL after `grace`; cgroups removed.
    void stop_all(std::chrono::milliseconds grace = std::chrono::milliseconds(5000));

    // An operator's request (nkctl stop|start|restart GUEST): what was done, for a person.
    [[nodiscard]] Result<std::string> operate(std::string_view op, std::string_view guest);

    // A summary for systemd's STATUS=.
    [[nodiscard]] std::string status() const;

private:
    struct Guest {
        const GuestConfig* config = nullptr;
        std::optional<GuestCgroup> cgroup;
        pid_t pid = -1;
        UniqueFd pidfd;
        UniqueFd console;          // read end of the console pipe (non-blocking); kept across restarts
        UniqueFd console_write;    // its write end, the guest's stdout and stderr
        bool adopted = false;      // started by an earlier nkd: not our child, its status unknown
        std::optional<ConsoleRing> console_ring;  // the console's tail, in the guest's PNV area
        std::uint64_t panic_sequence = 0;         // the failure record's sequence when it started
        std::optional<std::uint32_t> hung;        // set when its heartbeat went stale: periods missed
        std::string hung_seen_by;                 // "nkd", or the guest whose watchdog found it
        std::uint16_t hung_reported_by = 0;       // that guest's id; 0: nkd
        std::optional<Clock::time_point> kill_after_panic;  // its panic line was raised; kill it then
        std::string console_tail;  // an unfinished last line
        Clock::time_point started{};
        std::optional<Clock::time_point> restart_at;
        std::uint32_t failures_in_a_row = 0;
        bool stopping = false;
    };

    void start(Guest& guest, bool is_restart);
    void stop_guest(Guest& guest, std::chrono::milliseconds grace);
    [[nodiscard]] bool adopt(Guest& guest, const GuestInfo& info);
    void on_exit(Guest& guest);
    void drain_console(Guest& guest, bool flush);
    void log_console_line(Guest& guest, const std::string& line);
    void watch_failures(Guest& guest);
    void reclaim_objects(const GuestConfig& config);
    void hand_over_interface(const GuestConfig& config, pid_t pid) const;
    [[nodiscard]] bool watched_by_a_running_watchdog(const GuestConfig& config) const;
    [[nodiscard]] CgroupLimits limits_for(const GuestConfig& config) const;
    [[nodiscard]] std::vector<std::string> init_argv(const GuestConfig& config) const;

    Region& region_;
    const PlatformConfig& config_;
    std::string init_path_;
    std::vector<Guest> guests_;
};

}  // namespace nk::nkd
