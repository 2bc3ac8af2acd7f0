// nk::rpc::Server: serves Protobuf services on an nk port that the serving guest owns.
//
// One receiver thread reads the request port, answers what it can at once (an unknown method:
// UNIMPLEMENTED; a request that is not a frame: counted and dropped), records cancellations, and
// hands requests to `threads` handler threads through a bounded queue. When the queue is full the
// receiver stops reading, the port fills and callers wait: back-pressure reaches the clients.
// Generated service classes (protoc-gen-nk's FooService) derive from nk::rpc::Service:
//
//   class Telemetry final : public telemetry::TelemetryService {
//       nk::rpc::Status Read(nk::rpc::ServerContext&, const telemetry::ReadRequest&, telemetry::Reading& out) override;
//   };
//   Telemetry service;
//   nk::rpc::Server server(region, "rt.telemetry", {.threads = 2});
//   server.add(service);
//   if (auto started = server.start(); !started) { ... started.error().message ... }
//   ...
//   server.stop();   // or the destructor
//
// A handler reads ServerContext::cancelled() to stop early: true once the client cancelled, gave
// up, or the deadline passed. A handler that throws ends its call with INTERNAL. A response larger
// than the client's reply port takes ends the call with RESOURCE_EXHAUSTED naming both sizes.
//
// Client and bidirectional streams hold a thread for their whole life, so they run on threads of
// their own (`stream_threads`), apart from the unary and server-streaming handlers: a stream that
// waits for its client's next message never keeps a short call from running. When every stream
// thread is busy, one more stream is refused at once with RESOURCE_EXHAUSTED. Their flow control
// is a window of kStreamWindow messages each way (frame.hpp): a client sends at most that many
// items ahead of what the handler read, a bidi handler at most that many ahead of what the client
// read; the other side waits, so nothing is lost and nothing grows without bound.
//
// Concurrency: add() before start(); start() and stop() from one thread. Handlers of one service
// run on several threads at once and must be thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include <google/protobuf/message_lite.h>

#include "nk/ipc/port.hpp"
#include "nk/nanokernel/region.hpp"
#include "nk/rpc/status.hpp"

