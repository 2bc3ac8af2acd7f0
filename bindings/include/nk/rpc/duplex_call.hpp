// nk::rpc::DuplexCall: a client-streaming or bidirectional call in progress, and its typed faces
// ClientWriter and ClientReaderWriter that generated clients return.
//
//   nk::rpc::CallContext context(std::chrono::seconds(5));
//   auto upload = client.Upload(context);              // rpc Upload(stream Sample) returns (Summary)
//   for (const Sample& sample : samples)
//       if (!upload.write(sample)) break;              // false: the call is over; finish() says why
//   Summary summary;
//   nk::rpc::Status status = upload.finish(summary);   // writes_done(), then waits for the reply
//
//   auto chat = client.Chat(context);                  // rpc Chat(stream Line) returns (stream Line)
//   chat.write(line);
//   while (chat.read(answer)) { ... }                  // until the server's stream ends
//   status = chat.finish();
//
// Flow control (frame.hpp, kStreamWindow): write() waits while the server's handler has
// kStreamWindow of this call's messages unread, and the server waits while this side has
// kStreamWindow of its messages unread, so neither side loses messages or piles them up. A bidi
// caller that only writes while the server only writes stops both, as in gRPC: read what comes.
//
// How it ends: finish() returns the server's status, or DEADLINE_EXCEEDED, CANCELLED (cancel()
// or the context's, the server is told), UNAVAILABLE at once when the server guest goes down,
// RESOURCE_EXHAUSTED for a message larger than the server's port takes (the call ends, the server
// is told), INTERNAL for a malformed frame or a message that does not parse. Destroying the call
// before finish() cancels it.
//
// Concurrency: one thread at a time per call (the usual pattern of one writing thread and one
// reading thread is not supported: use one thread that alternates, or two calls). The channel
// and the CallContext must outlive the call.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include <google/protobuf/message_lite.h>

#include "nk/rpc/channel.hpp"
#include "nk/rpc/status.hpp"

namespace nk::rpc {

class DuplexCall {
public:
    DuplexCall(DuplexCall&& other) noexcept;
    DuplexCall& operator=(DuplexCall&& other) noexcept;
    DuplexCall(const DuplexCall&) = delete;
    DuplexCall& operator=(const DuplexCall&) = delete;
    ~DuplexCall();

    // Sends one message of the client's stream; waits while the window is full. False when the
    // call is over or writes_done() was called.
    [[nodiscard]] bool write(const google::protobuf::MessageLite& item);
    // Ends the client's stream (the server's read() returns false after the last message).
    [[nodiscard]] bool writes_done();
    // Bidi: the server's next message parsed into `item`, or false at the end of its stream.
    [[nodiscard]] bool read(google::protobuf::MessageLite& item);
    // Ends the client's stream if still open and waits for the call's end; a client stream's reply
    // is parsed into `response` (null for bidi). Unread messages of a bidi stream are dropped.
    [[nodiscard]] Status finish(google::protobuf::MessageLite* response);
    // Ends the call with CANCELLED and tells the server.
    void cancel();

    // The same with messages serialized already (the C ABI): write_bytes() sends `item` as it is,
    // read_bytes() gives the server's next message unparsed, finish_bytes() the reply's bytes.
    [[nodiscard]] bool write_bytes(std::span<const std::byte> item);
    [[nodiscard]] bool read_bytes(std::vector<std::byte>& item);
    [[nodiscard]] Status finish_bytes(std::vector<std::byte>& reply);

private:
    friend class Channel;
    DuplexCall(std::shared_ptr<Channel> channel, std::shared_ptr<Channel::Pending> pending,
               std::chrono::steady_clock::time_point deadline, const CallContext* context)
        : channel_(std::move(channel)), pending_(std::move(pending)), deadline_(deadline), context_(context) {}
    // Sends one frame of the stream; a failure ends the call with it.
    bool send(FrameKind kind, const Channel::Outgoing& body);
    bool send_credit(std::uint32_t items);
    bool write_outgoing(const Channel::Outgoing& item);

    std::shared_ptr<Channel> channel_;
    std::shared_ptr<Channel::Pending> pending_;
    std::chrono::steady_clock::time_point deadline_;
    const CallContext* context_;  // may be null: the deadline alone
    bool writes_done_ = false;
    std::optional<Status> final_;
};

// A client-streaming call: write() the messages, then finish(response).
template <class Request, class Response>
class ClientWriter {
public:
    explicit ClientWriter(DuplexCall call) : call_(std::move(call)) {}
    [[nodiscard]] bool write(const Request& item) { return call_.write(item); }
    [[nodiscard]] bool writes_done() { return call_.writes_done(); }
    [[nodiscard]] Status finish(Response& response) { return call_.finish(&response); }
    void cancel() { call_.cancel(); }

private:
    DuplexCall call_;
};

// A bidirectional call: write() and read() in any order from one thread, then finish().
template <class Request, class Response>
class ClientReaderWriter {
public:
    explicit ClientReaderWriter(DuplexCall call) : call_(std::move(call)) {}
    [[nodiscard]] bool write(const Request& item) { return call_.write(item); }
    [[nodiscard]] bool writes_done() { return call_.writes_done(); }
    [[nodiscard]] bool read(Response& item) { return call_.read(item); }
    [[nodiscard]] Status finish() { return call_.finish(nullptr); }
    void cancel() { call_.cancel(); }

private:
    DuplexCall call_;
};

}  // namespace nk::rpc
