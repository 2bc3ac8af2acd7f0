// nk::netbridge::PacketLinks: one guest's packet ports, both ways, to every peer of its plan.
//
// At start it makes its inbound port from each peer ("net.SELF.PEER", in their link area); it
// opens each peer's inbound port ("net.PEER.SELF") on the first packet for that peer, and again
// whenever the peer has restarted since (its new incarnation makes the port afresh). A peer that
// is down, or not yet up, is said at once: the caller answers with an ICMP unreachable.
//
//   auto links = PacketLinks::open(region, plan);
//   links->send(peer, message);                 // SendResult::Ok, PeerDown, Full, TooLarge
//   links->inbound(peer).try_receive(buffer);   // ipc::Port
//
// One thread sends (per PacketLinks) at a time; each inbound port has one receiving thread. More
// sending threads (one per TUN queue) each take a PacketSenders of their own.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <span>
#include <vector>

#include "nk/ipc/port.hpp"
#include "nk/netbridge/net_plan.hpp"
#include "nk/netbridge/packet.hpp"

namespace nk::netbridge {

enum class SendResult { Ok, PeerDown, Full, TooLarge, Error };

// The sending side alone: one PortSender per peer, opened lazily, reopened after a restart.
class PacketSenders {
public:
    PacketSenders(const Region& region, const NetPlan& plan)
        : region_(&region), self_(plan.guest), outbound_(plan.peers.size()) {
        for (std::size_t i = 0; i < plan.peers.size(); ++i) outbound_[i].port = port_name(plan.peers[i].guest, self_);
    }
    [[nodiscard]] SendResult send(std::size_t peer, std::span<const std::byte> message);
    // The same, leaving the peer asleep until wake_all(): a batch costs it one wake-up.
    [[nodiscard]] SendResult send_batched(std::size_t peer, std::span<const std::byte> message);
    // Wakes every peer sent to by send_batched() since the last call.
    void wake_all();
    // Why the last send to `peer` said Error (for the log).
    [[nodiscard]] const std::string& last_error(std::size_t peer) const { return outbound_[peer].last_error; }

private:
    struct Outbound {
        std::string port;
        std::optional<ipc::PortSender> sender;
        std::chrono::steady_clock::time_point next_try{};  // while down: do not look it up per packet
        std::string last_error;
        bool unwoken = false;  // send_batched() sent it messages it has not been woken for
    };
    [[nodiscard]] bool ensure_sender(std::size_t peer);
    [[nodiscard]] SendResult send_waking(std::size_t peer, std::span<const std::byte> message, ipc::Wake wake);

    const Region* region_;
    std::string self_;
    std::vector<Outbound> outbound_;
};

class PacketLinks {
public:
    [[nodiscard]] static Result<PacketLinks> open(const Region& region, const NetPlan& plan);

    [[nodiscard]] SendResult send(std::size_t peer, std::span<const std::byte> message) { return senders_.send(peer, message); }
    [[nodiscard]] ipc::Port& inbound(std::size_t peer) { return inbound_[peer]; }
    [[nodiscard]] std::size_t peer_count() const { return inbound_.size(); }
    [[nodiscard]] const std::string& last_error(std::size_t peer) const { return senders_.last_error(peer); }
    // Another sending side, for another thread.
    [[nodiscard]] PacketSenders more_senders() const { return PacketSenders(*region_, plan_); }

private:
    PacketLinks(const Region& region, NetPlan plan, std::vector<ipc::Port> inbound)
        : region_(&region), plan_(std::move(plan)), inbound_(std::move(inbound)), senders_(region, plan_) {}

    const Region* region_;
    NetPlan plan_;
    std::vector<ipc::Port> inbound_;
    PacketSenders senders_;
};

}  // namespace nk::netbridge
