#include "queue_peers.hpp"

#include <sched.h>
#include <sys/wait.h>

#include <array>
#include <atomic>
#include <boost/lockfree/queue.hpp>
#include <cstring>
#include <memory>
#include <readerwriterqueue/readerwriterqueue.h>
#include <span>
#include <stdexcept>
#include <thread>

#include "nk/ipc/mpmc_queue.hpp"
#include "nk/ipc/spsc_ring.hpp"
#include "nk_transports.hpp"

namespace nk::bench {
namespace {

constexpr std::uint64_t kMpmcItems = 1'000'000;  // per run, across all producers
constexpr std::uint64_t kSpscItems = 2'000'000;
constexpr std::uint32_t kMpmcCapacity = 1024;

template <class T>
T check(Result<T> r) {
    if (!r) throw std::runtime_error(r.error().message);
    return std::move(*r);
}

// ---- MPMC between processes -----------------------------------------------------------------

class MpmcUnderTest {
public:
    virtual ~MpmcUnderTest() = default;
    [[nodiscard]] virtual bool push(std::uint64_t item) = 0;
    [[nodiscard]] virtual bool pop(std::uint64_t& item) = 0;
};

class NkMpmc final : public MpmcUnderTest {
public:
    NkMpmc()
        : region_(make_bench_region()), queue_(check(ipc::MpmcQueue::create(region_, "items", 8, kMpmcCapacity))) {}
    bool push(std::uint64_t item) override { return queue_.try_push(std::as_bytes(std::span(&item, 1))); }
    bool pop(std::uint64_t& item) override { return queue_.try_pop(std::as_writable_bytes(std::span(&item, 1))); }

private:
    Region region_;
    ipc::MpmcQueue queue_;
};

class BoostMpmc final : public MpmcUnderTest {
    // capacity<> makes the node pool an array inside the queue object, linked by 16-bit indices,
    // so the whole queue lives in the shared mapping and no pointer leaves it.
    using Queue = boost::lockfree::queue<std::uint64_t, boost::lockfree::fixed_sized<true>,
                                         boost::lockfree::capacity<kMpmcCapacity>>;

public:
    BoostMpmc() : queue_(shared_new<Queue>()) {
        if (!queue_->is_lock_free()) throw std::runtime_error("boost::lockfree::queue is not lock-free here");
    }
    ~BoostMpmc() override { shared_delete(queue_); }
    bool push(std::uint64_t item) override { return queue_->bounded_push(item); }
    bool pop(std::uint64_t& item) override { return queue_->pop(item); }

private:
    Queue* queue_;
};

struct MpmcShared {
    std::atomic<int> ready{0};
    std::atomic<int> go{0};
    std::atomic<std::uint64_t> start_ns{0};
    std::atomic<std::uint64_t> end_ns{0};  // the latest consumer's finish
};

void reap_ok(pid_t pid) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) throw std::runtime_error("bench child failed");
}

// M items/s: `n` producer processes push kMpmcItems between them, `n` consumer processes pop an
// equal share each and check that each producer's items come in order.
double mpmc_throughput(MpmcUnderTest& queue, int n) {
    auto* shared = shared_new<MpmcShared>();
    const std::uint64_t per = kMpmcItems / static_cast<std::uint64_t>(n);
    auto wait_go = [&] {
        shared->ready.fetch_add(1, std::memory_order_acq_rel);
        while (shared->go.load(std::memory_order_acquire) == 0) ::sched_yield();
    };
    std::vector<pid_t> children;
    for (int p = 0; p < n; ++p) {
        children.push_back(fork_pinned(p, [&, p] {
            wait_go();
            for (std::uint64_t i = 0; i < per; ++i) {
                while (!queue.push(std::uint64_t{static_cast<unsigned>(p)} << 56 | i)) ::sched_yield();
            }
        }));
    }
    for (int c = 0; c < n; ++c) {
        children.push_back(fork_pinned(c + 1, [&] {
            std::array<std::uint64_t, 4> next{};
            wait_go();
            std::uint64_t item = 0;
            for (std::uint64_t i = 0; i < per; ++i) {
                while (!queue.pop(item)) ::sched_yield();
                const std::size_t producer = item >> 56;
                const std::uint64_t seq = item & ((std::uint64_t{1} << 56) - 1);
                if (producer >= next.size() || seq < next[producer]) throw std::runtime_error("mpmc item out of order");
                next[producer] = seq + 1;
            }
            const std::uint64_t done = now_ns();
            std::uint64_t seen = shared->end_ns.load(std::memory_order_relaxed);
            while (done > seen && !shared->end_ns.compare_exchange_weak(seen, done, std::memory_order_relaxed)) {
            }
        }));
    }
    while (shared->ready.load(std::memory_order_acquire) < 2 * n) ::sched_yield();
    const std::uint64_t start = now_ns();
    shared->go.store(1, std::memory_order_release);
    for (pid_t child : children) reap_ok(child);
    const double elapsed = static_cast<double>(shared->end_ns.load() - start);
    shared_delete(shared);
    return static_cast<double>(per * static_cast<std::uint64_t>(n)) / elapsed * 1e3;
}

