// nk-watchdog's health page over HTTP: GET / (health_page.hpp) and GET /health.json
// (health_report.hpp), served on the guest's netbridge address to operators on other guests or
// outside (through a gateway guest).
//
//   nk::wd::HealthServer server(region, "linux");
//   if (auto error = server.start("10.77.1.1", 8080); !error.empty()) die(error);
//   ... the heartbeat loop runs on; ~HealthServer stops the serving thread.
//
// The server runs on its own thread at SCHED_OTHER, nice 0, whatever the daemon's class: the
// heartbeat thread never waits for it and shares no lock with it (the report reads only the
// region). A hostile client cannot hold it up either: each connection gets kMaxHead bytes and
// kDeadline to send its request and take the answer, at most kMaxConnections are open at once,
// and every connection is closed after one answer.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "nk/nanokernel/region.hpp"

namespace nk::wd {

class HealthServer {
public:
    static constexpr std::chrono::seconds kDeadline{5};
    static constexpr std::size_t kMaxConnections = 16;
    // How often the failure history reads the guest table.
    static constexpr std::chrono::milliseconds kPollEvery{20};

    HealthServer(const Region& region, std::string served_by);
    ~HealthServer();
    HealthServer(const HealthServer&) = delete;
    HealthServer& operator=(const HealthServer&) = delete;

    // Listens on address:port (IPv4 or IPv6 text) and starts the serving thread. The address
    // need not be configured yet (IP_FREEBIND): the guest's netbridge router, a service started
    // just before the watchdog, may still be bringing its TUN up. Returns "" or what failed.
    [[nodiscard]] std::string start(const std::string& address, std::uint16_t port);

    struct Impl;  // the serving thread's state (health_server.cpp; its connections use it)

private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace nk::wd
