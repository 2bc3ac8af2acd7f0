// nk::rpc::NoHeapServer: serves the unary RPCs of generated services on the calling thread with
// no heap allocation per call, for the rt guest's hot path.
//
// Everything a call needs is allocated once, in start(): the receive buffer, the reply buffer,
// the arena block the handler's request and response live in (NoHeapServerOptions::arena_memory,
// memory of the caller's, or arena_block bytes allocated here; google::protobuf::Arena with that
// block as its first), and a fixed set of reply-port senders. A call then allocates nothing,
// provided that (docs/ARCHITECTURE.md, "No heap on the rt path"):
//   - its request and response fit in the arena block (beyond it, the arena takes heap blocks:
//     stats().arena_overflows counts calls that needed them);
//   - their string and bytes fields hold at most 15 bytes (Protobuf 3.21 keeps longer ones in a
//     std::string's own heap buffer even on an arena); scalars, enums, nested messages and
//     repeated scalars are placed in the arena;
//   - the client's reply port is among the last `reply_ports` it answered (the first answer to a
//     new client opens its port: that allocates);
//   - the call succeeds: a status with a message (an error) builds its text on the heap.
// tests/unit/rpc/no_heap_test.cpp proves it with a counting operator new.
//
//   Sampler service;                       // a generated SamplerService's subclass
//   nk::rpc::NoHeapServer server(region, "rt.sampler");
//   server.add(service);
//   if (auto started = server.start(); !started) { ... }
//   for (;;) (void)server.serve_one(std::chrono::milliseconds(1));   // in the rt task's loop
//
// Only unary RPCs are served (others answer UNIMPLEMENTED); clients use nk::rpc::Channel or
// nk::rpc::NoHeapChannel, the wire is the same. Concurrency: one thread serves; add() and start()
// before serving.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "nk/ipc/port.hpp"
#include "nk/nanokernel/region.hpp"
#include "nk/rpc/frame.hpp"
#include "nk/rpc/server.hpp"
#include "nk/rpc/status.hpp"

namespace nk::rpc {

struct NoHeapServerOptions {
    ipc::PortOptions port{64 * 1024, 8 * 1024, {}};  // the request port; max_message bounds every frame
    std::size_t arena_block = 64 * 1024;             // the handler's messages live here (allocated in start())
    std::span<std::byte> arena_memory{};             // or in this memory of the caller's (e.g. static), if not empty
    std::size_t reply_ports = 8;                     // clients answered without reopening their port
};

struct NoHeapServerStats {
    std::uint64_t served = 0;           // requests answered (OK or not)
    std::uint64_t malformed = 0;        // frames that failed parse_frame() or came in a client-stream kind
    std::uint64_t expired = 0;          // requests already past their deadline
    std::uint64_t unimplemented = 0;
    std::uint64_t reply_failures = 0;   // replies that could not be delivered
    std::uint64_t arena_overflows = 0;  // calls whose messages outgrew the arena block (they allocated)
};

class NoHeapServer {
public:
    // The Region must outlive the server.
    NoHeapServer(const Region& region, std::string port_name, NoHeapServerOptions options = {});
    ~NoHeapServer();
    NoHeapServer(const NoHeapServer&) = delete;
    NoHeapServer& operator=(const NoHeapServer&) = delete;

    // Registers a service (it must outlive the server); refuses a method id registered already.
    [[nodiscard]] Result<void> add(Service& service);
    // Makes the request port and allocates every buffer.
    [[nodiscard]] Result<void> start();
    // Waits up to `timeout` for one request and answers it: true when one was answered, false
    // when none came (or the frame was not one to answer). An error only for a damaged port.
    [[nodiscard]] Result<bool> serve_one(std::chrono::nanoseconds timeout);
    // Removes the port.
    void stop();

    [[nodiscard]] const NoHeapServerStats& stats() const { return stats_; }
    [[nodiscard]] const std::string& port_name() const { return port_name_; }

private:
    struct Route {
        std::uint32_t id;
        Service* service;
        std::size_t index;
        const MethodInfo* info;
    };
    struct ReplyPort {
        std::string name;  // capacity reserved in start(): reassigning a name allocates nothing
        std::optional<ipc::PortSender> sender;
        std::uint64_t last_used = 0;
    };
    // The sender for `name`, opened on first use (that allocates) into the least recently used slot.
    [[nodiscard]] ipc::PortSender* reply_port(std::string_view name);
    // Sends one reply frame for the current request; the ServerCall's send_ calls it.
    [[nodiscard]] Status send_reply(std::uint16_t kind, std::uint32_t status, const google::protobuf::MessageLite* message,
                                    std::span<const std::byte> bytes, bool is_text);
    void answer(const Frame& frame, StatusCode code, std::string_view text);

    const Region* region_;
    std::string port_name_;
    NoHeapServerOptions options_;
    std::vector<Route> routes_;
    std::optional<ipc::Port> port_;
    std::vector<std::byte> receive_buffer_, reply_buffer_, own_arena_;
    std::span<std::byte> arena_block_;  // own_arena_, or options_.arena_memory
    std::vector<ReplyPort> reply_ports_;
    std::uint64_t uses_ = 0;
    // The request being served (valid inside serve_one).
    const FrameHeader* current_ = nullptr;
    ipc::PortSender* current_sender_ = nullptr;
    NoHeapServerStats stats_;
};

}  // namespace nk::rpc