// ---- SPSC between threads -------------------------------------------------------------------

template <std::size_t Size>
using Item = std::array<std::byte, Size>;

// M items/s: a producer thread on CPU 1 pushes kSpscItems, this thread (CPU 0) pops and checks
// their order.
template <std::size_t Size, class Push, class Pop>
double spsc_throughput(Push push, Pop pop) {
    alignas(64) std::atomic<int> go{0};
    // `push` by value: the producer's copy of the closure lives on its own stack, not on a cache
    // line beside the consumer's locals, which the consumer writes on every item.
    std::thread producer([&go, push]() mutable {
        pin_to_cpu(1);
        go.store(1, std::memory_order_release);
        Item<Size> item{};
        for (std::uint64_t i = 0; i < kSpscItems; ++i) {
            std::memcpy(item.data(), &i, sizeof i);
            while (!push(item)) {
            }
        }
    });
    pin_to_cpu(0);
    while (go.load(std::memory_order_acquire) == 0) {
    }
    const std::uint64_t start = now_ns();
    alignas(64) Item<Size> item{};
    for (std::uint64_t i = 0; i < kSpscItems; ++i) {
        while (!pop(item)) {
        }
        std::uint64_t seq = 0;
        std::memcpy(&seq, item.data(), sizeof seq);
        if (seq != i) throw std::runtime_error("spsc item out of order");
    }
    const double elapsed = static_cast<double>(now_ns() - start);
    producer.join();
    return static_cast<double>(kSpscItems) / elapsed * 1e3;
}

template <std::size_t Size>
double nk_spsc_threads() {
    Region region = make_bench_region();
    auto ring = check(ipc::SpscRing::create(region, "items", Size, 4096));
    auto tx = check(ring.producer());
    auto rx = check(ring.consumer());
    return spsc_throughput<Size>([&](const Item<Size>& item) { return tx.try_push(std::as_bytes(std::span(item))); },
                                 [&](Item<Size>& item) { return rx.try_pop(std::as_writable_bytes(std::span(item))); });
}

template <std::size_t Size>
double moodycamel_spsc_threads() {
    moodycamel::ReaderWriterQueue<Item<Size>> queue(4096);  // try_enqueue never allocates past this
    return spsc_throughput<Size>([&](const Item<Size>& item) { return queue.try_enqueue(item); },
                                 [&](Item<Size>& item) { return queue.try_dequeue(item); });
}

}  // namespace

void QueueBench::run_round() {
    for (int n : {1, 2, 4}) {
        const std::string shape = std::to_string(n) + "p" + std::to_string(n) + "c";
        {
            NkMpmc mine;
            rates_["nk-mpmc/" + shape].push_back(mpmc_throughput(mine, n));
        }
        {
            BoostMpmc theirs;
            rates_["boost-lockfree-queue/" + shape].push_back(mpmc_throughput(theirs, n));
        }
    }
    rates_["nk-spsc/8B"].push_back(nk_spsc_threads<8>());
    rates_["moodycamel-rwq/8B"].push_back(moodycamel_spsc_threads<8>());
    rates_["nk-spsc/64B"].push_back(nk_spsc_threads<64>());
    rates_["moodycamel-rwq/64B"].push_back(moodycamel_spsc_threads<64>());
}

void QueueBench::append_records(std::vector<Record>& records) const {
    auto add = [&](const std::string& metric, const std::string& nk, const std::string& peer_key,
                   const std::string& peer) {
        const auto& a = rates_.at(nk);
        const auto& b = rates_.at(peer_key);
        std::vector<double> ratios;
        for (std::size_t i = 0; i < a.size(); ++i) ratios.push_back(a[i] / b[i]);
        records.push_back(make_record(metric, "Mitems/s", median(a), peer, median(b), median(ratios), ">= 1.0"));
    };
    for (const char* shape : {"1p1c", "2p2c", "4p4c"})
        add(std::string("mpmc_throughput_") + shape, std::string("nk-mpmc/") + shape,
            std::string("boost-lockfree-queue/") + shape, "boost-lockfree-queue");
    for (const char* size : {"8B", "64B"})
        add(std::string("spsc_threads_throughput_") + size, std::string("nk-spsc/") + size,
            std::string("moodycamel-rwq/") + size, "moodycamel-rwq");
}

}  // namespace nk::bench