namespace nk::rpc {

struct Frame;  // frame.hpp
namespace detail {
struct CallState;  // src/rpc/call_state.hpp
}  // namespace detail

enum class RpcKind : std::uint8_t { Unary, ServerStreaming, ClientStreaming, BidiStreaming };

struct MethodInfo {
    std::string_view full_name;  // "/package.Service/Method"
    std::uint32_t id;            // method_id(full_name)
    RpcKind kind;
};

// What a handler knows about its call.
class ServerContext {
public:
    [[nodiscard]] std::chrono::steady_clock::time_point deadline() const { return deadline_; }
    // The client cancelled, or the deadline passed: stop and return (the status is not delivered).
    [[nodiscard]] bool cancelled() const;
    [[nodiscard]] std::string_view method() const { return method_; }
    [[nodiscard]] std::uint64_t request_id() const { return request_id_; }

private:
    friend class Server;
    friend class NoHeapServer;
    friend class ServerCall;
    std::chrono::steady_clock::time_point deadline_{};
    std::string_view method_;
    std::uint64_t request_id_ = 0;
    const std::atomic<bool>* cancelled_ = nullptr;
};

// One call being served: its request bytes, and the way back to the client. Generated code uses
// it through the templates below; applications see only ServerContext and ServerWriter.
class ServerCall {
public:
    [[nodiscard]] ServerContext& context() { return context_; }
    // The request parsed into `request`; false when its bytes are not such a message.
    [[nodiscard]] bool parse(google::protobuf::MessageLite& request) const;
    // Sends the unary reply (OK with `response`). Not OK when it could not be sent; then the call
    // is still open and the server ends it with that status.
    [[nodiscard]] Status reply(const google::protobuf::MessageLite& response);
    // Sends one message of a server or bidirectional stream; false when the stream is over
    // (cancelled, the client went away, or the message is too large: the stream then ends with
    // that status). In a bidi stream it waits while the client has kStreamWindow items unread.
    [[nodiscard]] bool write(const google::protobuf::MessageLite& item);
    // Client and bidi streams: the client's next message parsed into `item`; false at the end of
    // the client's stream (it called writes_done()), or when the call is over: cancelled, past
    // its deadline, the client gone, or a message that does not parse (INVALID_ARGUMENT).
    [[nodiscard]] bool read(google::protobuf::MessageLite& item);
    // OK, or why the stream broke (what ends the call unless the handler returns an error first).
    [[nodiscard]] Status stream_status() const { return stream_failure_ ? *stream_failure_ : Status(); }
    // The request's bytes, and a reply of bytes serialized already (the C ABI).
    [[nodiscard]] std::span<const std::byte> request_bytes() const { return request_; }
    [[nodiscard]] Status reply_bytes(std::span<const std::byte> response);
    // write() with a message serialized already, and read() without parsing (the C ABI).
    [[nodiscard]] bool write_bytes(std::span<const std::byte> item);
    [[nodiscard]] bool read_bytes(std::vector<std::byte>& item);
    // The largest reply the client's reply port takes (0 when it cannot be reached).
    [[nodiscard]] std::size_t max_reply() const { return max_reply_(); }
    // Arena options whose first block is this handler thread's preallocated buffer.
    [[nodiscard]] const void* arena_block() const { return arena_block_; }
    [[nodiscard]] std::size_t arena_block_size() const { return arena_block_size_; }
    // Where the arena takes blocks beyond the first: null for Protobuf's default (the heap);
    // NoHeapServer's counts them.
    using BlockAlloc = void* (*)(std::size_t);
    using BlockDealloc = void (*)(void*, std::size_t);
    [[nodiscard]] BlockAlloc arena_block_alloc() const { return block_alloc_; }
    [[nodiscard]] BlockDealloc arena_block_dealloc() const { return block_dealloc_; }

private:
    friend class Server;
    friend class NoHeapServer;
    ServerCall() = default;
    ServerContext context_;
    std::span<const std::byte> request_;
    // Sends one frame: `message` serialized, or else `bytes` (cut to fit when `is_text`).
    std::function<Status(std::uint16_t kind, std::uint32_t status, const google::protobuf::MessageLite* message,
                         std::span<const std::byte> bytes, bool is_text)>
        send_;
    std::function<std::size_t()> max_reply_;
    std::function<bool()> client_up_;  // the client's reply port still has its owner running
    detail::CallState* state_ = nullptr;
    RpcKind kind_ = RpcKind::Unary;
    // Waits (in slices) until `ready()` holds under the state's lock, held in `lock`; false when
    // the call is over first (then stream_failure_ may say why).
    template <class Ready>
    bool wait_stream(std::unique_lock<std::mutex>& lock, Ready ready);
    bool write_item(const google::protobuf::MessageLite* item, std::span<const std::byte> bytes);
    void return_credit(std::uint32_t items);
    bool finished_ = false;
    std::optional<Status> stream_failure_;
    void* arena_block_ = nullptr;
    std::size_t arena_block_size_ = 0;
    BlockAlloc block_alloc_ = nullptr;
    BlockDealloc block_dealloc_ = nullptr;
};

// The typed face of ServerCall::write for streaming handlers.
template <class Message>
class ServerWriter {
public:
    explicit ServerWriter(ServerCall& call) : call_(&call) {}
    [[nodiscard]] bool write(const Message& item) { return call_->write(item); }
    [[nodiscard]] const ServerContext& context() const { return call_->context(); }

private:
    ServerCall* call_;
};

// The typed face of ServerCall::read for client-streaming handlers: read() until false.
template <class Request>
class ServerReader {
public:
    explicit ServerReader(ServerCall& call) : call_(&call) {}
    [[nodiscard]] bool read(Request& item) { return call_->read(item); }
    [[nodiscard]] const ServerContext& context() const { return call_->context(); }

private:
    ServerCall* call_;
};

// Both directions of a bidirectional stream: read() the client's messages, write() the replies,
// in any order, from the handler's thread.
template <class Request, class Response>
class ServerReaderWriter {
public:
    explicit ServerReaderWriter(ServerCall& call) : call_(&call) {}
    [[nodiscard]] bool read(Request& item) { return call_->read(item); }
    [[nodiscard]] bool write(const Response& item) { return call_->write(item); }
    [[nodiscard]] const ServerContext& context() const { return call_->context(); }

private:
    ServerCall* call_;
};

// The base of generated service classes.
class Service {
public:
    virtual ~Service() = default;
    [[nodiscard]] virtual std::string_view service_name() const = 0;  // "package.Service"
    [[nodiscard]] virtual std::span<const MethodInfo> methods() const = 0;
    // Serves methods()[index]: parses, calls the handler, replies or streams. The returned status
    // ends the call unless the handler's reply already did.
    [[nodiscard]] virtual Status dispatch(std::size_t index, ServerCall& call) = 0;
};

struct ServerOptions {
    std::size_t threads = 2;                        // handlers running at once
    std::size_t queue_limit = 64;                   // requests read but not yet handled
    ipc::PortOptions port{64 * 1024, 8 * 1024, {}}; // the request port; max_message bounds every frame
    std::size_t arena_block = 64 * 1024;            // preallocated first arena block per handler thread
    std::size_t stream_threads = 4;                 // client and bidi streams served at once
};

struct ServerStats {
    std::uint64_t requests = 0;
    std::uint64_t malformed = 0;      // frames that failed parse_frame() or came in the wrong kind
    std::uint64_t cancelled = 0;      // Cancel frames that found their call
    std::uint64_t unimplemented = 0;
    std::uint64_t expired = 0;        // requests whose deadline had passed before a handler took them
    std::uint64_t reply_failures = 0; // replies that could not be delivered (client gone, its port full)
    std::uint64_t streams_refused = 0; // client and bidi streams refused: every stream thread was busy
    std::uint64_t late_items = 0;      // client items, ends and credits for calls that had ended
};

class Server {
public:
    // The Region must outlive the server.
    Server(const Region& region, std::string port_name, ServerOptions options = {});
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // Registers a service (it must outlive the server). Refuses a method whose id another
    // registered method has.
    [[nodiscard]] Result<void> add(Service& service);
    // Makes the request port and starts the threads.
    [[nodiscard]] Result<void> start();
    // Stops reading, lets running handlers finish (their ServerContext says cancelled), removes the port.
    void stop();

