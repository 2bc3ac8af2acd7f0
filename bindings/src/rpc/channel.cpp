// Channel (channel.hpp). Replies of every call arrive on one reply port, which only one thread
// may read at a time: the waiting callers take turns in the "receiver role" (receiving_), each
// reading for at most kLivenessSlice, handing every frame to the call it names, and passing the
// role on. A lone caller thus reads its own reply with no hand-off between threads. Between
// slices the receiver looks at the server guest's state, which is how pending calls learn at once
// that the server is gone (the port's owner check: down, or a newer incarnation).
//
// Lock order: mutex_ and send_mutex_ are never held together.
#include "nk/rpc/channel.hpp"


#include <algorithm>
#include <cstring>
#include <utility>

#include "client_ports.hpp"
#include "nk/rpc/frame.hpp"

namespace nk::rpc {
namespace {

using Clock = std::chrono::steady_clock;

// A timeout for PortSender::send that reaches the deadline without overflowing its arithmetic.
std::chrono::nanoseconds until(Clock::time_point deadline) {
    const auto now = Clock::now();
    if (deadline <= now) return std::chrono::nanoseconds(0);
    return std::min<std::chrono::nanoseconds>(deadline - now, std::chrono::hours(24));
}

std::string text_of(std::span<const std::byte> bytes) {
    return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

}  // namespace

Result<std::shared_ptr<Channel>> Channel::open(const Region& region, std::string_view service_port,
                                               const ChannelOptions& options) {
    auto ports = detail::open_client_ports(region, service_port, options);
    if (!ports) return fail(std::move(ports.error()));
    return std::shared_ptr<Channel>(new Channel(region, std::string(service_port), std::move(ports->sender),
                                                std::move(ports->reply_port), std::move(ports->reply_name), options));
}

Channel::Channel(const Region& region, std::string service_port, ipc::PortSender sender, ipc::Port reply_port,
                 std::string reply_name, const ChannelOptions& options)
    : region_(&region), service_port_(std::move(service_port)), reply_name_(std::move(reply_name)), options_(options),
      sender_(std::move(sender)), max_message_(sender_->max_message()), reply_port_(std::move(reply_port)),
      receive_buffer_(reply_port_.max_message()) {}

Channel::~Channel() { (void)ipc::Port::remove(*region_, reply_name_); }

std::size_t Channel::max_message() const {
    const std::size_t overhead = sizeof(FrameHeader) + reply_name_.size();
    return max_message_ > overhead ? max_message_ - overhead : 0;
}

ChannelStats Channel::stats() const {
    std::lock_guard lock(mutex_);
    return stats_;
}

Status Channel::unavailable(const std::string& why) const {
    return Status(StatusCode::Unavailable, "service port '" + service_port_ + "': " + why);
}

bool Channel::reopen_locked(std::string* why) {
    auto reopened = ipc::PortSender::open(*region_, service_port_);
    if (!reopened) {
        *why = reopened.error().message;
        return false;
    }
    sender_.emplace(std::move(*reopened));
    ++sender_generation_;
    if (!sender_->owner_up()) {
        *why = "the server guest is down or was restarted and has not made its port again";
        return false;
    }
    return true;
}

bool Channel::server_up(std::uint64_t* generation) {
    std::lock_guard lock(send_mutex_);
    *generation = sender_generation_;
    return sender_ && sender_->owner_up();
}

std::shared_ptr<Channel::Pending> Channel::begin(std::uint32_t method_id, RpcKind kind) {
    auto pending = std::make_shared<Pending>();
    pending->id = next_id_.fetch_add(1, std::memory_order_relaxed);  // relaxed: only uniqueness matters
    pending->method_id = method_id;
    pending->stream = kind == RpcKind::ServerStreaming || kind == RpcKind::BidiStreaming;
    pending->sends = kind == RpcKind::ClientStreaming || kind == RpcKind::BidiStreaming;
    std::lock_guard lock(mutex_);
    pending_.emplace(pending->id, pending);
    ++stats_.calls;
    return pending;
}

void Channel::forget(std::uint64_t id) {
    std::lock_guard lock(mutex_);
    pending_.erase(id);
}

Status Channel::send_request(Pending& pending, const Outgoing& request, Clock::time_point deadline,
                             Clock::time_point room_until) {
    const std::size_t size = request.message != nullptr ? request.message->ByteSizeLong() : request.bytes.size();
    std::lock_guard lock(send_mutex_);
    std::string why;
    if ((!sender_ || !sender_->owner_up()) && !reopen_locked(&why)) return unavailable(why);
    const std::size_t overhead = sizeof(FrameHeader) + reply_name_.size();
    const std::size_t limit = sender_->max_message() > overhead ? sender_->max_message() - overhead : 0;
    if (size > limit)
        return Status(StatusCode::ResourceExhausted, "a request of " + std::to_string(size) +
                                                         " bytes is larger than the maximum of " + std::to_string(limit) +
                                                         " bytes on service port '" + service_port_ + "'");
    const FrameHeader header{kFrameMagic, kFrameVersion, static_cast<std::uint16_t>(FrameKind::Request),
                             pending.method_id, 0, pending.id, to_wire(deadline), static_cast<std::uint32_t>(size),
                             static_cast<std::uint16_t>(reply_name_.size()), 0};
    send_buffer_.resize(overhead + size);
    write_frame_head(send_buffer_, header, reply_name_);
    if (request.message != nullptr)
        request.message->SerializeWithCachedSizesToArray(reinterpret_cast<std::uint8_t*>(send_buffer_.data() + overhead));
    else if (size != 0)
        std::memcpy(send_buffer_.data() + overhead, request.bytes.data(), size);
    for (int attempt = 0;; ++attempt) {
        pending.generation.store(sender_generation_, std::memory_order_relaxed);  // relaxed: read under mutex_ later, after this send
        auto sent = sender_->send(send_buffer_, until(std::min(deadline, room_until)));
        if (sent) return Status();
        if (sent.error().code == make_error_code(RegionError::NotRunning)) {
            // The server may have come back with a new port since we last looked: one more try there.
            if (attempt == 0 && reopen_locked(&why)) continue;
            return unavailable(attempt == 0 ? why : sent.error().message);
        }
        if (sent.error().code == make_error_code(RegionError::NoSpace))
            return Status(StatusCode::ResourceExhausted, sent.error().message);
        return Status(StatusCode::Internal, sent.error().message);
    }
}

Status Channel::send_stream_frame(const Pending& pending, FrameKind kind, const Outgoing& body,
                                  Clock::time_point deadline, const CallContext* context) {
    const std::size_t size = body.message != nullptr ? body.message->ByteSizeLong() : body.bytes.size();
    std::lock_guard lock(send_mutex_);
    // relaxed: written by send_request on this thread, under send_mutex_ as well.
    if (pending.generation.load(std::memory_order_relaxed) != sender_generation_ || !sender_ || !sender_->owner_up())
        return unavailable("the server guest went down (or was restarted) during the stream");
    const std::size_t overhead = sizeof(FrameHeader) + reply_name_.size();
    const std::size_t limit = sender_->max_message() > overhead ? sender_->max_message() - overhead : 0;
    if (size > limit)
        return Status(StatusCode::ResourceExhausted, "a stream message of " + std::to_string(size) +
                                                         " bytes is larger than the maximum of " + std::to_string(limit) +
                                                         " bytes on service port '" + service_port_ + "'");
    const FrameHeader header{kFrameMagic, kFrameVersion, static_cast<std::uint16_t>(kind), pending.method_id, 0, pending.id,
                             0, static_cast<std::uint32_t>(size), static_cast<std::uint16_t>(reply_name_.size()), 0};
    send_buffer_.resize(overhead + size);
    write_frame_head(send_buffer_, header, reply_name_);
    if (body.message != nullptr)
        body.message->SerializeWithCachedSizesToArray(reinterpret_cast<std::uint8_t*>(send_buffer_.data() + overhead));
    else if (size != 0)
        std::memcpy(send_buffer_.data() + overhead, body.bytes.data(), size);
    // A full port is back-pressure; look at the deadline, the context and the server between slices.
    for (;;) {
        auto sent = sender_->send(send_buffer_, std::min<std::chrono::nanoseconds>(until(deadline), kLivenessSlice));
        if (sent) return Status();
        if (sent.error().code == make_error_code(RegionError::NotRunning))
            return unavailable("the server guest went down (or was restarted) during the stream");
        if (sent.error().code != make_error_code(RegionError::NoSpace)) return Status(StatusCode::Internal, sent.error().message);
        if (context != nullptr && context->cancelled()) return Status(StatusCode::Cancelled, "cancelled by the client");
        if (Clock::now() >= deadline)
            return Status(StatusCode::DeadlineExceeded, "service port '" + service_port_ + "' stayed full until the deadline");
        if (!sender_->owner_up()) return unavailable("the server guest went down (or was restarted) during the stream");
    }
}

void Channel::send_cancel(const Pending& pending) {
    std::array<std::byte, sizeof(FrameHeader) + kMaxReplyToLength> frame{};
    const FrameHeader header{kFrameMagic, kFrameVersion, static_cast<std::uint16_t>(FrameKind::Cancel),
                             pending.method_id, 0, pending.id, 0, 0, static_cast<std::uint16_t>(reply_name_.size()), 0};
    write_frame_head(frame, header, reply_name_);
    std::lock_guard lock(send_mutex_);
    // Best effort: a full or absent server port only means the server finds out at the deadline.
    if (sender_ && sender_->owner_up()) (void)sender_->try_send(std::span(frame).first(frame_payload_offset(reply_name_)));
}

void Channel::finish_locked(Pending& pending, Status status) {
    if (pending.done) return;
    pending.done = true;
    pending.status = std::move(status);
    changed_.notify_all();
}

void Channel::fail_all_locked(const Status& status) {
    for (auto& [id, pending] : pending_) finish_locked(*pending, status);
}

void Channel::dispatch_locked(std::span<const std::byte> bytes) {
    auto frame = parse_frame(bytes);
    if (!frame) {
        ++stats_.malformed;
        // The header may still name a call: that call ends with the error; nothing else is trusted.
        if (bytes.size() >= sizeof(FrameHeader)) {
            FrameHeader header;
            std::memcpy(&header, bytes.data(), sizeof header);
            if (auto it = pending_.find(header.request_id); it != pending_.end())
                finish_locked(*it->second, Status(StatusCode::Internal, "malformed reply on '" + reply_name_ + "': " + frame.error()));
        }
        return;
    }
    const FrameHeader& h = frame->header;
    auto it = pending_.find(h.request_id);
    if (it == pending_.end() || it->second->done) {
        ++stats_.late;
        return;
    }
    Pending& pending = *it->second;
    const auto malformed = [&](const std::string& why) {
        ++stats_.malformed;
        finish_locked(pending, Status(StatusCode::Internal, "malformed reply on '" + reply_name_ + "': " + why));
    };
    if (h.method_id != pending.method_id) return malformed("it answers another method than the one called");
    const auto code = static_cast<StatusCode>(h.status);
    switch (frame->kind) {
        case FrameKind::Reply:
            // A refusal (an unknown method, no stream thread free) ends a call of any kind.
            if (pending.stream && code == StatusCode::Ok) return malformed("a unary reply to a streaming call");
            if (code == StatusCode::Ok) pending.reply.assign(frame->payload.begin(), frame->payload.end());
            return finish_locked(pending, Status(code, code == StatusCode::Ok ? std::string() : text_of(frame->payload)));
        case FrameKind::StreamItem:
            if (!pending.stream) return malformed("a stream item for a unary call");
            if (h.status != 0) return malformed("a stream item with a status");
            if (pending.sends && pending.items.size() + pending.uncredited >= kStreamWindow)
                return malformed("the server sent more than " + std::to_string(kStreamWindow) +
                                 " stream messages beyond its credit");
            if (pending.items.size() >= options_.stream_queue_limit) {
                pending.tell_server = true;
                return finish_locked(pending, Status(StatusCode::ResourceExhausted,
                                                     "more than " + std::to_string(options_.stream_queue_limit) +
                                                         " stream messages arrived unread; the stream was ended"));
            }
            pending.items.emplace_back(frame->payload.begin(), frame->payload.end());
            changed_.notify_all();
            return;
        case FrameKind::StreamEnd:
            if (!pending.stream) return malformed("a stream end for a unary call");
            return finish_locked(pending, Status(code, code == StatusCode::Ok ? std::string() : text_of(frame->payload)));
        case FrameKind::ServerCredit:
            if (!pending.sends) return malformed("a credit for a call that sends no stream");
            if (pending.send_credit + frame->credit > kStreamWindow)
                return malformed("the server credited more stream messages than were sent");
            pending.send_credit += frame->credit;
            changed_.notify_all();
            return;
        case FrameKind::Request:
        case FrameKind::Cancel:
        case FrameKind::ClientItem:
        case FrameKind::ClientDone:
        case FrameKind::ClientCredit: return malformed("a client's frame on a reply port");
    }
}

void Channel::wait(std::unique_lock<std::mutex>& lock, Pending& pending, Clock::time_point deadline,
                   const CallContext* context, Want want) {
    for (;;) {
        if (pending.done || (want == Want::Item && !pending.items.empty()) || (want == Want::Credit && pending.send_credit > 0))
            return;
        const auto now = Clock::now();
        if (context != nullptr && context->cancelled()) {
            pending.tell_server = true;
            return finish_locked(pending, Status(StatusCode::Cancelled, "cancelled by the client"));
        }
        if (now >= deadline) {
            pending.tell_server = true;
            return finish_locked(pending, Status(StatusCode::DeadlineExceeded,
                                                 "no reply from service port '" + service_port_ + "' by the deadline"));
        }
        const auto slice_end = std::min(deadline, now + kLivenessSlice);
        if (receiving_) {
            changed_.wait_until(lock, slice_end);
            continue;
        }
        receiving_ = true;
        const auto last_check = last_liveness_check_;
        lock.unlock();
        auto got = reply_port_.receive(receive_buffer_, slice_end - now);
        std::uint64_t generation = 0;
        bool up = true;
        bool checked = false;
        if ((got && !*got) || Clock::now() - last_check >= kLivenessSlice) {
            up = server_up(&generation);
            checked = true;
        }
        lock.lock();
        receiving_ = false;
        changed_.notify_all();  // the role is free for another waiter
        if (!got) {
            fail_all_locked(Status(StatusCode::Internal, "reply port '" + reply_name_ + "': " + got.error().message));
        } else if (*got) {
            dispatch_locked(std::span(receive_buffer_).first(**got));
        }
        if (checked) check_liveness_locked(up, generation);
    }
}

void Channel::check_liveness_locked(bool up, std::uint64_t generation) {
    last_liveness_check_ = Clock::now();
    for (auto& [id, other] : pending_) {
        const std::uint64_t sent_to = other->generation.load(std::memory_order_relaxed);
        if (other->done || sent_to == ~0ULL) continue;  // not sent yet
        if (!up || sent_to != generation)
            finish_locked(*other, unavailable("the server guest went down (or was restarted) during the call"));
    }
}

Status Channel::start_for_loop(std::uint32_t method_id, RpcKind kind, const google::protobuf::MessageLite& request,
                               Clock::time_point deadline, std::uint64_t* id) {
    if (deadline <= Clock::now()) return Status(StatusCode::DeadlineExceeded, "the deadline passed before the call");
    auto pending = begin(method_id, kind);
    {
        std::lock_guard lock(mutex_);
        pending->deadline = deadline;
    }
    // An event loop must not block: one try to send (deadline "now"), the real deadline on the wire.
    if (Status sent = send_request(*pending, {&request, {}}, deadline, Clock::now()); !sent.ok()) {
        forget(pending->id);
        return sent;
    }
    *id = pending->id;
    return Status();
}

Status Channel::start_unary(std::uint32_t method_id, const google::protobuf::MessageLite& request,
                            Clock::time_point deadline, std::uint64_t* id) {
    return start_for_loop(method_id, RpcKind::Unary, request, deadline, id);
}

Status Channel::start_server_stream(std::uint32_t method_id, const google::protobuf::MessageLite& request,
                                    Clock::time_point deadline, std::uint64_t* id) {
    return start_for_loop(method_id, RpcKind::ServerStreaming, request, deadline, id);
}

std::vector<Channel::StreamItems> Channel::take_stream_items() {
    std::vector<StreamItems> taken;
    std::lock_guard lock(mutex_);
    for (auto& [id, pending] : pending_)
        if (!pending->items.empty()) taken.push_back({id, std::exchange(pending->items, {})});
    return taken;
}

void Channel::deliver(std::span<const std::byte> frame) {
    std::lock_guard lock(mutex_);
    dispatch_locked(frame);
}

void Channel::cancel(std::uint64_t id) { end(id, Status(StatusCode::Cancelled, "cancelled by the client")); }

void Channel::end(std::uint64_t id, Status status) {
    std::shared_ptr<Pending> pending;
    {
        std::lock_guard lock(mutex_);
        auto it = pending_.find(id);
        if (it == pending_.end() || it->second->done) return;
        pending = it->second;
        finish_locked(*pending, std::move(status));
    }
    send_cancel(*pending);
}

std::size_t Channel::pending_calls() const {
    std::lock_guard lock(mutex_);
    return pending_.size();
}

std::vector<Channel::Completed> Channel::take_completed() {
    std::uint64_t generation = 0;
    const bool up = server_up(&generation);
    std::vector<Completed> done;
    std::vector<std::shared_ptr<Pending>> tell;
    {
        std::lock_guard lock(mutex_);
        const auto now = Clock::now();
        for (auto& [id, pending] : pending_) {
            if (!pending->done && now >= pending->deadline) {
                pending->tell_server = true;
                finish_locked(*pending, Status(StatusCode::DeadlineExceeded,
                                               "no reply from service port '" + service_port_ + "' by the deadline"));
            }
        }
        check_liveness_locked(up, generation);
        for (auto it = pending_.begin(); it != pending_.end();) {
            if (!it->second->done) {
                ++it;
                continue;
            }
            if (it->second->tell_server) tell.push_back(it->second);
            done.push_back({it->first, std::move(it->second->status), std::move(it->second->reply)});
            it = pending_.erase(it);
        }
    }
    for (const auto& pending : tell) send_cancel(*pending);
    return done;
}

Status Channel::unary(std::uint32_t method_id, const Outgoing& request, CallContext& context, std::vector<std::byte>& reply) {
    if (context.cancelled()) return Status(StatusCode::Cancelled, "cancelled by the client before the call");
    if (context.deadline() <= Clock::now()) return Status(StatusCode::DeadlineExceeded, "the deadline passed before the call");
    auto pending = begin(method_id, RpcKind::Unary);
    if (Status sent = send_request(*pending, request, context.deadline()); !sent.ok()) {
        forget(pending->id);
        return sent;
    }
    std::unique_lock lock(mutex_);
    wait(lock, *pending, context.deadline(), &context, Want::End);
    pending_.erase(pending->id);
    const bool tell = pending->tell_server;
    Status status = pending->status;
    reply = std::move(pending->reply);
    lock.unlock();
    if (tell) send_cancel(*pending);
    return status;
}

Status Channel::call(std::uint32_t method_id, const google::protobuf::MessageLite& request,
                     google::protobuf::MessageLite& response, CallContext& context) {
    std::vector<std::byte> reply;
    Status status = unary(method_id, {&request, {}}, context, reply);
    if (status.ok() && !response.ParseFromArray(reply.data(), static_cast<int>(reply.size())))
        return Status(StatusCode::Internal, "the reply of " + std::to_string(reply.size()) + " bytes does not parse as " +
                                                response.GetTypeName());
    return status;
}

Status Channel::call_bytes(std::uint32_t method_id, std::span<const std::byte> request, std::vector<std::byte>& response,
                           CallContext& context) {
    return unary(method_id, {nullptr, request}, context, response);
}

StreamCall Channel::start(std::uint32_t method_id, const Outgoing& request, Clock::time_point deadline,
                          const CallContext* context) {
    auto pending = begin(method_id, RpcKind::ServerStreaming);
    Status sent;
    if (context != nullptr && context->cancelled()) sent = Status(StatusCode::Cancelled, "cancelled by the client before the call");
    else if (deadline <= Clock::now()) sent = Status(StatusCode::DeadlineExceeded, "the deadline passed before the call");
    else sent = send_request(*pending, request, deadline);
    if (!sent.ok()) {
        std::lock_guard lock(mutex_);
        finish_locked(*pending, std::move(sent));
    }
    return StreamCall(shared_from_this(), std::move(pending), deadline, context);
}

StreamCall Channel::start_stream(std::uint32_t method_id, const google::protobuf::MessageLite& request,
                                 CallContext& context) {
    return start(method_id, {&request, {}}, context.deadline(), &context);
}

StreamCall Channel::start_stream(std::uint32_t method_id, const google::protobuf::MessageLite& request,
                                 std::chrono::nanoseconds timeout) {
    return start(method_id, {&request, {}}, Clock::now() + timeout, nullptr);
}

StreamCall Channel::start_stream_bytes(std::uint32_t method_id, std::span<const std::byte> request, CallContext& context) {
    return start(method_id, {nullptr, request}, context.deadline(), &context);
}

StreamCall::StreamCall(StreamCall&& other) noexcept
    : channel_(std::move(other.channel_)), pending_(std::move(other.pending_)), deadline_(other.deadline_),
      context_(other.context_), final_(std::move(other.final_)) {}

StreamCall& StreamCall::operator=(StreamCall&& other) noexcept {
    if (this != &other) {
        if (pending_ && !final_) cancel();
        channel_ = std::move(other.channel_);
        pending_ = std::move(other.pending_);
        deadline_ = other.deadline_;
        context_ = other.context_;
        final_ = std::move(other.final_);
    }
    return *this;
}

StreamCall::~StreamCall() {
    if (pending_ && !final_) cancel();
}

void StreamCall::release() {
    channel_->forget(pending_->id);
}

bool StreamCall::read_bytes(std::vector<std::byte>& item) {
    if (final_ || !pending_) return false;
    std::unique_lock lock(channel_->mutex_);
    channel_->wait(lock, *pending_, deadline_, context_, Channel::Want::Item);
    if (!pending_->items.empty()) {
        item = std::move(pending_->items.front());
        pending_->items.pop_front();
        return true;
    }
    end(lock);
    return false;
}

bool StreamCall::read(google::protobuf::MessageLite& item) {
    std::vector<std::byte> bytes;
    if (!read_bytes(bytes)) return false;
    if (item.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return true;
    std::unique_lock lock(channel_->mutex_);
    pending_->items.clear();
    pending_->tell_server = true;
    channel_->finish_locked(*pending_, Status(StatusCode::Internal, "a stream message of " + std::to_string(bytes.size()) +
                                                                       " bytes does not parse as " + item.GetTypeName()));
    end(lock);
    return false;
}

void StreamCall::end(std::unique_lock<std::mutex>& lock) {
    final_ = pending_->status;
    const bool tell = pending_->tell_server;
    lock.unlock();
    if (tell) channel_->send_cancel(*pending_);
    release();
}

Status StreamCall::finish() {
    if (!pending_) return Status(StatusCode::FailedPrecondition, "finish() on a moved-from stream");
    if (!final_) {
        std::unique_lock lock(channel_->mutex_);
        while (!pending_->done) {
            channel_->wait(lock, *pending_, deadline_, context_, Channel::Want::Item);
            pending_->items.clear();  // unread messages are dropped
        }
        final_ = pending_->status;
        const bool tell = pending_->tell_server;
        lock.unlock();
        if (tell) channel_->send_cancel(*pending_);
        release();
    }
    return *final_;
}

void StreamCall::cancel() {
    if (final_ || !pending_) return;
    {
        std::lock_guard lock(channel_->mutex_);
        channel_->finish_locked(*pending_, Status(StatusCode::Cancelled, "cancelled by the client"));
        pending_->items.clear();
        final_ = pending_->status;
    }
    channel_->send_cancel(*pending_);
    release();
}

}  // namespace nk::rpc
