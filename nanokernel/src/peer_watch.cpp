// PeerWatch (peer_watch.hpp): heartbeats read, failures reported once, recovery asked of nkd.
#include "nk/nanokernel/peer_watch.hpp"

#include <utility>

#include "nk/nanokernel/console_ring.hpp"
#include "nk/nanokernel/heartbeat.hpp"
#include "nk/nanokernel/panic.hpp"
#include "nk/nanokernel/recovery.hpp"

namespace nk {

PeerWatch::PeerWatch(const Region& region, std::vector<std::string> peers, OnFailure on_failure, Log log)
    : region_(region),
      peers_(std::move(peers)),
      ids_(peers_.size()),
      on_failure_(std::move(on_failure)),
      log_(std::move(log)) {}

bool PeerWatch::check() {
    bool all_fine = true;
    for (std::size_t i = 0; i < peers_.size(); ++i) {
        const std::string& name = peers_[i];
        if (!ids_[i]) {  // the config fixes a guest's id: looked up by name once
            auto info = region_.guest(name);
            if (!info) continue;
            ids_[i] = info->id;
        }
        const std::uint16_t id = *ids_[i];
        // Each period reads only what changes: not the whole guest entry.
        const auto status = region_.guest_status(id);
        if (!status) continue;
        if (status->state != layout::GuestState::Running) {
            all_fine = false;  // down, restarting or stopped: nkd knows; nothing for us to report
            continue;
        }
        auto beat = heartbeat::read(region_, id);
        if (!beat) {
            if (!told_unarmed_[id]) say("peer '" + name + "' has no heartbeat armed (yet); watching for one");
            told_unarmed_[id] = true;
            continue;
        }
        told_unarmed_[id] = false;
        if (!beat->stale()) continue;
        all_fine = false;
        auto done = reported_.find(id);
        if (done != reported_.end() && done->second == beat->incarnation) {
            // Reported; if nkd was busy with our previous request, ask again.
            if (pending_missed_.count(id) != 0) {
                auto asked = recovery::request(region_, {id, beat->incarnation, beat->missed(), beat->health});
                if (asked) pending_missed_.erase(id);
            }
            continue;
        }
        reported_[id] = beat->incarnation;
        report(id, name, beat->incarnation, beat->missed(), beat->misses, beat->health);
    }
    return all_fine;
}

void PeerWatch::report(std::uint16_t peer, const std::string& name, std::uint32_t incarnation, std::uint64_t missed,
                       std::uint32_t allowed, std::uint64_t health) {
    PeerFailure failure{peer, name, incarnation, missed, allowed, health, std::nullopt, {}, {}};
    failure.facts = "peer '" + name + "' (incarnation " + std::to_string(incarnation) + ") failed: no heartbeat for " +
                    std::to_string(missed) + " periods (allowed " + std::to_string(allowed) + "), last health word " +
                    std::to_string(health);
    const auto record = read_failure_record(region_, peer);
    if (record && record->incarnation == incarnation) {
        failure.panic_reason = record->reason;
        failure.facts += ", panic: " + record->reason;
    }
    if (auto console = ConsoleRing::open(region_, peer, false)) failure.console_tail = console->tail(kPeerConsoleTailLines);
    if (on_failure_) on_failure_(failure);
    if (auto asked = recovery::request(region_, {peer, incarnation, missed, health}); !asked) {
        say("recovery request for '" + name + "' not sent yet: " + asked.error().message);
        pending_missed_[peer] = missed;
    }
}

}  // namespace nk
