// Server (server.hpp): one receiver thread, `threads` handler threads, a bounded queue between.
//
// A call is identified by (reply port name, request id): request ids are the client's, unique per
// reply port. Its cancellation flag is made when the request is queued, so a Cancel frame finds a
// call that waits in the queue as well as one that runs; the flag is dropped when the call ends.
#include "nk/rpc/server.hpp"

#include <algorithm>
#include <cstring>
#include <exception>

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

bool ServerCall::write(const google::protobuf::MessageLite& item) {
    if (finished_ || stream_failure_ || context_.cancelled()) return false;
    Status sent = send_(static_cast<std::uint16_t>(FrameKind::StreamItem), 0, &item, {}, false);
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
    std::shared_ptr<std::atomic<bool>> cancelled;
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
    auto port = ipc::Port::create(*region_, port_name_, options_.port);
    if (!port) return fail(context(std::move(port.error()), "start rpc server"));
    port_.emplace(std::move(*port));
    stopping_.store(false, std::memory_order_relaxed);  // relaxed: the threads start after this store
    receiver_replies_ = std::make_unique<ReplyPorts>(*region_);
    receiver_ = std::thread([this] { receive_loop(); });
    for (std::size_t i = 0; i < options_.threads; ++i) handlers_.emplace_back([this] { handler_loop(); });
    return {};
}

void Server::stop() {
    if (!port_) return;
    {
        std::lock_guard lock(mutex_);
        stopping_.store(true, std::memory_order_relaxed);  // relaxed: read under mutex_ or polled per slice
        for (auto& [key, flag] : active_) flag->store(true, std::memory_order_relaxed);  // running handlers stop early
    }
    work_ready_.notify_all();
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
        if (!frame || (frame->kind != FrameKind::Request && frame->kind != FrameKind::Cancel)) {
            std::lock_guard lock(mutex_);
            ++stats_.malformed;
            continue;
        }
        const FrameHeader& h = frame->header;
        if (frame->kind == FrameKind::Cancel) {
            std::lock_guard lock(mutex_);
            if (auto it = active_.find(ActiveKey{std::string(frame->reply_to), h.request_id}); it != active_.end()) {
                it->second->store(true, std::memory_order_relaxed);
                ++stats_.cancelled;
            }
            continue;
        }
        {
            std::lock_guard lock(mutex_);
            ++stats_.requests;
        }
        const auto route = routes_.find(h.method_id);
        if (route == routes_.end() || route->second.info->kind == RpcKind::ClientStreaming ||
            route->second.info->kind == RpcKind::BidiStreaming) {
            {
                std::lock_guard lock(mutex_);
                ++stats_.unimplemented;
            }
            answer_now(frame->reply_to, h.request_id, h.method_id, StatusCode::Unimplemented,
                       route == routes_.end()
                           ? "no method with id " + std::to_string(h.method_id) + " is served on port '" + port_name_ + "'"
                           : std::string(route->second.info->full_name) + ": client and bidirectional streaming are not supported yet");
            continue;
        }
        auto work = std::make_unique<Work>(Work{h, std::string(frame->reply_to),
                                                std::vector<std::byte>(frame->payload.begin(), frame->payload.end()),
                                                route->second, std::make_shared<std::atomic<bool>>(false)});
        std::unique_lock lock(mutex_);
        room_.wait(lock, [&] { return queue_.size() < options_.queue_limit || stopping_.load(std::memory_order_relaxed); });
        if (stopping_.load(std::memory_order_relaxed)) break;
        active_[ActiveKey{work->reply_to, h.request_id}] = work->cancelled;
        queue_.push_back(std::move(work));
        work_ready_.notify_one();
    }
}

void Server::handler_loop() {
    ReplyPorts replies(*region_);
    std::vector<std::byte> arena_block(options_.arena_block);
    for (;;) {
        std::unique_ptr<Work> work;
        {
            std::unique_lock lock(mutex_);
            work_ready_.wait(lock, [&] { return stopping_.load(std::memory_order_relaxed) || !queue_.empty(); });
            if (queue_.empty()) return;
            work = std::move(queue_.front());
            queue_.pop_front();
            room_.notify_one();
        }
        const ActiveKey key{work->reply_to, work->header.request_id};
        if (work->cancelled->load(std::memory_order_relaxed) || Clock::now() >= from_wire(work->header.deadline_ns)) {
            std::lock_guard lock(mutex_);
            ++stats_.expired;
            active_.erase(key);
            continue;
        }
        serve(*work, replies, arena_block);
        std::lock_guard lock(mutex_);
        active_.erase(key);
    }
}

void Server::serve(Work& work, ReplyPorts& replies, std::span<std::byte> arena_block) {
    const FrameHeader& h = work.header;
    ServerCall call;
    call.context_.deadline_ = from_wire(h.deadline_ns);
    call.context_.method_ = work.route.info->full_name;
    call.context_.request_id_ = h.request_id;
    call.context_.cancelled_ = work.cancelled.get();
    call.request_ = work.payload;
    call.arena_block_ = arena_block.data();
    call.arena_block_size_ = arena_block.size();
    std::vector<std::byte> frame;
    call.max_reply_ = [&]() -> std::size_t {
        auto sender = replies.get(work.reply_to);
        return sender ? (*sender)->max_message() - sizeof(FrameHeader) : 0;
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
    if (status.ok() && call.stream_failure_) status = *call.stream_failure_;
    const auto kind = work.route.info->kind == RpcKind::Unary ? FrameKind::Reply : FrameKind::StreamEnd;
    if (kind == FrameKind::Reply && status.ok())
        status = Status(StatusCode::Internal, std::string(work.route.info->full_name) + ": the handler sent no reply");
    (void)call.send_(static_cast<std::uint16_t>(kind), static_cast<std::uint32_t>(status.code()), nullptr,
                     std::as_bytes(std::span(status.message().data(), status.message().size())), true);
}

}  // namespace nk::rpc
