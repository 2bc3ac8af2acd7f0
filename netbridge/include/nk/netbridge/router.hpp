// nk::netbridge::Router: the Asio shell around the routing core in a linux guest. Packets the
// guest's TUN gives it go, by destination, to the owning guest's packet port; packets from its
// inbound ports go into the TUN. A destination nobody owns, or whose guest is down, gets an
// ICMP unreachable back at once.
//
//   asio::io_context io;
//   Router router(io, region, plan, std::move(*tun), std::move(*links), std::move(*stats));
//   router.start();
//   io.run();
//
// The TUN side runs on the io_context: Asio waits for each TUN queue to be readable, the router
// reads a batch and routes it (one lane per queue: with a multi-queue TUN and the io_context run
// on one thread per queue, flows hashed to different queues are routed in parallel). The inbound side has one thread of its own that drains every
// inbound port and, when they are empty, sleeps in one futex_waitv(2) on all of them, writing each packet straight into the TUN. (A PortWaiter would post each arrival to the
// io_context: two thread hand-offs per packet, which tripled the TCP round trip in the net
// benchmark; the TUN accepts writes from one thread while another reads.) Each wake-up handles
// at most kBatch packets per port, so no peer starves another. (It does not spin before it
// sleeps: measured with sockperf, a 30 µs spin gained nothing on a 2-CPU machine, where the
// spinner takes the CPU the peer's reply needs.)
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <memory>
#include <vector>

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/posix/stream_descriptor.hpp>

#include <atomic>
#include <thread>

#include "nk/ipc/port.hpp"
#include "nk/netbridge/icmp_error.hpp"
#include "nk/netbridge/net_stats.hpp"
#include "nk/netbridge/packet_links.hpp"
#include "nk/netbridge/route_table.hpp"
#include "nk/netbridge/tun_device.hpp"

namespace nk::netbridge {

class Router {
public:
    static constexpr std::size_t kBatch = 64;
    // Bytes of an inbound message copied out of the port before its check: the vnet header and the
    // longest IPv4 header (60) or the IPv6 one.
    static constexpr std::size_t kCheckedHead = 128;

    // One lane per TUN queue; run the io_context on as many threads as there are queues.
    Router(asio::io_context& io, RouteTable routes, TunDevice tun, PacketLinks links, NetStats stats);
    Router(const Router&) = delete;
    Router& operator=(const Router&) = delete;
    ~Router();

    void start();
    void stop();

private:
    using Buffer = std::array<std::byte, kMaxMessage>;

    // One TUN queue and everything its thread touches: Asio runs one handler of a lane at a time.
    struct Lane {
        Lane(asio::io_context& io, int fd, PacketSenders out)
            : wait(io, fd), retry(io), senders(std::move(out)), from_tun(std::make_unique<Buffer>()) {}
        std::size_t queue = 0;
        asio::posix::stream_descriptor wait;
        asio::steady_timer retry;
        PacketSenders senders;
        std::unique_ptr<Buffer> from_tun;
        std::vector<std::uint8_t> plain;  // one segmented packet with its header, for an lwIP peer
        std::size_t held = 0;             // bytes of from_tun waiting for room in a full port
        std::chrono::steady_clock::time_point held_since{};
    };

    void wait_tun(Lane& lane);
    void drain_tun(Lane& lane);
    void read_tun_batch(Lane& lane);
    // False when the peer's port is full: the message stays in lane.from_tun and the queue is not
    // read again until it is sent (back-pressure the guest's TCP feels, instead of a drop it must
    // repair).
    bool forward(Lane& lane, std::span<const std::byte> message);
    void retry_held(Lane& lane);
    void deliver_plain(Lane& lane, std::size_t peer, const VnetHeader& header, std::span<const std::uint8_t> packet);
    void count_send(Lane& lane, std::size_t peer, SendResult result, std::size_t bytes, std::span<const std::uint8_t> packet);
    void answer_unreachable(std::span<const std::uint8_t> packet, Unreachable why);
    void inbound_loop();
    [[nodiscard]] bool drain_inbound();
    void sleep_on_inbound();
    void inbound(std::size_t peer, std::span<const std::byte> message);
    [[nodiscard]] bool source_allowed(std::size_t peer, std::span<const std::uint8_t> head, std::size_t packet_size) const;
    [[nodiscard]] bool stopped() const { return stopped_.load(std::memory_order_relaxed); }  // relaxed: a flag polled

    RouteTable routes_;
    TunDevice tun_;
    PacketLinks links_;
    NetStats stats_;
    std::vector<std::unique_ptr<Lane>> lanes_;
    std::atomic<bool> stopped_{false};
    std::uint32_t stop_word_ = 0;  // atomic; moved (and woken) by stop(): the inbound thread's way out
    std::thread inbound_thread_;
};

}  // namespace nk::netbridge
