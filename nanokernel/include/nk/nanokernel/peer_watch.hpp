// nk::PeerWatch: one guest watching the heartbeats of others, as the paper's software watchdog
// does across OSes. Shared by nk-watchdog (a linux guest's daemon) and the rt guest's watchdog
// task (nk/rt/watchdog_task.hpp).
//
// check() reads each watched peer's heartbeat. A running peer whose beat is older than its
// period * misses has failed (dead, stopped, live-locked): the watch gathers the facts (missed
// periods, the last health word, the peer's panic record if this incarnation wrote one), hands
// them to the caller's on_failure (log, hook, event) and asks nkd to recover the peer
// (recovery.hpp), with the last lines of its console from its PNV area (the region lets a
// watcher read the PNV areas of the guests it watches). One report per failed incarnation; a request nkd could not take yet is sent
// again at the next check. Peers that are down or restarting are nkd's already: not reported.
//
//   nk::PeerWatch watch(region, {"linux"}, [](const nk::PeerFailure& f) { log(f.facts); });
//   every period: bool all_beating = watch.check();
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "nk/nanokernel/region.hpp"

namespace nk {

struct PeerFailure {
    std::uint16_t peer = 0;
    std::string name;
    std::uint32_t incarnation = 0;
    std::uint64_t missed = 0;  // heartbeat periods without a beat
    std::uint32_t allowed = 0; // the misses the peer armed its heartbeat with
    std::uint64_t health = 0;  // its last health word
    std::optional<std::string> panic_reason;  // its panic record, if this incarnation wrote one
    // The last lines of its console, from its PNV area (a watcher holds it read-only); empty
    // when the ring cannot be read.
    std::vector<std::string> console_tail;
    std::string facts;         // all of the above but the console tail, for a log line
};

inline constexpr std::size_t kPeerConsoleTailLines = 10;

class PeerWatch {
public:
    using OnFailure = std::function<void(const PeerFailure&)>;
    using Log = std::function<void(const std::string&)>;

    // `peers`: guest names (unknown names are skipped at each check). `log` hears what is not a
    // failure (a peer without a heartbeat yet, a recovery request nkd could not take yet).
    PeerWatch(const Region& region, std::vector<std::string> peers, OnFailure on_failure, Log log = {});

    // One look at every peer. True while each running peer beats.
    bool check();

    [[nodiscard]] const std::vector<std::string>& peers() const { return peers_; }

private:
    void report(std::uint16_t peer, const std::string& name, std::uint32_t incarnation, std::uint64_t missed,
                std::uint32_t allowed, std::uint64_t health);
    void say(const std::string& line) const {
        if (log_) log_(line);
    }

    const Region& region_;
    std::vector<std::string> peers_;
    std::vector<std::optional<std::uint16_t>> ids_;  // per peer, once its name was found
    OnFailure on_failure_;
    Log log_;
    std::map<std::uint16_t, std::uint32_t> reported_;        // peer -> incarnation already reported
    std::map<std::uint16_t, bool> told_unarmed_;             // peers whose missing heartbeat was logged
    std::map<std::uint16_t, std::uint64_t> pending_missed_;  // peers whose recovery request nkd was busy for
};

}  // namespace nk
