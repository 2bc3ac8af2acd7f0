#include "nk/netbridge/router.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>

#include "nk/nanokernel/detail/futex.hpp"

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
    : routes_(std::move(routes)), tun_(std::move(tun)), links_(std::move(links)), stats_(std::move(stats)) {
    for (std::size_t q = 0; q < tun_.queues(); ++q) {
        lanes_.push_back(std::make_unique<Lane>(io, tun_.fd(q), links_.more_senders()));
        lanes_.back()->queue = q;
    }
}

Router::~Router() {
    stop();
    for (auto& lane : lanes_) (void)lane->wait.release();  // the TunDevice owns the descriptors
}

void Router::start() {
    for (auto& lane : lanes_) wait_tun(*lane);
    inbound_thread_ = std::thread([this] { inbound_loop(); });
}

// Call from outside the io_context's threads, or from one of its handlers; then stop the io_context.
void Router::stop() {
    if (stopped_.exchange(true, std::memory_order_relaxed)) return;  // relaxed: the flag is all it carries
    for (auto& lane : lanes_) {
        asio::error_code ignored;
        lane->wait.cancel(ignored);
        lane->retry.cancel();
    }
    // seq_cst: the inbound thread reads the word before it sleeps on it (futex_waitv compares).
    std::atomic_ref<std::uint32_t>(stop_word_).store(1, std::memory_order_seq_cst);
    detail::futex_wake_private(&stop_word_, 1);
    if (inbound_thread_.joinable()) inbound_thread_.join();
}

void Router::wait_tun(Lane& lane) {
    lane.wait.async_wait(asio::posix::stream_descriptor::wait_read, [this, &lane](const asio::error_code& error) {
        if (error || stopped()) return;
        drain_tun(lane);
        if (lane.held == 0) wait_tun(lane);  // else retry_held() resumes reading once it is sent
    });
}

// How long a packet may wait for room before it is dropped after all (a receiver that stopped
// reading must not stall this guest's traffic to every other peer for long).
constexpr auto kHoldLimit = std::chrono::milliseconds(5);
constexpr auto kRetryEvery = std::chrono::microseconds(20);

void Router::retry_held(Lane& lane) {
    lane.retry.expires_after(kRetryEvery);
    lane.retry.async_wait([this, &lane](const asio::error_code& error) {
        if (error || stopped()) return;
        const std::span<const std::byte> message{lane.from_tun->data(), lane.held};
        if (!forward(lane, message)) {
            if (std::chrono::steady_clock::now() - lane.held_since < kHoldLimit) return retry_held(lane);
            const auto route = routes_.route(as_u8(message.subspan(sizeof(VnetHeader))));
            if (route.kind == Verdict::Deliver) NetStats::add(stats_.route(route.peer).drop_full);
        }
        lane.held = 0;
        drain_tun(lane);
        if (lane.held == 0) wait_tun(lane);
    });
}

void Router::drain_tun(Lane& lane) {
    read_tun_batch(lane);
    // One wake-up per peer for the whole batch: woken at its first packet, a peer on the same CPU
    // would take the CPU from this thread once per packet.
    lane.senders.wake_all();
}

void Router::read_tun_batch(Lane& lane) {
    for (std::size_t n = 0; n < kBatch; ++n) {
        auto got = tun_.read(lane.queue, *lane.from_tun);
        if (!got) {
            NetStats::add(stats_.header().local_errors);
            std::fprintf(stderr, "nk-netbridge: %s\n", got.error().message.c_str());
            return;
        }
        if (*got == 0) return;
        if (!forward(lane, {lane.from_tun->data(), *got})) {
            lane.held = *got;
            lane.held_since = std::chrono::steady_clock::now();
            retry_held(lane);
            return;
        }
    }
}

bool Router::forward(Lane& lane, std::span<const std::byte> message) {
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
        deliver_plain(lane, peer, header, packet);
        return true;
    }
    const SendResult result = lane.senders.send_batched(peer, message);
    if (result == SendResult::Full) return false;
    count_send(lane, peer, result, message.size(), packet);
    return true;
}

// An lwIP peer takes only whole, checksummed packets: cut and finish them here.
void Router::deliver_plain(Lane& lane, std::size_t peer, const VnetHeader& header, std::span<const std::uint8_t> packet) {
    const auto made = to_plain_packets(header, packet, [&](std::span<const std::uint8_t> one) {
        lane.plain.assign(sizeof(VnetHeader), 0);
        lane.plain.insert(lane.plain.end(), one.begin(), one.end());
        count_send(lane, peer, lane.senders.send_batched(peer, std::as_bytes(std::span(lane.plain))), lane.plain.size(), one);
    });
    if (!made) NetStats::add(stats_.header().malformed);
    else if (*made > 1) NetStats::add(stats_.route(peer).segmented);
}

