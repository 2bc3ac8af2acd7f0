// nk::rpc::Channel: the client side of a service that a server guest serves on an nk port.
//
// A channel opens the server's request port (made by nk::rpc::Server) and makes a reply port of
// its own, owned by the calling guest, in the link between the two guests. Calls carry a request
// id and a deadline; the server answers on the reply port. Generated clients (protoc-gen-nk's
// FooClient) wrap a channel with one typed method per RPC:
//
//   auto channel = nk::rpc::Channel::open(region, "rt.telemetry");
//   telemetry::TelemetryClient client(*channel);
//   telemetry::Reading reading;
//   nk::rpc::Status status = client.Read(request, reading, std::chrono::milliseconds(20));
//
//   nk::rpc::CallContext context(std::chrono::seconds(5));   // a stream, cancellable from any thread
//   auto readings = client.Subscribe(request, context);
//   while (readings.read(reading)) { ... }
//   status = readings.finish();
//
//   auto upload = client.Upload(context);                     // client streaming
//   for (const auto& sample : samples) if (!upload.write(sample)) break;
//   status = upload.finish(summary);                          // writes_done(), then the one reply
//
//   auto chat = client.Chat(context);                         // bidirectional
//   chat.write(question); chat.read(answer); ... chat.writes_done(); status = chat.finish();
//
// How calls end: OK or the server's status; DEADLINE_EXCEEDED at the deadline; CANCELLED when the
// context is cancelled (the server is told; its handler sees ServerContext::cancelled()).
// UNAVAILABLE at once (within kLivenessSlice) when the server guest is down or was restarted:
// the port reports its owner down. A later call reopens the server's port, so calls work again
// once a new server runs, with the same channel. RESOURCE_EXHAUSTED names both sizes when a
// message is larger than the channel's maximum, or when the server's port stays full until the
// deadline (back-pressure). INTERNAL when the reply's bytes are malformed: that call ends, the
// channel goes on. Client and bidi streams have a window of kStreamWindow messages each way
// (frame.hpp): write() waits while the server's handler has that many unread, and the server
// waits while the reader has that many unread, so no message is lost and none piles up.
//
// Concurrency: any number of threads may call through one channel at once. A CallContext belongs
// to one call at a time; cancel() may be called from any thread. The Region must outlive the
// channel.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <google/protobuf/message_lite.h>

#include "nk/ipc/port.hpp"
#include "nk/nanokernel/region.hpp"
#include "nk/rpc/frame.hpp"
#include "nk/rpc/server.hpp"
#include "nk/rpc/status.hpp"

namespace nk::rpc {

// How long a waiting call may go without looking at the server guest's state.
inline constexpr std::chrono::milliseconds kLivenessSlice{5};

// The deadline and cancellation of one call.
class CallContext {
public:
    CallContext() = default;  // no deadline
    explicit CallContext(std::chrono::nanoseconds timeout) { set_timeout(timeout); }
    CallContext(const CallContext&) = delete;
    CallContext& operator=(const CallContext&) = delete;

    void set_deadline(std::chrono::steady_clock::time_point deadline) { deadline_ = deadline; }
    void set_timeout(std::chrono::nanoseconds timeout) { deadline_ = std::chrono::steady_clock::now() + timeout; }
    [[nodiscard]] std::chrono::steady_clock::time_point deadline() const { return deadline_; }

