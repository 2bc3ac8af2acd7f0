// Server (server.hpp): one receiver thread, `threads` handler threads, a bounded queue between.
//
// A call is identified by (reply port name, request id): request ids are the client's, unique per
// reply port. Its CallState (cancellation flag, a client stream's items) is made when the request
// is queued, so a Cancel frame or a client's item finds a call that waits in the queue as well as
// one that runs; it is dropped when the call ends.
#include "nk/rpc/server.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <exception>
#include <thread>
#include <utility>

#include "call_state.hpp"
#include "nk/rpc/frame.hpp"

namespace nk::rpc {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kReceiveSlice = std::chrono::milliseconds(20);  // how soon the receiver notices stop()
constexpr auto kSendSlice = std::chrono::milliseconds(20);     // how soon a blocked reply notices a cancel
constexpr std::size_t kMaxReplyPorts = 64;                     // cached reply senders per thread

}  // namespace

bool ServerContext::cancelled() const {
    // relaxed: a flag polled by the handler; nothing is published through it.
    return (cancelled_ != nullptr && cancelled_->load(std::memory_order_relaxed)) || Clock::now() >= deadline_;
}

bool ServerCall::parse(google::protobuf::MessageLite& request) const {
    return request.ParseFromArray(request_.data(), static_cast<int>(request_.size()));
}

Status ServerCall::reply(const google::protobuf::MessageLite& response) {
    if (finished_) return Status(StatusCode::FailedPrecondition, "the call was already answered");
    Status sent = send_(static_cast<std::uint16_t>(FrameKind::Reply), 0, &response, {}, false);
    if (sent.ok()) finished_ = true;
    return sent;
}

Status ServerCall::reply_bytes(std::span<const std::byte> response) {
    if (finished_) return Status(StatusCode::FailedPrecondition, "the call was already answered");
    Status sent = send_(static_cast<std::uint16_t>(FrameKind::Reply), 0, nullptr, response, false);
    if (sent.ok()) finished_ = true;
    return sent;
}

template <class Ready>
bool ServerCall::wait_stream(std::unique_lock<std::mutex>& lock, Ready ready) {
    auto next_client_check = Clock::now() + kSendSlice;
    for (;;) {
        if (!state_->violation.empty()) {
            stream_failure_ = Status(StatusCode::InvalidArgument, state_->violation);
            return false;
        }
        if (ready()) return true;
        if (context_.cancelled()) return false;
        state_->changed.wait_until(lock, std::min(context_.deadline_, Clock::now() + kSendSlice));
        if (Clock::now() >= next_client_check) {
            // A client whose guest went down sends no Cancel: look at its reply port's owner.
            lock.unlock();
            const bool up = client_up_();
            lock.lock();
            if (!up) {
                stream_failure_ = Status(StatusCode::Unavailable, "the client's guest went down during the stream");
                return false;
            }
            next_client_check = Clock::now() + kSendSlice;
        }
    }
}

void ServerCall::return_credit(std::uint32_t items) {
    std::array<std::byte, kCreditPayload> payload{};
    std::memcpy(payload.data(), &items, sizeof items);
    Status sent = send_(static_cast<std::uint16_t>(FrameKind::ServerCredit), 0, nullptr, payload, false);
    if (!sent.ok() && !stream_failure_) stream_failure_ = std::move(sent);
}