void Router::count_send(Lane& lane, std::size_t peer, SendResult result, std::size_t bytes, std::span<const std::uint8_t> packet) {
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
                         lane.senders.last_error(peer).c_str());
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

bool Router::drain_inbound() {
    bool any = false;
    for (std::size_t peer = 0; peer < links_.peer_count(); ++peer) {
        for (std::size_t n = 0; n < kBatch; ++n) {
            auto& port = links_.inbound(peer);
            auto next = port.try_peek();
            if (!next) {
                // A corrupt ring stops its consumer for good (message_ring.hpp): counted once a
                // pass, the other peers go on.
                NetStats::add(stats_.header().local_errors);
                break;
            }
            if (!*next) break;
            inbound(peer, **next);
            if (auto released = port.release(); !released) NetStats::add(stats_.header().local_errors);
            any = true;
        }
    }
    return any;
}

// Sleeps until a port has news or stop() moves the stop word. The order avoids a lost wake-up
// (event.cpp's W1-W3): read each port's word, count ourselves a waiter (senders then wake it),
// look once more, and only then sleep on the words as read.
void Router::sleep_on_inbound() {
    std::vector<futex_waitv> words;
    words.push_back(detail::futex_waiter(&stop_word_, 0, true));
    for (std::size_t peer = 0; peer < links_.peer_count(); ++peer) {
        auto& port = links_.inbound(peer);
        const std::uint32_t seen = std::atomic_ref<std::uint32_t>(*port.arrival_word()).load(std::memory_order_seq_cst);
        port.count_arrival_waiter(true);
        words.push_back(detail::futex_waiter(port.arrival_word(), seen));
    }
    if (!drain_inbound() && std::atomic_ref<std::uint32_t>(stop_word_).load(std::memory_order_seq_cst) == 0)
        (void)detail::futex_wait_any(words, nullptr);
    for (std::size_t peer = 0; peer < links_.peer_count(); ++peer) links_.inbound(peer).count_arrival_waiter(false);
}

void Router::inbound_loop() {
    while (std::atomic_ref<std::uint32_t>(stop_word_).load(std::memory_order_relaxed) == 0)  // relaxed: polled
        if (!drain_inbound()) sleep_on_inbound();
}

bool Router::source_allowed(std::size_t peer, std::span<const std::uint8_t> head, std::size_t packet_size) const {
    const NetPeer& from = routes_.plan().peers[peer];
    if (from.gateway) return true;  // it forwards the outside's packets, from any address
    const auto facts = read_facts(head, packet_size);
    if (!facts) return false;
    for (const IpPrefix& subnet : from.subnets)
        if (subnet.contains(facts->source)) return true;
    return false;
}

// `message` lies in the peer's port, written straight into the TUN from there. Its first bytes (the
// vnet header and the IP header with room for options) are copied first and the copy is what is
// checked and written: the sender can still write the ring, and must not change the source address
// between the check and the write.
void Router::inbound(std::size_t peer, std::span<const std::byte> message) {
    auto& counters = stats_.route(peer);
    if (message.size() <= sizeof(VnetHeader)) {
        NetStats::add(stats_.header().malformed);
        return;
    }
    std::array<std::byte, kCheckedHead> head_copy;
    const std::size_t head_size = std::min(message.size(), head_copy.size());
    std::memcpy(head_copy.data(), message.data(), head_size);
    const std::span<const std::byte> head{head_copy.data(), head_size};
    const std::size_t packet_size = message.size() - sizeof(VnetHeader);
    // A peer may send only from its own addresses: a guest gone wild cannot speak for another.
    if (!source_allowed(peer, as_u8(head.subspan(sizeof(VnetHeader))), packet_size)) {
        NetStats::add(stats_.header().malformed);
        return;
    }
    if (auto written = tun_.write(head, message.subspan(head_size)); !written) {
        // The kernel refuses a header it does not accept (EINVAL): counted, not fatal.
        NetStats::add(stats_.header().malformed);
        return;
    }
    NetStats::add(counters.rx_packets);
    NetStats::add(counters.rx_bytes, packet_size);
}

}  // namespace nk::netbridge
