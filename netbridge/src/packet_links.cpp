#include "nk/netbridge/packet_links.hpp"

#include <utility>

#include "nk/netbridge/packet.hpp"

namespace nk::netbridge {
namespace {

// While a peer is down, look its port up again at most this often: a burst of packets to a dead
// guest costs one directory lookup, not one each, and a restarted peer is found within it.
constexpr auto kRetryDown = std::chrono::milliseconds(20);

}  // namespace

Result<PacketLinks> PacketLinks::open(const Region& region, const NetPlan& plan) {
    std::vector<ipc::Port> inbound;
    for (const NetPeer& peer : plan.peers) {
        const std::string name = port_name(plan.guest, peer.guest);
        // A port of ours still here is from a router that ended inside this incarnation (a
        // restarted nk-netbridge): nobody receives on it, so it is made afresh.
        (void)ipc::Port::remove(region, name);
        auto port = ipc::Port::create(region, name,
                                      {.capacity = kPortCapacity, .max_message = kMaxMessage, .where = peer.guest});
        if (!port)
            return fail(Error{port.error().code, "netbridge: cannot make port '" + name + "' for packets from '" +
                                                     peer.guest + "': " + port.error().message});
        inbound.push_back(std::move(*port));
    }
    return PacketLinks(region, plan, std::move(inbound));
}

bool PacketSenders::ensure_sender(std::size_t peer) {
    Outbound& out = outbound_[peer];
    if (out.sender && out.sender->owner_up()) return true;
    const auto now = std::chrono::steady_clock::now();
    if (now < out.next_try) return false;
    out.sender.reset();
    auto sender = ipc::PortSender::open(*region_, out.port);
    if (!sender || !sender->owner_up()) {
        out.last_error = sender ? "peer is down" : sender.error().message;
        out.next_try = now + kRetryDown;
        return false;
    }
    out.sender.emplace(std::move(*sender));
    return true;
}

SendResult PacketSenders::send(std::size_t peer, std::span<const std::byte> message) {
    return send_waking(peer, message, ipc::Wake::Now);
}

SendResult PacketSenders::send_batched(std::size_t peer, std::span<const std::byte> message) {
    return send_waking(peer, message, ipc::Wake::Later);
}

void PacketSenders::wake_all() {
    for (Outbound& out : outbound_) {
        if (!std::exchange(out.unwoken, false) || !out.sender) continue;
        // A damaged port is found (and counted) by the next send to it.
        (void)out.sender->wake();
    }
}

SendResult PacketSenders::send_waking(std::size_t peer, std::span<const std::byte> message, ipc::Wake wake) {
    if (!ensure_sender(peer)) return SendResult::PeerDown;
    switch (outbound_[peer].sender->try_send(message, wake)) {
        case ipc::SendStatus::Ok:
            if (wake == ipc::Wake::Later) outbound_[peer].unwoken = true;
            return SendResult::Ok;
        case ipc::SendStatus::Full: return SendResult::Full;
        case ipc::SendStatus::TooLarge: return SendResult::TooLarge;
        case ipc::SendStatus::OwnerDown:
            outbound_[peer].sender.reset();
            return SendResult::PeerDown;
        case ipc::SendStatus::Stopped: break;
    }
    outbound_[peer].last_error = outbound_[peer].sender->why_stopped().message;
    outbound_[peer].sender.reset();
    outbound_[peer].next_try = std::chrono::steady_clock::now() + kRetryDown;
    return SendResult::Error;
}

}  // namespace nk::netbridge
