#include "pingpong_peers.hpp"

#include <linux/futex.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <boost/lockfree/spsc_queue.hpp>
#include <stdexcept>

#include "bench_util.hpp"

namespace nk::bench {
namespace {

int other(Side side) { return side == Side::Client ? 1 : 0; }
int own(Side side) { return side == Side::Client ? 0 : 1; }

// Two cache lines, one per direction: the least any shared-memory transport can cost.
struct alignas(64) Line {
    std::atomic<std::uint64_t> value{0};
    char pad[64 - sizeof(std::atomic<std::uint64_t>)];
};
struct Lines {
    Line line[2];
};

class RawCacheLine final : public PingPong {
public:
    RawCacheLine() : lines_(shared_new<Lines>()) {}
    ~RawCacheLine() override { shared_delete(lines_); }
    std::string name() const override { return "raw-cache-line"; }
    void send(Side from, std::uint64_t value) override {
        lines_->line[own(from)].value.store(value, std::memory_order_release);  // pairs with wait()
    }
    void wait(Side at, std::uint64_t value) override {
        while (lines_->line[other(at)].value.load(std::memory_order_acquire) != value) {
        }
    }

private:
    Lines* lines_;
};

// Sleeping futex: what a plain "wake the other process" costs.
class Futex final : public PingPong {
public:
    Futex() : lines_(shared_new<Lines>()) {}
    ~Futex() override { shared_delete(lines_); }
    std::string name() const override { return "futex"; }
    void send(Side from, std::uint64_t value) override {
        auto& word = lines_->line[own(from)].value;
        word.store(value, std::memory_order_release);
        syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAKE, 1, nullptr, nullptr, 0);
    }
    void wait(Side at, std::uint64_t value) override {
        auto& word = lines_->line[other(at)].value;
        for (;;) {
            const std::uint64_t seen = word.load(std::memory_order_acquire);
            if (seen == value) return;
            // The low 32 bits are the futex word (little-endian); values stay below 2^32 here.
            syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAIT, static_cast<std::uint32_t>(seen),
                    nullptr, nullptr, 0);
        }
    }

private:
    Lines* lines_;
};

// A process-shared pthread mutex and condition variable per direction: what portable code uses.
class PthreadCond final : public PingPong {
public:
    PthreadCond() : shared_(shared_new<Shared>()) {
        pthread_mutexattr_t mutex_attr;
        pthread_condattr_t cond_attr;
        pthread_mutexattr_init(&mutex_attr);
        pthread_mutexattr_setpshared(&mutex_attr, PTHREAD_PROCESS_SHARED);
        pthread_condattr_init(&cond_attr);
        pthread_condattr_setpshared(&cond_attr, PTHREAD_PROCESS_SHARED);
        for (auto& d : shared_->direction) {
            pthread_mutex_init(&d.mutex, &mutex_attr);
            pthread_cond_init(&d.cond, &cond_attr);
        }
    }
    ~PthreadCond() override { shared_delete(shared_); }
    std::string name() const override { return "pthread-cond"; }
    void send(Side from, std::uint64_t value) override {
        auto& d = shared_->direction[own(from)];
        pthread_mutex_lock(&d.mutex);
        d.value = value;
        pthread_cond_signal(&d.cond);
        pthread_mutex_unlock(&d.mutex);
    }
    void wait(Side at, std::uint64_t value) override {
        auto& d = shared_->direction[other(at)];
        pthread_mutex_lock(&d.mutex);
        while (d.value != value) pthread_cond_wait(&d.cond, &d.mutex);
        pthread_mutex_unlock(&d.mutex);
    }

private:
    struct Direction {
        pthread_mutex_t mutex;
        pthread_cond_t cond;
        std::uint64_t value = ~0ULL;
    };
    struct Shared {
        Direction direction[2];
    };
    Shared* shared_;
};

