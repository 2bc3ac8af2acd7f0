#include "message_ring_peers.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <boost/lockfree/spsc_queue.hpp>
#include <cerrno>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>

#include "nk/ipc/message_ring.hpp"
#include "nk/nanokernel/platform_config.hpp"
#include "nk/nanokernel/region.hpp"

namespace nk::bench {
namespace {

constexpr std::size_t kMaxRecord = 2048;

class RecordQueue {
public:
    virtual ~RecordQueue() = default;
    [[nodiscard]] virtual bool try_send(const std::byte* record, std::size_t size) = 0;
    // Bytes received into `out`, 0 when there is nothing.
    [[nodiscard]] virtual std::size_t try_receive(std::byte* out) = 0;
};

template <class T>
T check(Result<T> r) {
    if (!r) throw std::runtime_error(r.error().message);
    return std::move(*r);
}

// A 256 KiB ring in a real region, created like nkd creates one (locked, prefaulted). Both
// handles are made before fork; the producer's process identity follows it into the child.
class NkMessageRing final : public RecordQueue {
public:
    NkMessageRing()
        : region_(make_region()),
          ring_(check(ipc::MessageRing::create(*region_, "records", 256 * 1024, kMaxRecord))),
          tx_(check(ring_->producer())),
          rx_(check(ring_->consumer())) {}
    bool try_send(const std::byte* record, std::size_t size) override {
        auto slot = tx_->reserve(size);
        if (!slot) {
            if (slot.status != ipc::WriteStatus::Full) throw std::runtime_error("nk-msgring: reserve failed");
            return false;
        }
        std::memcpy(slot.data.data(), record, size);
        return tx_->commit();
    }
    std::size_t try_receive(std::byte* out) override {
        auto record = rx_->peek();
        if (!record) return 0;
        std::memcpy(out, record->data(), record->size());
        const std::size_t size = record->size();
        rx_->release();
        return size;
    }

private:
    static Region make_region() {
        static std::atomic<int> counter{0};
        const std::string toml = "[platform]\nname = \"bench-msgring-" + std::to_string(::getpid()) + "-" +
                                 std::to_string(counter++) +
                                 "\"\n[areas]\nlink_size = \"64 KiB\"\ncommon_size = \"2 MiB\"\npnv_size = \"64 KiB\"\n"
                                 "[[guests]]\nid = 1\nname = \"a\"\nkind = \"linux\"\nmemory = \"64 KiB\"\n"
                                 "cpus = [0]\n[[access]]\nobjects = \"*\"\nguests = [\"*\"]\nrights = \"rw\"\n";
        auto config = check(parse_platform_config(toml, "bench.toml"));
        return check(Region::create(config));
    }
    std::optional<Region> region_;
    std::optional<ipc::MessageRing> ring_;
    std::optional<ipc::MessageRingProducer> tx_;
    std::optional<ipc::MessageRingConsumer> rx_;
};

// boost's SPSC queue of fixed 64-byte items in shared memory (4096 slots, as in the SPSC bench).
class BoostFixed64 final : public RecordQueue {
    using Item = std::array<std::byte, 64>;
    using Ring = boost::lockfree::spsc_queue<Item, boost::lockfree::capacity<4096>>;

public:
    BoostFixed64() : ring_(shared_new<Ring>()) {}
    ~BoostFixed64() override { shared_delete(ring_); }
    bool try_send(const std::byte* record, std::size_t size) override {
        Item item;
        std::memcpy(item.data(), record, size);
        return ring_->push(item);
    }
    std::size_t try_receive(std::byte* out) override {
        Item item;
        if (!ring_->pop(item)) return 0;
        std::memcpy(out, item.data(), item.size());
        return item.size();
    }

private:
    Ring* ring_;
};

// A non-blocking Unix datagram socket pair: one datagram per record.
class UnixDatagram final : public RecordQueue {
public:
    UnixDatagram() {
        if (::socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds_) != 0)
            throw std::runtime_error("socketpair");
    }
    ~UnixDatagram() override {
        ::close(fds_[0]);
        ::close(fds_[1]);
    }
    bool try_send(const std::byte* record, std::size_t size) override {
        const ssize_t sent = ::send(fds_[0], record, size, 0);
        if (sent == static_cast<ssize_t>(size)) return true;
        if (sent < 0 && (errno == EAGAIN || errno == ENOBUFS || errno == EINTR)) return false;
        throw std::runtime_error("unix-dgram: send");
    }
    std::size_t try_receive(std::byte* out) override {
        const ssize_t got = ::recv(fds_[1], out, kMaxRecord, 0);
        if (got > 0) return static_cast<std::size_t>(got);
        if (got < 0 && (errno == EAGAIN || errno == EINTR)) return 0;
        throw std::runtime_error("unix-dgram: recv");
    }

private:
    int fds_[2] = {-1, -1};
};

// Millions of records per second, producer process -> this process; each record carries its
// sequence number, checked on arrival.
double throughput(RecordQueue& queue, std::size_t size, std::uint64_t count) {
    auto* go = shared_new<std::atomic<int>>();
    const pid_t producer = fork_pinned(1, [&] {
        std::array<std::byte, kMaxRecord> record{};
        go->store(1, std::memory_order_release);
        for (std::uint64_t i = 0; i < count; ++i) {
            std::memcpy(record.data(), &i, sizeof i);
            while (!queue.try_send(record.data(), size)) {
            }
        }
    });
    pin_to_cpu(0);
    while (go->load(std::memory_order_acquire) == 0) {
    }
    std::array<std::byte, kMaxRecord> record{};
    const auto start = now_ns();
    for (std::uint64_t i = 0; i < count; ++i) {
        std::size_t got = 0;
        while ((got = queue.try_receive(record.data())) == 0) {
        }
        std::uint64_t seq = 0;
        std::memcpy(&seq, record.data(), sizeof seq);
        if (seq != i || got != size) throw std::runtime_error("record out of order or resized");
    }
    const auto elapsed = static_cast<double>(now_ns() - start);
    int status = 0;
    ::waitpid(producer, &status, 0);
    shared_delete(go);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) throw std::runtime_error("bench child failed");
    return static_cast<double>(count) / elapsed * 1e3;  // records per ns * 1e3 = M records/s
}

}  // namespace

