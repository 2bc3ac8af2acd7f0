// The nk netif: an lwIP netif driver in lwIP's own shape (nkif_init, low_level_output, input
// through netif->input), on the netbridge's packet ports, and the LwipStack around it.
//
// Threads and locks. lwIP's core runs under its core lock (LWIP_TCPIP_CORE_LOCKING=1 in Debian's
// build): in the tcpip thread, or in a sockets-API caller holding the lock. So low_level_output
// runs with the core lock held, one caller at a time: it is the one sender of PacketLinks and the
// one writer of the tx counters. The receive pump is its own thread and the one writer of the rx
// counters: it takes the core lock once per batch and calls netif->input = ip_input under it, which
// is what tcpip_input does with LWIP_TCPIP_CORE_LOCKING_INPUT (Debian's build posts each packet to
// the tcpip thread's mailbox instead: one wake-up per packet, and drops when the mailbox is full).
// Adding and removing the netif is work handed to the core with tcpip_callback.
#include <time.h>

#include <array>
#include <atomic>
#include <cstring>
#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

extern "C" {
#include <lwip/init.h>
#include <lwip/ip.h>
#include <lwip/ip4_addr.h>
#include <lwip/ip6_addr.h>
#include <lwip/netif.h>
#include <lwip/pbuf.h>
#include <lwip/tcpip.h>
}

#include "nk/nanokernel/detail/futex.hpp"
#include "nk/netbridge/lwip_stack.hpp"
#include "nk/netbridge/net_stats.hpp"
#include "nk/netbridge/packet.hpp"
#include "nk/netbridge/packet_links.hpp"
#include "nk/netbridge/route_table.hpp"