    // Ends the call with CANCELLED (within kLivenessSlice) and tells the server. Any thread.
    void cancel() { cancelled_.store(true, std::memory_order_relaxed); }  // relaxed: a flag polled per slice
    [[nodiscard]] bool cancelled() const { return cancelled_.load(std::memory_order_relaxed); }

private:
    std::chrono::steady_clock::time_point deadline_ = std::chrono::steady_clock::time_point::max();
    std::atomic<bool> cancelled_{false};
};

struct ChannelOptions {
    std::uint32_t reply_capacity = 64 * 1024;  // ring bytes of the reply port, a power of two
    std::string reply_prefix = "rpc.reply";    // reply ports are "<prefix>.<guest>.<pid>.<random>"
    std::size_t stream_queue_limit = 256;      // items a stream may have waiting while another call reads
};

struct ChannelStats {
    std::uint64_t calls = 0;
    std::uint64_t malformed = 0;  // frames on the reply port that failed parse_frame()
    std::uint64_t late = 0;       // replies for calls that had already ended
};

class StreamCall;
class DuplexCall;  // duplex_call.hpp

class Channel : public std::enable_shared_from_this<Channel> {
public:
    // Opens the server's request port `service_port` and makes this channel's reply port.
    [[nodiscard]] static Result<std::shared_ptr<Channel>> open(const Region& region, std::string_view service_port,
                                                               const ChannelOptions& options = {});
    ~Channel();
    Channel(const Channel&) = delete;
    Channel& operator=(const Channel&) = delete;

    // A unary call: sends `request`, waits for the reply and parses it into `response`.
    [[nodiscard]] Status call(std::uint32_t method_id, const google::protobuf::MessageLite& request,
                              google::protobuf::MessageLite& response, CallContext& context);
    // A unary call with a request serialized already; `response` gets the reply's bytes.
    [[nodiscard]] Status call_bytes(std::uint32_t method_id, std::span<const std::byte> request,
                                    std::vector<std::byte>& response, CallContext& context);
    // Starts a server-streaming call; read it through the StreamCall.
    // `context` must outlive the StreamCall.
    [[nodiscard]] StreamCall start_stream(std::uint32_t method_id, const google::protobuf::MessageLite& request,
                                          CallContext& context);
    [[nodiscard]] StreamCall start_stream(std::uint32_t method_id, const google::protobuf::MessageLite& request,
                                          std::chrono::nanoseconds timeout);
    // A server-streaming call with a request serialized already (the C ABI); read_bytes() it.
    [[nodiscard]] StreamCall start_stream_bytes(std::uint32_t method_id, std::span<const std::byte> request,
                                                CallContext& context);
    // Starts a client-streaming or bidirectional call (`kind`); write and read it through the
    // DuplexCall (duplex_call.hpp). `context` must outlive the DuplexCall.
    [[nodiscard]] DuplexCall start_duplex(std::uint32_t method_id, RpcKind kind, CallContext& context);
    [[nodiscard]] DuplexCall start_duplex(std::uint32_t method_id, RpcKind kind, std::chrono::nanoseconds timeout);

    // For an event loop that reads the replies itself (asio_channel.hpp). Such a channel is that
    // loop's alone: do not mix these with call() and start_stream() on the same channel.
    struct Completed {
        std::uint64_t id;
        Status status;
        std::vector<std::byte> reply;  // the response's bytes when status is OK
    };
    // Sends a unary request without waiting for room (a full server port: RESOURCE_EXHAUSTED);
    // sets `*id` on success. The call completes through take_completed().
    [[nodiscard]] Status start_unary(std::uint32_t method_id, const google::protobuf::MessageLite& request,
                                     std::chrono::steady_clock::time_point deadline, std::uint64_t* id);
    // The same for a server-streaming call: its messages come through take_stream_items(), its
    // end through take_completed().
    [[nodiscard]] Status start_server_stream(std::uint32_t method_id, const google::protobuf::MessageLite& request,
                                             std::chrono::steady_clock::time_point deadline, std::uint64_t* id);
    // Hands one message received on reply_port_for_loop() to the call it names.
    void deliver(std::span<const std::byte> frame);
    // The stream messages that arrived since the last call, per call in arrival order. Take them
    // before take_completed(): a stream's last messages come before its end.
    struct StreamItems {
        std::uint64_t id;
        std::deque<std::vector<std::byte>> items;
    };
    [[nodiscard]] std::vector<StreamItems> take_stream_items();
    // Ends calls past their deadline or whose server went away, and returns every ended call.
    [[nodiscard]] std::vector<Completed> take_completed();
    // Ends a started call now with CANCELLED (and tells the server); take_completed() returns it.
    void cancel(std::uint64_t id);
    // Ends a started call now with `status` (not OK) and tells the server, as cancel() does.
    void end(std::uint64_t id, Status status);
    [[nodiscard]] ipc::Port& reply_port_for_loop() { return reply_port_; }
    [[nodiscard]] std::size_t pending_calls() const;