bool ServerCall::read(google::protobuf::MessageLite& item) {
    std::vector<std::byte> bytes;
    if (!read_bytes(bytes)) return false;
    if (item.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return true;
    stream_failure_ = Status(StatusCode::InvalidArgument, "a client stream message of " + std::to_string(bytes.size()) +
                                                              " bytes does not parse as " + item.GetTypeName());
    return false;
}

bool ServerCall::read_bytes(std::vector<std::byte>& item) {
    if (state_ == nullptr || (kind_ != RpcKind::ClientStreaming && kind_ != RpcKind::BidiStreaming)) return false;
    if (finished_ || stream_failure_) return false;
    std::uint32_t credit = 0;
    {
        std::unique_lock lock(state_->mutex);
        if (!wait_stream(lock, [&] { return !state_->inbound.empty() || state_->client_done; })) return false;
        if (state_->inbound.empty()) return false;  // the client's stream ended
        item = std::move(state_->inbound.front());
        state_->inbound.pop_front();
        if (++state_->uncredited >= kCreditBatch) credit = std::exchange(state_->uncredited, 0);
    }
    if (credit != 0) return_credit(credit);
    return !stream_failure_;
}

bool ServerCall::write(const google::protobuf::MessageLite& item) { return write_item(&item, {}); }

bool ServerCall::write_bytes(std::span<const std::byte> item) { return write_item(nullptr, item); }

bool ServerCall::write_item(const google::protobuf::MessageLite* item, std::span<const std::byte> bytes) {
    if (finished_ || stream_failure_ || context_.cancelled()) return false;
    if (kind_ == RpcKind::ClientStreaming || kind_ == RpcKind::Unary) return false;  // one reply: reply()
    if (kind_ == RpcKind::BidiStreaming) {
        // The client's window: wait while it has kStreamWindow of our items unread.
        std::unique_lock lock(state_->mutex);
        if (!wait_stream(lock, [&] { return state_->send_credit > 0; })) return false;
        --state_->send_credit;
    }
    Status sent = send_(static_cast<std::uint16_t>(FrameKind::StreamItem), 0, item, bytes, false);
    if (!sent.ok()) stream_failure_ = std::move(sent);
    return !stream_failure_;
}

// The reply ports one thread sends to, opened on first use. A PortSender is one thread's at a time,
// so each thread has its own.
class Server::ReplyPorts {
public:
    explicit ReplyPorts(const Region& region) : region_(&region) {}

    Result<ipc::PortSender*> get(const std::string& name) {
        if (auto it = senders_.find(name); it != senders_.end()) {
            if (it->second.owner_up()) return &it->second;
            senders_.erase(it);  // that client's guest went away or restarted: look again
        }
        if (senders_.size() >= kMaxReplyPorts) senders_.clear();
        auto opened = ipc::PortSender::open(*region_, name);
        if (!opened) return fail(std::move(opened.error()));
        return &senders_.emplace(name, std::move(*opened)).first->second;
    }
    void drop(const std::string& name) { senders_.erase(name); }

private:
    const Region* region_;
    std::map<std::string, ipc::PortSender> senders_;
};

struct Server::Work {
    FrameHeader header;
    std::string reply_to;
    std::vector<std::byte> payload;
    Route route;
    std::shared_ptr<detail::CallState> state;
};

Server::Server(const Region& region, std::string port_name, ServerOptions options)
    : region_(&region), port_name_(std::move(port_name)), options_(std::move(options)) {}

Server::~Server() { stop(); }

Result<void> Server::add(Service& service) {
    if (port_) return fail(RegionError::InvalidArgument, "add services before Server::start()");
    const auto methods = service.methods();
    for (std::size_t i = 0; i < methods.size(); ++i) {
        const MethodInfo& method = methods[i];
        if (method.id != method_id(method.full_name))
            return fail(RegionError::InvalidArgument, "method " + std::string(method.full_name) + " has a wrong id");
        if (auto it = routes_.find(method.id); it != routes_.end())
            return fail(RegionError::Exists, "method " + std::string(method.full_name) + " has the id of " +
                                                 std::string(it->second.info->full_name) + " (registered twice?)");
    }
    for (std::size_t i = 0; i < methods.size(); ++i) routes_.emplace(methods[i].id, Route{&service, i, &methods[i]});
    return {};
}

Result<void> Server::start() {
    if (port_) return fail(RegionError::InvalidArgument, "server on '" + port_name_ + "' already started");
    if (options_.threads == 0 || options_.queue_limit == 0)
        return fail(RegionError::InvalidArgument, "a server needs at least one handler thread and queue slot");
    const bool has_streams = std::any_of(routes_.begin(), routes_.end(), [](const auto& route) {
        return route.second.info->kind == RpcKind::ClientStreaming || route.second.info->kind == RpcKind::BidiStreaming;
    });
    if (has_streams && options_.stream_threads == 0)
        return fail(RegionError::InvalidArgument, "a server with client or bidirectional streams needs a stream thread");
    auto port = ipc::Port::create(*region_, port_name_, options_.port);
    if (!port) return fail(context(std::move(port.error()), "start rpc server"));
    port_.emplace(std::move(*port));
    stopping_.store(false, std::memory_order_relaxed);  // relaxed: the threads start after this store
    receiver_replies_ = std::make_unique<ReplyPorts>(*region_);
    receiver_ = std::thread([this] { receive_loop(); });
    for (std::size_t i = 0; i < options_.threads; ++i) handlers_.emplace_back([this] { handler_loop(false); });
    for (std::size_t i = 0; has_streams && i < options_.stream_threads; ++i)
        handlers_.emplace_back([this] { handler_loop(true); });
    return {};
}

void Server::stop() {
    if (!port_) return;
    {
        std::lock_guard lock(mutex_);
        stopping_.store(true, std::memory_order_relaxed);  // relaxed: read under mutex_ or polled per slice
        for (auto& [key, state] : active_) state->cancel();  // running handlers stop early
    }
    work_ready_.notify_all();
    stream_ready_.notify_all();
    room_.notify_all();
    receiver_.join();
    for (auto& handler : handlers_) handler.join();
    handlers_.clear();
    receiver_replies_.reset();
    port_.reset();
    (void)ipc::Port::remove(*region_, port_name_);
}

ServerStats Server::stats() const {
    std::lock_guard lock(mutex_);
    return stats_;
}

void Server::answer_now(std::string_view reply_to, std::uint64_t request_id, std::uint32_t method_id, StatusCode code,
                        const std::string& text) {
    auto sender = receiver_replies_->get(std::string(reply_to));
    if (!sender) return;
    const std::size_t room = (*sender)->max_message() - sizeof(FrameHeader);
    const std::string_view message = std::string_view(text).substr(0, room);
    std::vector<std::byte> frame(sizeof(FrameHeader) + message.size());
    const FrameHeader header{kFrameMagic, kFrameVersion, static_cast<std::uint16_t>(FrameKind::Reply), method_id,
                             static_cast<std::uint32_t>(code), request_id, 0, static_cast<std::uint32_t>(message.size()), 0, 0};
    write_frame_head(frame, header, {});
    std::memcpy(frame.data() + sizeof header, message.data(), message.size());
    // The receiver must not block on one slow client: a full reply port loses this answer and
    // that caller waits for its deadline.
    if ((*sender)->try_send(frame) != ipc::SendStatus::Ok) {
        std::lock_guard lock(mutex_);
        ++stats_.reply_failures;
    }
}

void Server::receive_loop() {
    std::vector<std::byte> buffer(port_->max_message());
    while (!stopping_.load(std::memory_order_relaxed)) {
        auto got = port_->receive(buffer, kReceiveSlice);
        if (!got) {
            // The ring itself is damaged (a peer scribbled on it): nothing more can be read safely.
            std::unique_lock lock(mutex_);
            ++stats_.malformed;
            room_.wait_for(lock, kReceiveSlice);
            continue;
        }
        if (!*got) continue;
        auto frame = parse_frame(std::span(buffer).first(**got));
        if (!frame || !names_reply_port(frame->kind)) {  // not a frame, or one only a server sends
            std::lock_guard lock(mutex_);
            ++stats_.malformed;
            continue;
        }
        const FrameHeader& h = frame->header;
        if (frame->kind == FrameKind::Cancel) {
            std::lock_guard lock(mutex_);
            if (auto it = active_.find(ActiveKey{std::string(frame->reply_to), h.request_id}); it != active_.end()) {
                it->second->cancel();
                ++stats_.cancelled;
            }
            continue;
        }
        if (frame->kind != FrameKind::Request) {
            deliver_to_stream(*frame);
            continue;
        }
        {
            std::lock_guard lock(mutex_);
            ++stats_.requests;
        }
        const auto route = routes_.find(h.method_id);
        if (route == routes_.end()) {
            {
                std::lock_guard lock(mutex_);
                ++stats_.unimplemented;
            }
            answer_now(frame->reply_to, h.request_id, h.method_id, StatusCode::Unimplemented,
                       "no method with id " + std::to_string(h.method_id) + " is served on port '" + port_name_ + "'");
            continue;
        }
        const RpcKind kind = route->second.info->kind;
        auto work = std::make_unique<Work>(Work{h, std::string(frame->reply_to),
                                                std::vector<std::byte>(frame->payload.begin(), frame->payload.end()),
                                                route->second, std::make_shared<detail::CallState>(kind, h.method_id)});
        if (kind == RpcKind::ClientStreaming || kind == RpcKind::BidiStreaming) {
            start_stream(std::move(work));
            continue;
        }
        std::unique_lock lock(mutex_);
        room_.wait(lock, [&] { return queue_.size() < options_.queue_limit || stopping_.load(std::memory_order_relaxed); });
        if (stopping_.load(std::memory_order_relaxed)) break;
        active_[ActiveKey{work->reply_to, h.request_id}] = work->state;
        queue_.push_back(std::move(work));
        work_ready_.notify_one();
        lock.unlock();
        // Let the woken handler run now. Where it shares this thread's CPU, the receiver would
        // otherwise spin in the port's wait (20 µs) before it: the caller's own spin ran out first,
        // and it paid a sleeping wake-up (~60 µs on the development VM) on about one call in six.
        std::this_thread::yield();
    }
}

void Server::start_stream(std::unique_ptr<Work> work) {
    const FrameHeader& h = work->header;
    std::string refusal;
    StatusCode code = StatusCode::Ok;
    {
        std::lock_guard lock(mutex_);
        if (!work->payload.empty()) {
            ++stats_.malformed;
            code = StatusCode::InvalidArgument;
            refusal = std::string(work->route.info->full_name) + ": a stream opens with an empty request; its messages follow";
        } else if (streams_running_ + stream_queue_.size() >= options_.stream_threads) {
            // Never queued behind a running stream: that one may hold its thread for as long as it lives.
            ++stats_.streams_refused;
            code = StatusCode::ResourceExhausted;
            refusal = "all " + std::to_string(options_.stream_threads) + " stream threads of port '" + port_name_ +
                      "' are busy";
        } else {
            active_[ActiveKey{work->reply_to, h.request_id}] = work->state;
            stream_queue_.push_back(std::move(work));
            stream_ready_.notify_one();
            return;
        }
    }
    answer_now(work->reply_to, h.request_id, h.method_id, code, refusal);
}

void Server::deliver_to_stream(const Frame& frame) {
    std::shared_ptr<detail::CallState> state;
    {
        std::lock_guard lock(mutex_);
        auto it = active_.find(ActiveKey{std::string(frame.reply_to), frame.header.request_id});
        if (it == active_.end()) {
            ++stats_.late_items;  // the call ended (its handler returned, or it was refused)
            return;
        }
        const detail::CallState& call = *it->second;
        const bool fits = call.kind == RpcKind::BidiStreaming ||
                          (call.kind == RpcKind::ClientStreaming && frame.kind != FrameKind::ClientCredit);
        if (!fits || frame.header.method_id != call.method_id) {
            ++stats_.malformed;  // the call does not take such frames: dropped, the call goes on
            return;
        }
        state = it->second;
    }
    std::lock_guard lock(state->mutex);
    switch (frame.kind) {
        case FrameKind::ClientItem:
            if (state->client_done) state->violation = "a client stream message after the client's end of the stream";
            else if (state->inbound.size() + state->uncredited >= kStreamWindow)
                state->violation = "the client sent more than " + std::to_string(kStreamWindow) +
                                   " stream messages beyond its credit";
            else state->inbound.emplace_back(frame.payload.begin(), frame.payload.end());
            break;
        case FrameKind::ClientDone: state->client_done = true; break;
        case FrameKind::ClientCredit:
            if (state->send_credit + frame.credit > kStreamWindow)
                state->violation = "the client credited more stream messages than were sent";
            else state->send_credit += frame.credit;
            break;
        default: break;  // the receiver hands only these three here
    }
    state->changed.notify_all();
}

void Server::handler_loop(bool streams) {
    ReplyPorts replies(*region_);
    std::vector<std::byte> arena_block(options_.arena_block);
    auto& queue = streams ? stream_queue_ : queue_;
    auto& ready = streams ? stream_ready_ : work_ready_;
    for (;;) {
        std::unique_ptr<Work> work;
        {
            std::unique_lock lock(mutex_);
            ready.wait(lock, [&] { return stopping_.load(std::memory_order_relaxed) || !queue.empty(); });
            if (queue.empty()) return;
            work = std::move(queue.front());
            queue.pop_front();
            if (streams) ++streams_running_;
            else room_.notify_one();
        }
        const ActiveKey key{work->reply_to, work->header.request_id};
        if (work->state->cancelled.load(std::memory_order_relaxed) || Clock::now() >= from_wire(work->header.deadline_ns)) {
            std::lock_guard lock(mutex_);
            ++stats_.expired;
            active_.erase(key);
            if (streams) --streams_running_;
            continue;
        }
        serve(*work, replies, arena_block);
        std::lock_guard lock(mutex_);
        active_.erase(key);
        if (streams) --streams_running_;
    }
}

void Server::serve(Work& work, ReplyPorts& replies, std::span<std::byte> arena_block) {
    const FrameHeader& h = work.header;
    ServerCall call;
    call.context_.deadline_ = from_wire(h.deadline_ns);
    call.context_.method_ = work.route.info->full_name;
    call.context_.request_id_ = h.request_id;
    call.context_.cancelled_ = &work.state->cancelled;
    call.state_ = work.state.get();
    call.kind_ = work.route.info->kind;
    call.request_ = work.payload;
    call.arena_block_ = arena_block.data();
    call.arena_block_size_ = arena_block.size();
    std::vector<std::byte> frame;
    call.max_reply_ = [&]() -> std::size_t {
        auto sender = replies.get(work.reply_to);
        return sender ? (*sender)->max_message() - sizeof(FrameHeader) : 0;
    };
    call.client_up_ = [&] {
        auto sender = replies.get(work.reply_to);
        return sender && (*sender)->owner_up();
    };
    call.send_ = [&](std::uint16_t kind, std::uint32_t status, const google::protobuf::MessageLite* message,
                     std::span<const std::byte> bytes, bool is_text) -> Status {
        auto sender = replies.get(work.reply_to);
        if (!sender) return Status(StatusCode::Unavailable, "reply port: " + sender.error().message);
        const std::size_t room = (*sender)->max_message() - sizeof(FrameHeader);
        const std::size_t size = message != nullptr ? message->ByteSizeLong()
                                 : is_text         ? std::min(bytes.size(), room)
                                                   : bytes.size();
        if (size > room)
            return Status(StatusCode::ResourceExhausted, "a response of " + std::to_string(size) +
                                                             " bytes is larger than the maximum of " + std::to_string(room) +
                                                             " bytes the client's reply port takes");
        frame.resize(sizeof(FrameHeader) + size);
        const FrameHeader header{kFrameMagic, kFrameVersion, kind, h.method_id, status, h.request_id, 0,
                                 static_cast<std::uint32_t>(size), 0, 0};
        write_frame_head(frame, header, {});
        if (message != nullptr) message->SerializeWithCachedSizesToArray(reinterpret_cast<std::uint8_t*>(frame.data() + sizeof header));
        else if (size != 0) std::memcpy(frame.data() + sizeof header, bytes.data(), size);
        // A client that does not read is back-pressure: wait for room while the call lives.
        for (;;) {
            const auto left = call.context_.deadline_ - Clock::now();
            auto sent = (*sender)->send(frame, std::clamp<std::chrono::nanoseconds>(left, std::chrono::nanoseconds(0), kSendSlice));
            if (sent) return Status();
            const bool full = sent.error().code == make_error_code(RegionError::NoSpace);
            if (full && !call.context_.cancelled()) continue;
            {
                std::lock_guard lock(mutex_);
                ++stats_.reply_failures;
            }
            if (!full) replies.drop(work.reply_to);
            return Status(full ? StatusCode::Cancelled : StatusCode::Unavailable, sent.error().message);
        }
    };
    Status status;
    try {
        status = work.route.service->dispatch(work.route.index, call);
    } catch (const std::exception& e) {
        status = Status(StatusCode::Internal, std::string(work.route.info->full_name) + ": the handler threw: " + e.what());
    } catch (...) {
        status = Status(StatusCode::Internal, std::string(work.route.info->full_name) + ": the handler threw");
    }
    if (call.finished_ || call.context_.cancelled()) return;  // answered, or nobody waits for the answer
    // What broke the stream (an oversized message, a client message that does not parse, the
    // client gone) is why the call ends, whatever the handler returned after it.
    if (call.stream_failure_) status = *call.stream_failure_;
    const RpcKind rpc_kind = work.route.info->kind;
    const auto kind = rpc_kind == RpcKind::Unary || rpc_kind == RpcKind::ClientStreaming ? FrameKind::Reply : FrameKind::StreamEnd;
    if (kind == FrameKind::Reply && status.ok())
        status = Status(StatusCode::Internal, std::string(work.route.info->full_name) + ": the handler sent no reply");
    (void)call.send_(static_cast<std::uint16_t>(kind), static_cast<std::uint32_t>(status.code()), nullptr,
                     std::as_bytes(std::span(status.message().data(), status.message().size())), true);
}

}  // namespace nk::rpc
