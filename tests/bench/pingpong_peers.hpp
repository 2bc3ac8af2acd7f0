// Ping-pong transports between two processes, for round-trip latency. Each is set up before
// fork(); afterwards the client calls send(Client, i) then wait(Client, i), the server the mirror.
// The peers are what a user would otherwise use: a raw shared cache line (the physical floor),
// a sleeping futex, eventfd, pipe, Unix socket, and boost::lockfree::spsc_queue in shared memory.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace nk::bench {

enum class Side { Client, Server };

class PingPong {
public:
    virtual ~PingPong() = default;
    [[nodiscard]] virtual std::string name() const = 0;
    // Sends `value` to the other side.
    virtual void send(Side from, std::uint64_t value) = 0;
    // Waits until the other side's `value` arrives.
    virtual void wait(Side at, std::uint64_t value) = 0;
};

std::unique_ptr<PingPong> make_raw_cache_line();
std::unique_ptr<PingPong> make_futex();
std::unique_ptr<PingPong> make_pthread_cond();
std::unique_ptr<PingPong> make_eventfd();
std::unique_ptr<PingPong> make_pipe();
std::unique_ptr<PingPong> make_unix_socket();
std::unique_ptr<PingPong> make_boost_spsc();

}  // namespace nk::bench