    // The largest serialized request (and response) this channel carries.
    [[nodiscard]] std::size_t max_message() const;
    [[nodiscard]] ChannelStats stats() const;
    [[nodiscard]] const std::string& service_port() const { return service_port_; }
    [[nodiscard]] const std::string& reply_port() const { return reply_name_; }

private:
    friend class StreamCall;
    friend class DuplexCall;
    struct Pending {
        std::uint64_t id = 0;
        std::uint32_t method_id = 0;
        bool stream = false;                           // the server sends stream items (server streaming, bidi)
        bool sends = false;                            // the client sends items (client streaming, bidi)
        std::uint32_t send_credit = kStreamWindow;     // items the client may still send
        std::uint32_t uncredited = 0;                  // bidi: items read and not yet credited back
        bool done = false;
        bool tell_server = false;                      // ended here (cancel, deadline): send a Cancel
        std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
        std::atomic<std::uint64_t> generation{~0ULL};  // which opening of the server port it went to
        Status status;
        std::vector<std::byte> reply;                  // unary: the response bytes
        std::deque<std::vector<std::byte>> items;      // stream: messages not yet read
    };
    Channel(const Region& region, std::string service_port, ipc::PortSender sender, ipc::Port reply_port,
            std::string reply_name, const ChannelOptions& options);

    // Sends the request frame for `pending`; a Status that is not OK ends the call before it began.
    // A request's body: a message to serialize, or bytes serialized already (the C ABI).
    struct Outgoing {
        const google::protobuf::MessageLite* message;
        std::span<const std::byte> bytes;
    };
    // It waits for room in the server's port until `room_until` at the latest.
    [[nodiscard]] Status send_request(Pending& pending, const Outgoing& request,
                                      std::chrono::steady_clock::time_point deadline,
                                      std::chrono::steady_clock::time_point room_until =
                                          std::chrono::steady_clock::time_point::max());
    [[nodiscard]] std::shared_ptr<Pending> begin(std::uint32_t method_id, RpcKind kind);
    [[nodiscard]] Status start_for_loop(std::uint32_t method_id, RpcKind kind, const google::protobuf::MessageLite& request,
                                        std::chrono::steady_clock::time_point deadline, std::uint64_t* id);
    // Sends one frame of a started client or bidi stream (an item, its end, a credit) to the
    // server the call went to, waiting in kLivenessSlice slices for room until the deadline.
    [[nodiscard]] Status send_stream_frame(const Pending& pending, FrameKind kind, const Outgoing& body,
                                           std::chrono::steady_clock::time_point deadline, const CallContext* context);
    // Sends and waits for a unary call: its status and, when OK, the reply's bytes.
    [[nodiscard]] Status unary(std::uint32_t method_id, const Outgoing& request, CallContext& context,
                               std::vector<std::byte>& reply);
    // What a waiting call waits for besides its end.
    enum class Want { End, Item, Credit };
    // Waits until `pending` is done (or has an item, or credit to send), the deadline passes, or
    // the context is cancelled. Called and returns with `lock` held.
    void wait(std::unique_lock<std::mutex>& lock, Pending& pending, std::chrono::steady_clock::time_point deadline,
              const CallContext* context, Want want);
    [[nodiscard]] StreamCall start(std::uint32_t method_id, const Outgoing& request,
                                   std::chrono::steady_clock::time_point deadline, const CallContext* context);
    [[nodiscard]] DuplexCall start_duplex_at(std::uint32_t method_id, RpcKind kind,
                                             std::chrono::steady_clock::time_point deadline, const CallContext* context);
    void dispatch_locked(std::span<const std::byte> bytes);
    void finish_locked(Pending& pending, Status status);
    void fail_all_locked(const Status& status);
    // Ends the calls sent to a server generation other than `generation`, or any when !up.
    void check_liveness_locked(bool up, std::uint64_t generation);
    void forget(std::uint64_t id);
    void send_cancel(const Pending& pending);
    // Whether the server port opened as generation `*generation` still has its owner running.
    [[nodiscard]] bool server_up(std::uint64_t* generation);
    [[nodiscard]] bool reopen_locked(std::string* why);  // send_mutex_ held
    [[nodiscard]] Status unavailable(const std::string& why) const;