// Any pair of byte-stream descriptors: [0] carries client->server, [1] server->client.
class FdPair : public PingPong {
public:
    void send(Side from, std::uint64_t value) override {
        const int fd = from == Side::Client ? to_server_write_ : to_client_write_;
        if (::write(fd, &value, sizeof value) != sizeof value) throw std::runtime_error(name() + " write");
    }
    void wait(Side at, std::uint64_t value) override {
        const int fd = at == Side::Server ? to_server_read_ : to_client_read_;
        std::uint64_t got = 0;
        if (::read(fd, &got, sizeof got) != sizeof got) throw std::runtime_error(name() + " read");
        if (!counter_ && got != value) throw std::runtime_error(name() + " out of order");
    }

protected:
    int to_server_read_ = -1, to_server_write_ = -1, to_client_read_ = -1, to_client_write_ = -1;
    bool counter_ = false;  // eventfd delivers a count, not the value
};

class EventFd final : public FdPair {
public:
    EventFd() {
        to_server_read_ = to_server_write_ = eventfd(0, 0);
        to_client_read_ = to_client_write_ = eventfd(0, 0);
        counter_ = true;
    }
    ~EventFd() override {
        ::close(to_server_read_);
        ::close(to_client_read_);
    }
    std::string name() const override { return "eventfd"; }
    void send(Side from, std::uint64_t) override { FdPair::send(from, 1); }
};

class Pipe final : public FdPair {
public:
    Pipe() {
        int a[2], b[2];
        if (::pipe(a) != 0 || ::pipe(b) != 0) throw std::runtime_error("pipe");
        to_server_read_ = a[0];
        to_server_write_ = a[1];
        to_client_read_ = b[0];
        to_client_write_ = b[1];
    }
    ~Pipe() override {
        for (int fd : {to_server_read_, to_server_write_, to_client_read_, to_client_write_}) ::close(fd);
    }
    std::string name() const override { return "pipe"; }
};

class UnixSocket final : public FdPair {
public:
    UnixSocket() {
        int s[2];
        if (::socketpair(AF_UNIX, SOCK_STREAM, 0, s) != 0) throw std::runtime_error("socketpair");
        to_server_write_ = to_client_read_ = s[0];
        to_server_read_ = to_client_write_ = s[1];
    }
    ~UnixSocket() override {
        ::close(to_server_write_);
        ::close(to_server_read_);
    }
    std::string name() const override { return "unix-socket"; }
};

// boost's SPSC queue with a compile-time capacity holds no pointers, so it works in shared memory.
using BoostRing = boost::lockfree::spsc_queue<std::uint64_t, boost::lockfree::capacity<1024>>;
struct BoostRings {
    BoostRing ring[2];
};

class BoostSpsc final : public PingPong {
public:
    BoostSpsc() : rings_(shared_new<BoostRings>()) {}
    ~BoostSpsc() override { shared_delete(rings_); }
    std::string name() const override { return "boost-spsc"; }
    void send(Side from, std::uint64_t value) override {
        while (!rings_->ring[own(from)].push(value)) {
        }
    }
    void wait(Side at, std::uint64_t value) override {
        std::uint64_t got = 0;
        while (!rings_->ring[other(at)].pop(got)) {
        }
        if (got != value) throw std::runtime_error("boost-spsc out of order");
    }

private:
    BoostRings* rings_;
};

}  // namespace

std::unique_ptr<PingPong> make_raw_cache_line() { return std::make_unique<RawCacheLine>(); }
std::unique_ptr<PingPong> make_futex() { return std::make_unique<Futex>(); }
std::unique_ptr<PingPong> make_pthread_cond() { return std::make_unique<PthreadCond>(); }
std::unique_ptr<PingPong> make_eventfd() { return std::make_unique<EventFd>(); }
std::unique_ptr<PingPong> make_pipe() { return std::make_unique<Pipe>(); }
std::unique_ptr<PingPong> make_unix_socket() { return std::make_unique<UnixSocket>(); }
std::unique_ptr<PingPong> make_boost_spsc() { return std::make_unique<BoostSpsc>(); }

}  // namespace nk::bench