void MessageRingBench::run_round() {
    for (std::size_t size : {std::size_t{64}, std::size_t{1500}}) {
        const std::string s = "/" + std::to_string(size);
        {
            NkMessageRing ring;
            rates_["nk-msgring" + s].push_back(throughput(ring, size, size == 64 ? 1'000'000 : 400'000));
        }
        if (size == 64) {
            BoostFixed64 boost;
            rates_["boost-spsc-64B" + s].push_back(throughput(boost, size, 1'000'000));
        }
        UnixDatagram socket;
        rates_["unix-dgram" + s].push_back(throughput(socket, size, 200'000));
    }
}

void MessageRingBench::append_records(std::vector<Record>& records) const {
    auto ratio = [&](const std::string& a, const std::string& b) {
        const auto& x = rates_.at(a);
        const auto& y = rates_.at(b);
        std::vector<double> r;
        for (std::size_t i = 0; i < x.size() && i < y.size(); ++i) r.push_back(x[i] / y[i]);
        return median(r);
    };
    auto add = [&](std::size_t size, const std::string& peer, const std::string& goal) {
        const std::string s = "/" + std::to_string(size);
        records.push_back(make_record("msgring_throughput_" + std::to_string(size) + "B", "Mrec/s",
                                      median(rates_.at("nk-msgring" + s)), peer, median(rates_.at(peer + s)),
                                      ratio("nk-msgring" + s, peer + s), goal));
    };
    // A variable-length MPSC ring pays a CAS and a 32-byte header per record that a fixed-size
    // SPSC queue does not: the goal is to stay within a factor of two of it.
    add(64, "boost-spsc-64B", ">= 0.5");
    add(64, "unix-dgram", ">= 1.0");
    add(1500, "unix-dgram", ">= 1.0");
}

}  // namespace nk::bench