namespace nk::netbridge {

struct LwipStack::State {
    State(NetPlan p, PacketLinks l, NetStats s) : plan(p), routes(std::move(p)), links(std::move(l)), stats(std::move(s)) {}
    NetPlan plan;
    RouteTable routes;
    PacketLinks links;
    NetStats stats;
    struct netif netif {};
    std::vector<std::uint8_t> tx = std::vector<std::uint8_t>(kMaxMessage);  // low_level_output's, under the core lock
    std::atomic<std::uint64_t> received{0}, sent{0}, dropped_in{0}, dropped_out{0};
    std::uint32_t stop_word = 0;  // atomic; process-private futex word, moved to end the pump
    std::thread pump;
};

namespace {

constexpr std::size_t kBatch = 64;                         // packets per port per pass of the pump
constexpr auto kPumpWait = std::chrono::milliseconds(100);  // a bound on each sleep (a lost wake costs this)

using State = LwipStack::State;

// Runs `work` in lwIP's core (tcpip thread) and waits for it.
void run_in_core(const std::function<void()>& work) {
    struct Call {
        const std::function<void()>* work;
        std::promise<void> done;
    } call{&work, {}};
    auto done = call.done.get_future();
    const err_t posted = tcpip_callback(
        [](void* arg) {
            auto* c = static_cast<Call*>(arg);
            (*c->work)();
            c->done.set_value();
        },
        &call);
    if (posted != ERR_OK) {
        // The tcpip mailbox is full or out of memory: take the core lock instead (same guarantee).
        LOCK_TCPIP_CORE();
        work();
        UNLOCK_TCPIP_CORE();
        return;
    }
    done.wait();
}

void ensure_tcpip() {
    static std::once_flag once;
    std::call_once(once, [] {
        std::promise<void> up;
        auto ready = up.get_future();
        tcpip_init([](void* arg) { static_cast<std::promise<void>*>(arg)->set_value(); }, &up);
        ready.wait();
    });
}

// The one place where packets leave lwIP. Core lock held (see the top of the file).
err_t low_level_output(struct netif* netif, struct pbuf* p) {
    auto& s = *static_cast<State*>(netif->state);
    const std::size_t length = p->tot_len;
    if (length + sizeof(VnetHeader) > s.tx.size()) {
        s.dropped_out.fetch_add(1, std::memory_order_relaxed);  // relaxed: a count
        return ERR_BUF;
    }
    // A plain packet: virtio-net header all zero (no offloads), lwIP's checksums are complete.
    std::memset(s.tx.data(), 0, sizeof(VnetHeader));
    if (pbuf_copy_partial(p, s.tx.data() + sizeof(VnetHeader), static_cast<u16_t>(length), 0) != length) {
        s.dropped_out.fetch_add(1, std::memory_order_relaxed);
        return ERR_BUF;
    }
    const std::span<const std::uint8_t> packet(s.tx.data() + sizeof(VnetHeader), length);
    const Route route = s.routes.route(packet);
    if (route.kind == Verdict::Malformed) {
        NetStats::add(s.stats.header().malformed);
        s.dropped_out.fetch_add(1, std::memory_order_relaxed);
        return ERR_VAL;
    }
    if (route.kind != Verdict::Deliver) {
        // No peer owns it (Local cannot be: lwIP loops its own addresses back itself).
        NetStats::add(s.stats.header().no_route);
        s.dropped_out.fetch_add(1, std::memory_order_relaxed);
        return ERR_RTE;
    }
    NetRouteCounters& counters = s.stats.route(route.peer);
    const auto message = std::as_bytes(std::span(s.tx.data(), length + sizeof(VnetHeader)));
    switch (s.links.send(route.peer, message)) {
        case SendResult::Ok:
            NetStats::add(counters.tx_packets);
            NetStats::add(counters.tx_bytes, length);
            s.sent.fetch_add(1, std::memory_order_relaxed);
            return ERR_OK;
        case SendResult::Full:
            // Back-pressure: TCP keeps the segment and sends it again; anything else is lost.
            NetStats::add(counters.drop_full);
            s.dropped_out.fetch_add(1, std::memory_order_relaxed);
            return ERR_MEM;
        case SendResult::PeerDown:
            NetStats::add(counters.drop_peer_down);
            s.dropped_out.fetch_add(1, std::memory_order_relaxed);
            return ERR_RTE;
        case SendResult::TooLarge:
            NetStats::add(counters.drop_too_large);
            s.dropped_out.fetch_add(1, std::memory_order_relaxed);
            return ERR_BUF;
        case SendResult::Error: break;
    }
    NetStats::add(s.stats.header().local_errors);
    s.dropped_out.fetch_add(1, std::memory_order_relaxed);
    return ERR_IF;
}

// netif->output and output_ip6: an IP-level link, so the next hop does not matter here; the
// route table picks the peer from the packet's own destination.
err_t nkif_output(struct netif* netif, struct pbuf* p, const ip4_addr_t* /*next_hop*/) { return low_level_output(netif, p); }
err_t nkif_output_ip6(struct netif* netif, struct pbuf* p, const ip6_addr_t* /*next_hop*/) {
    return low_level_output(netif, p);
}

// lwIP calls it from netif_add (core context).
err_t nkif_init(struct netif* netif) {
    auto& s = *static_cast<State*>(netif->state);
    netif->name[0] = 'n';
    netif->name[1] = 'k';
    netif->mtu = static_cast<u16_t>(s.plan.mtu);
#if LWIP_IPV6 && LWIP_ND6_ALLOW_RA_UPDATES
    netif->mtu6 = netif->mtu;
#endif
    netif->output = nkif_output;
#if LWIP_IPV6
    netif->output_ip6 = nkif_output_ip6;
#endif
    netif->linkoutput = nullptr;  // no link layer
    netif->hwaddr_len = 0;
    netif->flags = 0;             // no ETHARP, no BROADCAST: a point-to-multipoint IP link
    return ERR_OK;
}

// One packet from peer `peer` into lwIP. The pump's thread, core lock held (drain()).
void deliver(State& s, std::size_t peer, std::span<const std::byte> message) {
    NetRouteCounters& counters = s.stats.route(peer);
    VnetHeader header{};
    if (message.size() <= sizeof header) {
        NetStats::add(s.stats.header().malformed);
        s.dropped_in.fetch_add(1, std::memory_order_relaxed);
        return;
    }
    std::memcpy(&header, message.data(), sizeof header);
    const auto packet = message.subspan(sizeof header);
    // The router owes an lwIP guest plain packets; an offloaded one cannot be taken as it is.
    if (header.flags != 0 || header.gso_type != kGsoNone || packet.size() > 0xffff) {
        NetStats::add(s.stats.header().malformed);
        s.dropped_in.fetch_add(1, std::memory_order_relaxed);
        return;
    }
    NetStats::add(counters.rx_packets);
    NetStats::add(counters.rx_bytes, packet.size());
    // PBUF_RAM, one piece: Debian's liblwip sizes its PBUF_POOL elements (616 bytes) below the
    // PBUF_POOL_BUFSIZE its headers give, so a pool chain of an MTU-sized packet would overrun.
    struct pbuf* p = pbuf_alloc(PBUF_RAW, static_cast<u16_t>(packet.size()), PBUF_RAM);
    if (p == nullptr) {
        s.dropped_in.fetch_add(1, std::memory_order_relaxed);
        return;
    }
    (void)pbuf_take(p, packet.data(), static_cast<u16_t>(packet.size()));
    (void)s.netif.input(p, &s.netif);  // ip_input, core lock held: it takes the pbuf whatever it says
    s.received.fetch_add(1, std::memory_order_relaxed);
}

bool stop_asked(State& s) { return std::atomic_ref<std::uint32_t>(s.stop_word).load(std::memory_order_acquire) != 0; }

// Takes up to kBatch messages from each inbound port; whether any came.
bool drain(State& s, std::vector<std::byte>& buffer) {
    bool any = false;
    LOCK_TCPIP_CORE();  // once per batch; what lwIP answers (ACKs) goes out from here
    for (std::size_t peer = 0; peer < s.links.peer_count(); ++peer) {
        for (std::size_t n = 0; n < kBatch; ++n) {
            auto got = s.links.inbound(peer).try_receive(buffer);
            if (!got) {  // a message larger than our buffer cannot be: the port's maximum is kMaxMessage
                NetStats::add(s.stats.header().local_errors);
                break;
            }
            if (!*got) break;
            any = true;
            deliver(s, peer, std::span(buffer.data(), **got));
        }
    }
    UNLOCK_TCPIP_CORE();
    return any;
}

void pump(State& s) {
    std::vector<std::byte> buffer(kMaxMessage);
    std::vector<std::uint32_t> seen(s.links.peer_count());
    std::vector<futex_waitv> words;
    while (!stop_asked(s)) {
        if (drain(s, buffer)) continue;
        // Sleep: the words first, then count ourselves a waiter, then look once more (event.cpp's
        // W1-W3): a message that lands after the look moves its word and, as we are counted,
        // wakes it. seq_cst: the loads must not pass the count or the look.
        for (std::size_t i = 0; i < seen.size(); ++i)
            seen[i] = std::atomic_ref<std::uint32_t>(*s.links.inbound(i).arrival_word()).load(std::memory_order_seq_cst);
        for (std::size_t i = 0; i < seen.size(); ++i) s.links.inbound(i).count_arrival_waiter(true);
        if (!drain(s, buffer) && !stop_asked(s)) {
            words.clear();
            words.push_back(detail::futex_waiter(&s.stop_word, 0, true));
            for (std::size_t i = 0; i < seen.size(); ++i)
                words.push_back(detail::futex_waiter(s.links.inbound(i).arrival_word(), seen[i]));
            timespec deadline{};
            ::clock_gettime(CLOCK_MONOTONIC, &deadline);
            deadline.tv_nsec += std::chrono::nanoseconds(kPumpWait).count();
            deadline.tv_sec += deadline.tv_nsec / 1'000'000'000;
            deadline.tv_nsec %= 1'000'000'000;
            (void)detail::futex_wait_any(words, &deadline);  // woken, changed, timed out or EINTR: look again
        }
        for (std::size_t i = 0; i < seen.size(); ++i) s.links.inbound(i).count_arrival_waiter(false);
    }
}

void copy_ip4(ip4_addr_t& out, const std::uint8_t* bytes) { std::memcpy(&out.addr, bytes, 4); }  // network order both

std::atomic<bool> running{false};

}  // namespace

Result<std::unique_ptr<LwipStack>> LwipStack::start(const Region& region, const NetPlan& plan) {
    if (plan.is_linux)
        return fail(RegionError::InvalidArgument, "lwip: the plan of '" + plan.guest + "' is a linux guest's (it runs nk-netbridge)");
    if (!plan.address.is_v4())
        return fail(RegionError::InvalidArgument, "lwip: the plan of '" + plan.guest + "' has no IPv4 address");
    if (plan.mtu < 576 || plan.mtu > 65535)
        return fail(RegionError::InvalidArgument, "lwip: MTU " + std::to_string(plan.mtu) + " out of range");
    if (running.exchange(true, std::memory_order_acq_rel))
        return fail(RegionError::Busy, "lwip: a stack runs already in this process (lwIP is one per process)");
    auto links = PacketLinks::open(region, plan);
    if (!links) {
        running.store(false, std::memory_order_release);
        return fail(std::move(links.error()));
    }
    auto stats = NetStats::create(region, plan);
    if (!stats) {
        running.store(false, std::memory_order_release);
        return fail(std::move(stats.error()));
    }
    auto state = std::make_unique<State>(plan, std::move(*links), std::move(*stats));
    ensure_tcpip();
    State* s = state.get();
    run_in_core([s] {
        ip4_addr_t address{}, mask{}, gateway{};
        copy_ip4(address, s->plan.address.bytes.data());
        const std::uint32_t bits = s->plan.address.length;
        mask.addr = lwip_htonl(bits == 0 ? 0U : ~0U << (32 - bits));
        ip4_addr_set_zero(&gateway);
        netif_add(&s->netif, &address, &mask, &gateway, s, nkif_init, ip_input);
#if LWIP_IPV6
        if (s->plan.address6) {
            ip6_addr_t address6{};
            std::memcpy(address6.addr, s->plan.address6->bytes.data(), 16);
            ip6_addr_clear_zone(&address6);
            s8_t index = -1;
            if (netif_add_ip6_address(&s->netif, &address6, &index) == ERR_OK && index >= 0)
                // A link of our own: nobody else can have the address (nkd checked), so no DAD.
                netif_ip6_addr_set_state(&s->netif, index, IP6_ADDR_PREFERRED);
        }
#endif
        netif_set_default(&s->netif);
        netif_set_link_up(&s->netif);
        netif_set_up(&s->netif);
    });
    s->pump = std::thread([s] { pump(*s); });
    return std::unique_ptr<LwipStack>(new LwipStack(std::move(state)));
}

LwipStack::LwipStack(std::unique_ptr<State> state) : state_(std::move(state)) {}

LwipStack::~LwipStack() {
    State* s = state_.get();
    // The pump first: once it has ended no new input is queued, and the core handles what is
    // queued (FIFO) before the removal below, so nothing refers to the netif afterwards.
    std::atomic_ref<std::uint32_t>(s->stop_word).store(1, std::memory_order_release);  // pairs with stop_asked()
    detail::futex_wake_private(&s->stop_word, 1);
    s->pump.join();
    run_in_core([s] {
        netif_set_down(&s->netif);
        netif_remove(&s->netif);
    });
    state_.reset();
    running.store(false, std::memory_order_release);
}

const NetPlan& LwipStack::plan() const { return state_->plan; }

LwipStack::Totals LwipStack::totals() const {
    // relaxed: counts for display and tests
    return {state_->received.load(std::memory_order_relaxed), state_->sent.load(std::memory_order_relaxed),
            state_->dropped_in.load(std::memory_order_relaxed), state_->dropped_out.load(std::memory_order_relaxed)};
}

}  // namespace nk::netbridge
