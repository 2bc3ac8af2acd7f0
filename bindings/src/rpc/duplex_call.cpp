// DuplexCall (duplex_call.hpp) and Channel::start_duplex. The call's frames go out through the
// channel's sender (send_stream_frame); what comes back is dispatched by whichever caller holds
// the channel's receiver role (channel.cpp), which also counts the server's credits.
#include "nk/rpc/duplex_call.hpp"

#include <array>
#include <cstring>
#include <utility>
#include <vector>

#include "nk/rpc/frame.hpp"

namespace nk::rpc {

using Clock = std::chrono::steady_clock;

DuplexCall Channel::start_duplex_at(std::uint32_t method_id, RpcKind kind, Clock::time_point deadline,
                                    const CallContext* context) {
    auto pending = begin(method_id, kind);
    Status sent;
    if (kind != RpcKind::ClientStreaming && kind != RpcKind::BidiStreaming)
        sent = Status(StatusCode::InvalidArgument, "start_duplex() is for client and bidirectional streams");
    else if (context != nullptr && context->cancelled())
        sent = Status(StatusCode::Cancelled, "cancelled by the client before the call");
    else if (deadline <= Clock::now())
        sent = Status(StatusCode::DeadlineExceeded, "the deadline passed before the call");
    else
        sent = send_request(*pending, {nullptr, {}}, deadline);  // opens the stream; its messages follow
    if (!sent.ok()) {
        std::lock_guard lock(mutex_);
        finish_locked(*pending, std::move(sent));
    }
    return DuplexCall(shared_from_this(), std::move(pending), deadline, context);
}

DuplexCall Channel::start_duplex(std::uint32_t method_id, RpcKind kind, CallContext& context) {
    return start_duplex_at(method_id, kind, context.deadline(), &context);
}

DuplexCall Channel::start_duplex(std::uint32_t method_id, RpcKind kind, std::chrono::nanoseconds timeout) {
    return start_duplex_at(method_id, kind, Clock::now() + timeout, nullptr);
}

DuplexCall::DuplexCall(DuplexCall&& other) noexcept
    : channel_(std::move(other.channel_)), pending_(std::move(other.pending_)), deadline_(other.deadline_),
      context_(other.context_), writes_done_(other.writes_done_), final_(std::move(other.final_)) {}

DuplexCall& DuplexCall::operator=(DuplexCall&& other) noexcept {
    if (this != &other) {
        if (pending_ && !final_) cancel();
        channel_ = std::move(other.channel_);
        pending_ = std::move(other.pending_);
        deadline_ = other.deadline_;
        context_ = other.context_;
        writes_done_ = other.writes_done_;
        final_ = std::move(other.final_);
    }
    return *this;
}

DuplexCall::~DuplexCall() {
    if (pending_ && !final_) cancel();
}

bool DuplexCall::send(FrameKind kind, const Channel::Outgoing& body) {
    Status sent = channel_->send_stream_frame(*pending_, kind, body, deadline_, context_);
    if (sent.ok()) return true;
    std::lock_guard lock(channel_->mutex_);
    // A server that is gone needs no Cancel; one that is there must stop serving the call.
    pending_->tell_server = sent.code() != StatusCode::Unavailable;
    channel_->finish_locked(*pending_, std::move(sent));
    return false;
}

bool DuplexCall::send_credit(std::uint32_t items) {
    std::array<std::byte, kCreditPayload> payload{};
    std::memcpy(payload.data(), &items, sizeof items);
    return send(FrameKind::ClientCredit, {nullptr, payload});
}

bool DuplexCall::write(const google::protobuf::MessageLite& item) { return write_outgoing({&item, {}}); }

bool DuplexCall::write_bytes(std::span<const std::byte> item) { return write_outgoing({nullptr, item}); }

bool DuplexCall::write_outgoing(const Channel::Outgoing& item) {
    if (!pending_ || final_ || writes_done_) return false;
    {
        std::unique_lock lock(channel_->mutex_);
        channel_->wait(lock, *pending_, deadline_, context_, Channel::Want::Credit);
        if (pending_->done) return false;  // finish() says why
        --pending_->send_credit;
    }
    return send(FrameKind::ClientItem, item);
}

bool DuplexCall::writes_done() {
    if (!pending_ || final_ || writes_done_) return false;
    writes_done_ = true;
    {
        std::lock_guard lock(channel_->mutex_);
        if (pending_->done) return false;
    }
    return send(FrameKind::ClientDone, {nullptr, {}});
}

bool DuplexCall::read(google::protobuf::MessageLite& item) {
    std::vector<std::byte> bytes;
    if (!read_bytes(bytes)) return false;
    if (item.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return true;
    std::lock_guard lock(channel_->mutex_);
    pending_->tell_server = true;
    channel_->finish_locked(*pending_, Status(StatusCode::Internal, "a stream message of " + std::to_string(bytes.size()) +
                                                                        " bytes does not parse as " + item.GetTypeName()));
    return false;
}

bool DuplexCall::read_bytes(std::vector<std::byte>& item) {
    if (!pending_ || final_ || !pending_->stream) return false;
    std::uint32_t credit = 0;
    {
        std::unique_lock lock(channel_->mutex_);
        channel_->wait(lock, *pending_, deadline_, context_, Channel::Want::Item);
        if (pending_->items.empty()) return false;  // the stream ended: finish() says how
        item = std::move(pending_->items.front());
        pending_->items.pop_front();
        if (++pending_->uncredited >= kCreditBatch) credit = std::exchange(pending_->uncredited, 0);
    }
    if (credit != 0) (void)send_credit(credit);  // a failure ends the call; this message is still good
    return true;
}

Status DuplexCall::finish(google::protobuf::MessageLite* response) {
    std::vector<std::byte> reply;
    const bool first = pending_ && !final_;
    Status status = finish_bytes(reply);
    if (first && status.ok() && response != nullptr && !response->ParseFromArray(reply.data(), static_cast<int>(reply.size())))
        final_ = status = Status(StatusCode::Internal, "the reply of " + std::to_string(reply.size()) + " bytes does not parse as " +
                                                           response->GetTypeName());
    return status;
}

Status DuplexCall::finish_bytes(std::vector<std::byte>& reply) {
    if (!pending_) return Status(StatusCode::FailedPrecondition, "finish() on a moved-from call");
    if (final_) return *final_;
    if (!writes_done_) (void)writes_done();
    bool tell = false;
    {
        std::unique_lock lock(channel_->mutex_);
        while (!pending_->done) {
            channel_->wait(lock, *pending_, deadline_, context_, Channel::Want::Item);
            // Unread messages are dropped, and credited, so that the server is not left waiting for room.
            const auto dropped = static_cast<std::uint32_t>(pending_->items.size()) + std::exchange(pending_->uncredited, 0);
            pending_->items.clear();
            if (dropped != 0 && !pending_->done) {
                lock.unlock();
                (void)send_credit(dropped);
                lock.lock();
            }
        }
        final_ = pending_->status;
        tell = pending_->tell_server;
        reply = std::move(pending_->reply);
    }
    if (tell) channel_->send_cancel(*pending_);
    channel_->forget(pending_->id);
    return *final_;
}

void DuplexCall::cancel() {
    if (final_ || !pending_) return;
    bool was_over = false;
    {
        std::lock_guard lock(channel_->mutex_);
        was_over = pending_->done && !pending_->tell_server;  // the server ended it: nothing to tell
        channel_->finish_locked(*pending_, Status(StatusCode::Cancelled, "cancelled by the client"));
        pending_->items.clear();
        final_ = pending_->status;
    }
    if (!was_over) channel_->send_cancel(*pending_);
    channel_->forget(pending_->id);
}

}  // namespace nk::rpc
