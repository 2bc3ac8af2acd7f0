#include "nk_transports.hpp"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>

#include "nk/ipc/event.hpp"
#include "nk/ipc/spsc_ring.hpp"
#include "nk/nanokernel/platform_config.hpp"
#include "nk/nanokernel/region.hpp"

using nk::ipc::SpscRing;
using nk::ipc::SpscProducer;
using nk::ipc::SpscConsumer;

namespace nk::bench {
namespace {

// The region the benchmark's rings live in: created like nkd creates one (locked, prefaulted).
std::string platform_toml() {
    static std::atomic<int> counter{0};
    return "[platform]\nname = \"bench-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) +
           "\"\n[areas]\nlink_size = \"64 KiB\"\ncommon_size = \"2 MiB\"\npnv_size = \"64 KiB\"\n"
           "[[guests]]\nid = 1\nname = \"a\"\nkind = \"linux\"\nmemory = \"64 KiB\"\ncpus = [0]\n"
           "[[access]]\nobjects = \"*\"\nguests = [\"*\"]\nrights = \"rw\"\n";
}

}  // namespace

Region make_bench_region() {
    auto config = parse_platform_config(platform_toml(), "bench.toml");
    if (!config) throw std::runtime_error(config.error().message);
    auto region = Region::create(*config);
    if (!region) throw std::runtime_error(region.error().message);
    return std::move(*region);
}

namespace {

template <class T>
T check(Result<T> r) {
    if (!r) throw std::runtime_error(r.error().message);
    return std::move(*r);
}

// Both directions' rings and all four handles are made before fork; each process then uses only
// its own side's handles, whose indices are process-local.
class NkSpscPingPong final : public PingPong {
public:
    NkSpscPingPong()
        : region_(make_bench_region()),
          to_server_(check(SpscRing::create(region_, "to-server", 8, 1024))),
          to_client_(check(SpscRing::create(region_, "to-client", 8, 1024))),
          client_out_(check(to_server_.producer())),
          server_in_(check(to_server_.consumer())),
          server_out_(check(to_client_.producer())),
          client_in_(check(to_client_.consumer())) {}
    std::string name() const override { return "nk-spsc"; }
    void send(Side from, std::uint64_t value) override {
        auto& out = from == Side::Client ? client_out_ : server_out_;
        const auto bytes = std::as_bytes(std::span(&value, 1));
        while (!out.try_push(bytes)) {
        }
    }
    void wait(Side at, std::uint64_t value) override {
        auto& in = at == Side::Client ? client_in_ : server_in_;
        std::uint64_t got = 0;
        while (!in.try_pop(std::as_writable_bytes(std::span(&got, 1)))) {
        }
        if (got != value) throw std::runtime_error("nk-spsc out of order");
    }

private:
    Region region_;
    SpscRing to_server_, to_client_;
    SpscProducer client_out_;
    SpscConsumer server_in_;
    SpscProducer server_out_;
    SpscConsumer client_in_;
};

// Size fixed at compile time, as boost's queue is (throughput_peers.cpp): the ring's inline
// push and pop then copy a constant number of bytes, which is how an application that knows its
// item type uses it.
template <std::size_t Size>
class NkSpscQueue final : public ItemQueue {
public:
    NkSpscQueue()
        : region_(make_bench_region()),
          ring_(check(SpscRing::create(region_, "items", static_cast<std::uint32_t>(Size), 4096))),
          producer_(check(ring_.producer())),
          consumer_(check(ring_.consumer())) {}
    std::string name() const override { return "nk-spsc"; }
    bool try_push(const void* item) override {
        return producer_.try_push(std::span<const std::byte, Size>(static_cast<const std::byte*>(item), Size));
    }
    bool try_pop(void* item) override {
        return consumer_.try_pop(std::span<std::byte, Size>(static_cast<std::byte*>(item), Size));
    }

private:
    Region region_;
    SpscRing ring_;
    SpscProducer producer_;
    SpscConsumer consumer_;
};

}  // namespace

std::unique_ptr<PingPong> make_nk_spsc_pingpong() { return std::make_unique<NkSpscPingPong>(); }
std::unique_ptr<ItemQueue> make_nk_spsc_queue(std::size_t item_size) {
    if (item_size == 8) return std::make_unique<NkSpscQueue<8>>();
    if (item_size == 64) return std::make_unique<NkSpscQueue<64>>();
    throw std::invalid_argument("nk spsc queue item size");
}

}  // namespace nk::bench

namespace nk::bench {
namespace {

// Ping-pong through two nk event variables: what a wake-up through ipc::Event costs. With a spin
// time of 0 every wait sleeps on the futex (the fair comparison with a raw futex); with the
// default spin a busy peer is caught spinning.
class NkEventPingPong final : public PingPong {
public:
    explicit NkEventPingPong(std::chrono::nanoseconds spin)
        : spin_(spin),
          region_(make_bench_region()),
          to_server_(check(ipc::Event::create(region_, "to-server", ipc::EventMode::AutoReset, {}, spin))),
          to_client_(check(ipc::Event::create(region_, "to-client", ipc::EventMode::AutoReset, {}, spin))) {}
    std::string name() const override { return spin_.count() == 0 ? "nk-event-nospin" : "nk-event"; }
    void send(Side from, std::uint64_t) override {
        if (!(from == Side::Client ? to_server_ : to_client_).signal()) throw std::runtime_error("event signal failed");
    }
    void wait(Side at, std::uint64_t) override {
        if (!(at == Side::Server ? to_server_ : to_client_).wait()) throw std::runtime_error("event wait failed");
    }

private:
    std::chrono::nanoseconds spin_;
    Region region_;
    ipc::Event to_server_, to_client_;
};

}  // namespace

std::unique_ptr<PingPong> make_nk_event_pingpong(std::chrono::nanoseconds spin) {
    return std::make_unique<NkEventPingPong>(spin);
}

}  // namespace nk::bench