    const Region* region_;
    std::string service_port_;
    std::string reply_name_;
    ChannelOptions options_;
    std::atomic<std::uint64_t> next_id_{1};

    std::mutex send_mutex_;                 // guards sender_ and send_buffer_: a PortSender is one thread's at a time
    std::optional<ipc::PortSender> sender_;
    std::uint64_t sender_generation_ = 0;   // moves on at every reopening of the server port
    std::vector<std::byte> send_buffer_;
    std::size_t max_message_;               // the server port's maximum frame, fixed at open()

    mutable std::mutex mutex_;              // guards everything below
    std::condition_variable changed_;       // a call ended, an item arrived, or the receiver role is free
    ipc::Port reply_port_;                  // read only by the thread holding the receiver role
    bool receiving_ = false;                // the receiver role: one waiting thread reads the reply port
    std::vector<std::byte> receive_buffer_;
    std::unordered_map<std::uint64_t, std::shared_ptr<Pending>> pending_;
    std::chrono::steady_clock::time_point last_liveness_check_{};
    ChannelStats stats_;
};

// A server-streaming call in progress: read() until it returns false, then finish(). Destroying
// it (or cancel()) before the end tells the server to stop. One thread at a time.
class StreamCall {
public:
    StreamCall(StreamCall&& other) noexcept;
    StreamCall& operator=(StreamCall&& other) noexcept;
    StreamCall(const StreamCall&) = delete;
    StreamCall& operator=(const StreamCall&) = delete;
    ~StreamCall();

    // The next message of the stream parsed into `item`, or false at its end (then finish() says why).
    [[nodiscard]] bool read(google::protobuf::MessageLite& item);
    // The next message's bytes, as they came (the C ABI), or false at the stream's end.
    [[nodiscard]] bool read_bytes(std::vector<std::byte>& item);
    // How the stream ended; waits for the end if read() has not seen it yet (the rest is dropped).
    [[nodiscard]] Status finish();
    // Ends the stream with CANCELLED and tells the server.
    void cancel();

private:
    friend class Channel;
    StreamCall(std::shared_ptr<Channel> channel, std::shared_ptr<Channel::Pending> pending,
               std::chrono::steady_clock::time_point deadline, const CallContext* context)
        : channel_(std::move(channel)), pending_(std::move(pending)), deadline_(deadline), context_(context) {}
    void release();
    // The stream is over (pending_->done): keeps its status, tells the server if it must, lets go
    // of the call. Called with `lock` on the channel's mutex held; returns with it released.
    void end(std::unique_lock<std::mutex>& lock);

    std::shared_ptr<Channel> channel_;
    std::shared_ptr<Channel::Pending> pending_;
    std::chrono::steady_clock::time_point deadline_;
    const CallContext* context_;  // may be null: the deadline alone
    std::optional<Status> final_;
};

// The typed face of a StreamCall that generated clients return.
template <class Message>
class ClientReader {
public:
    explicit ClientReader(StreamCall call) : call_(std::move(call)) {}
    [[nodiscard]] bool read(Message& item) { return call_.read(item); }
    [[nodiscard]] Status finish() { return call_.finish(); }
    void cancel() { call_.cancel(); }

private:
    StreamCall call_;
};

}  // namespace nk::rpc
