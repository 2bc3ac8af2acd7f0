// nk::netbridge::DiscardService: RFC 863 discard on lwIP (TCP port 9 by default): reads and drops
// whatever a client sends and counts it. The rt guest runs it so that the netbridge's path into an
// lwIP guest can be measured with ordinary tools from a linux guest (the net benchmark's lwip row).
//
//   DiscardService discard({.port = 9});
//   if (auto ok = discard.listen(); !ok) fail(ok.error());
//   while (!stopping) discard.serve_once(10ms);   // from one task: accepts, reads, closes
//
// One thread serves every connection (lwip_poll); at most kMaxClients at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

#include "nk/nanokernel/result.hpp"

namespace nk::netbridge {

struct DiscardOptions {
    std::uint16_t port = 9;
};

class DiscardService {
public:
    static constexpr std::size_t kMaxClients = 8;

    explicit DiscardService(DiscardOptions options) : options_(options) {}
    DiscardService(const DiscardService&) = delete;
    DiscardService& operator=(const DiscardService&) = delete;
    ~DiscardService();

    [[nodiscard]] Result<void> listen();
    // Waits up to `wait` for something to do, then does it: accept, read and drop, close.
    void serve_once(std::chrono::milliseconds wait);
    [[nodiscard]] std::uint64_t bytes() const { return bytes_; }

private:
    DiscardOptions options_;
    int listener_ = -1;
    std::vector<int> clients_;
    std::uint64_t bytes_ = 0;
};

}  // namespace nk::netbridge
