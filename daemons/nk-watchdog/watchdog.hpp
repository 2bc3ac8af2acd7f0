// nk-watchdog's core: the guest's own health (its init and its critical processes) and the
// heartbeats of the peers it watches.
//
// Each period it beats the guest's heartbeat, but only while the guest's init is not stopped and
// every registered critical process kicked within its own deadline: a stuck guest, or one stuck
// critical process, stops the beat and the guest's peers (and nkd) find it hung. It also reads the
// heartbeat of every watched peer; a peer whose beat is older than its period * misses has
// failed: the watchdog logs the facts (missed beats, health word, the peer's failure record), runs
// the operator's hook, and asks nkd to recover the peer (recovery.hpp). One report per failed
// incarnation; nkd makes one recovery of it however many watchdogs report it.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "nk/nanokernel/peer_watch.hpp"
#include "nk/nanokernel/region.hpp"

namespace nk::wd {

struct Settings {
    std::chrono::milliseconds period{50};
    std::uint32_t misses = 3;
    std::vector<std::string> watch;  // peer guest names
    std::string hook;                // shell command; empty: none
};

class Watchdog {
public:
    using Clock = std::chrono::steady_clock;

    Watchdog(const Region& region, Settings settings);

    // One datagram of the sd_notify protocol from process `pid` (watchdog_client.hpp).
    void on_message(pid_t pid, const std::string& message);

    // One period: checks the guest, beats if healthy, checks the peers. Returns false when the
    // heartbeat could not be written at all (the region is gone): the daemon then stops.
    [[nodiscard]] bool tick();

    // True while every watched peer beats: what the daemon tells a watchdog above it (systemd).
    [[nodiscard]] bool peers_healthy() const { return peers_healthy_; }
    [[nodiscard]] bool self_healthy() const { return unhealthy_reason_.empty(); }

private:
    struct Critical {
        std::string name;
        std::chrono::microseconds period{};
        Clock::time_point last_kick{};
        std::uint64_t health = 0;
    };
    [[nodiscard]] std::string check_self();
    void on_peer_failure(const PeerFailure& failure);
    void run_hook(const std::vector<std::string>& env);

    const Region& region_;
    Settings settings_;
    std::map<pid_t, Critical> critical_;
    std::optional<Clock::time_point> init_stopped_since_;
    std::string unhealthy_reason_;
    PeerWatch peers_;
    bool peers_healthy_ = true;
};

}  // namespace nk::wd