    [[nodiscard]] ServerStats stats() const;
    [[nodiscard]] const std::string& port_name() const { return port_name_; }

private:
    struct Route {
        Service* service;
        std::size_t index;
        const MethodInfo* info;
    };
    struct Work;
    struct ActiveKey {
        std::string reply_to;
        std::uint64_t request_id;
        bool operator<(const ActiveKey& other) const {
            return request_id != other.request_id ? request_id < other.request_id : reply_to < other.reply_to;
        }
    };
    class ReplyPorts;

    void receive_loop();
    // Hands a client stream's item, end or credit to its call.
    void deliver_to_stream(const Frame& frame);
    // Queues a client or bidi stream for a stream thread, or refuses it at once.
    void start_stream(std::unique_ptr<Work> work);
    void handler_loop(bool streams);
    void serve(Work& work, ReplyPorts& replies, std::span<std::byte> arena_block);
    void answer_now(std::string_view reply_to, std::uint64_t request_id, std::uint32_t method_id, StatusCode code,
                    const std::string& text);

    const Region* region_;
    std::string port_name_;
    ServerOptions options_;
    std::unordered_map<std::uint32_t, Route> routes_;
    std::optional<ipc::Port> port_;
    std::atomic<bool> stopping_{false};
    std::thread receiver_;
    std::vector<std::thread> handlers_;         // unary and server-streaming calls, then the stream threads
    std::unique_ptr<ReplyPorts> receiver_replies_;  // the receiver thread's own reply senders

    mutable std::mutex mutex_;  // guards the queue, the active calls and the stats
    std::condition_variable work_ready_, room_;
    std::condition_variable stream_ready_;
    std::deque<std::unique_ptr<Work>> queue_;
    std::deque<std::unique_ptr<Work>> stream_queue_;  // client and bidi streams for the stream threads
    std::size_t streams_running_ = 0;
    std::map<ActiveKey, std::shared_ptr<detail::CallState>> active_;  // queued and running calls
    ServerStats stats_;
};

}  // namespace nk::rpc
