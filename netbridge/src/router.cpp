#include "nk/netbridge/router.hpp"

#include <cstdio>
#include <cstring>

#include <asio/post.hpp>

#include "nk/netbridge/gso.hpp"
#include "nk/netbridge/icmp_error.hpp"

namespace nk::netbridge {
namespace {

std::span<const std::uint8_t> as_u8(std::span<const std::byte> bytes) {
    return {reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()};
}

VnetHeader header_of(std::span<const std::byte> message) {
    VnetHeader header{};
    std::memcpy(&header, message.data(), sizeof header);
    return header;
}

}  // namespace

Router::Router(asio::io_context& io, RouteTable routes, TunDevice tun, PacketLinks links, NetStats stats)
    : io_(io), routes_(std::move(routes)), tun_(std::move(tun)), links_(std::move(links)), stats_(std::move(stats)),
      tun_wait_(io, tun_.fd()), waiter_(io), from_tun_(std::make_unique<Buffer>()), retry_(io) {
    for (std::size_t i = 0; i < links_.peer_count(); ++i) from_peer_.push_back(std::make_unique<Buffer>());
}

Router::~Router() {
    stop();
    (void)tun_wait_.release();  // the TunDevice owns the descriptor
}

void Router::start() {
    wait_tun();
    for (std::size_t peer = 0; peer < links_.peer_count(); ++peer) receive_from(peer);
}

void Router::stop() {
    if (stopped_) return;
    stopped_ = true;
    asio::error_code ignored;
    tun_wait_.cancel(ignored);
    retry_.cancel();
    waiter_.cancel_all();
}

void Router::wait_tun() {
    tun_wait_.async_wait(asio::posix::stream_descriptor::wait_read, [this](const asio::error_code& error) {
        if (error || stopped_) return;
        drain_tun();
        if (held_ == 0) wait_tun();  // else retry_held() resumes reading once it is sent
    });
}

// How long a packet may wait for room before it is dropped after all (a receiver that stopped
// reading must not stall this guest's traffic to every other peer for long).
constexpr auto kHoldLimit = std::chrono::milliseconds(5);
constexpr auto kRetryEvery = std::chrono::microseconds(20);

void Router::retry_held() {
    retry_.expires_after(kRetryEvery);
    retry_.async_wait([this](const asio::error_code& error) {
        if (error || stopped_) return;
        if (!forward({from_tun_->data(), held_})) {
            if (std::chrono::steady_clock::now() - held_since_ < kHoldLimit) return retry_held();
            const auto route = routes_.route(std::span(reinterpret_cast<const std::uint8_t*>(from_tun_->data()) + sizeof(VnetHeader),
                                                       held_ - sizeof(VnetHeader)));
            if (route.kind == Verdict::Deliver) NetStats::add(stats_.route(route.peer).drop_full);
        }
        held_ = 0;
        drain_tun();
        if (held_ == 0) wait_tun();
    });
}

void Router::drain_tun() {
    for (std::size_t n = 0; n < kBatch; ++n) {
        auto got = tun_.read(*from_tun_);
        if (!got) {
            NetStats::add(stats_.header().local_errors);
            std::fprintf(stderr, "nk-netbridge: %s\n", got.error().message.c_str());
            return;
        }
        if (*got == 0) return;
        if (!forward({from_tun_->data(), *got})) {
            held_ = *got;
            held_since_ = std::chrono::steady_clock::now();
            retry_held();
            return;
        }
    }
}

bool Router::forward(std::span<const std::byte> message) {
    if (message.size() <= sizeof(VnetHeader)) {
        NetStats::add(stats_.header().malformed);
        return true;
    }
    const auto packet = as_u8(message.subspan(sizeof(VnetHeader)));
    const Route route = routes_.route(packet);
    switch (route.kind) {
        case Verdict::Malformed: NetStats::add(stats_.header().malformed); return true;
        case Verdict::Local: return true;  // the kernel delivers its own; nothing to carry
        case Verdict::NoRoute:
            NetStats::add(stats_.header().no_route);
            answer_unreachable(packet, Unreachable::Network);
            return true;
        case Verdict::Deliver: break;
    }
    const std::size_t peer = route.peer;
    const VnetHeader header = header_of(message);
    if (!routes_.plan().peers[peer].is_linux && (header.gso_type != kGsoNone || (header.flags & kVnetNeedsCsum))) {
        deliver_plain(peer, header, packet);
        return true;
    }
    const SendResult result = links_.send(peer, message);
    if (result == SendResult::Full) return false;
    count_send(peer, result, message.size(), packet);
    return true;
}

// An lwIP peer takes only whole, checksummed packets: cut and finish them here.
void Router::deliver_plain(std::size_t peer, const VnetHeader& header, std::span<const std::uint8_t> packet) {
    auto& counters = stats_.route(peer);
    const auto made = to_plain_packets(header, packet, [&](std::span<const std::uint8_t> one) {
        plain_.assign(sizeof(VnetHeader), 0);
        plain_.insert(plain_.end(), one.begin(), one.end());
        count_send(peer, links_.send(peer, std::as_bytes(std::span(plain_))), plain_.size(), one);
    });
    if (!made) NetStats::add(stats_.header().malformed);
    else if (*made > 1) NetStats::add(counters.segmented);
}

void Router::count_send(std::size_t peer, SendResult result, std::size_t bytes, std::span<const std::uint8_t> packet) {
    auto& counters = stats_.route(peer);
    switch (result) {
        case SendResult::Ok:
            NetStats::add(counters.tx_packets);
            NetStats::add(counters.tx_bytes, bytes - sizeof(VnetHeader));
            return;
        case SendResult::PeerDown:
            NetStats::add(counters.drop_peer_down);
            answer_unreachable(packet, Unreachable::Host);
            return;
        case SendResult::Full: NetStats::add(counters.drop_full); return;
        case SendResult::TooLarge: NetStats::add(counters.drop_too_large); return;
        case SendResult::Error:
            NetStats::add(stats_.header().local_errors);
            std::fprintf(stderr, "nk-netbridge: to '%s': %s\n", routes_.plan().peers[peer].guest.c_str(),
                         links_.last_error(peer).c_str());
            return;
    }
}

void Router::answer_unreachable(std::span<const std::uint8_t> packet, Unreachable why) {
    auto reply = unreachable_for(packet, why);
    if (!reply) return;
    std::vector<std::byte> message(sizeof(VnetHeader) + reply->size());  // header all zero: a plain packet
    std::memcpy(message.data() + sizeof(VnetHeader), reply->data(), reply->size());
    if (auto written = tun_.write(message); !written) {
        NetStats::add(stats_.header().local_errors);
        return;
    }
    NetStats::add(stats_.header().icmp_sent);
}

void Router::receive_from(std::size_t peer) {
    if (stopped_) return;
    waiter_.async_receive(links_.inbound(peer), *from_peer_[peer], [this, peer](Result<std::size_t> got) {
        if (stopped_) return;
        if (!got) {
            NetStats::add(stats_.header().local_errors);
            std::fprintf(stderr, "nk-netbridge: from '%s': %s\n", routes_.plan().peers[peer].guest.c_str(),
                         got.error().message.c_str());
            // A corrupt port stays corrupt; a wait that was merely refused is tried again later.
            if (got.error().code == make_error_code(RegionError::Corrupt)) return;
        } else {
            inbound(peer, *got);
            // More are often waiting: take up to a batch now, then sleep again.
            for (std::size_t n = 1; n < kBatch; ++n) {
                auto next = links_.inbound(peer).try_receive(*from_peer_[peer]);
                if (!next || !*next) break;
                inbound(peer, **next);
            }
        }
        asio::post(io_, [this, peer] { receive_from(peer); });
    });
}

bool Router::source_allowed(std::size_t peer, std::span<const std::uint8_t> packet) const {
    const NetPeer& from = routes_.plan().peers[peer];
    if (from.gateway) return true;  // it forwards the outside's packets, from any address
    const auto facts = read_facts(packet);
    if (!facts) return false;
    for (const IpPrefix& subnet : from.subnets)
        if (subnet.contains(facts->source)) return true;
    return false;
}

void Router::inbound(std::size_t peer, std::size_t length) {
    const std::span<const std::byte> message{from_peer_[peer]->data(), length};
    auto& counters = stats_.route(peer);
    // A peer may send only from its own addresses: a guest gone wild cannot speak for another.
    if (length <= sizeof(VnetHeader) || !source_allowed(peer, as_u8(message.subspan(sizeof(VnetHeader))))) {
        NetStats::add(stats_.header().malformed);
        return;
    }
    if (auto written = tun_.write(message); !written) {
        // The kernel refuses a header it does not accept (EINVAL): counted, not fatal.
        NetStats::add(stats_.header().malformed);
        return;
    }
    NetStats::add(counters.rx_packets);
    NetStats::add(counters.rx_bytes, length - sizeof(VnetHeader));
}

}  // namespace nk::netbridge
