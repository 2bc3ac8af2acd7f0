// NoHeapServer (no_heap_server.hpp). The ServerCall it hands to generated code is the one
// Server uses; its std::function members hold lambdas that capture only `this`, which
// std::function keeps inline (no allocation), and they reach the request being served through
// current_ / current_sender_.
#include "nk/rpc/no_heap_server.hpp"

#include <algorithm>
#include <cstring>
#include <exception>
#include <new>

namespace nk::rpc {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kSendSlice = std::chrono::milliseconds(5);  // how often a blocked reply looks at the deadline

// Arena blocks beyond the preallocated one: counted per thread, so that serve_one can tell.
thread_local std::uint64_t t_arena_overflows = 0;
void* overflow_alloc(std::size_t size) {
    ++t_arena_overflows;
    return ::operator new(size);
}
// Unsized delete: clang (the fuzz preset) does not declare the sized form without -fsized-deallocation.
void overflow_dealloc(void* block, std::size_t /*size*/) { ::operator delete(block); }

}  // namespace

NoHeapServer::NoHeapServer(const Region& region, std::string port_name, NoHeapServerOptions options)
    : region_(&region), port_name_(std::move(port_name)), options_(std::move(options)) {}

NoHeapServer::~NoHeapServer() { stop(); }

Result<void> NoHeapServer::add(Service& service) {
    if (port_) return fail(RegionError::InvalidArgument, "add services before NoHeapServer::start()");
    const auto methods = service.methods();
    for (const MethodInfo& method : methods) {
        if (method.id != method_id(method.full_name))
            return fail(RegionError::InvalidArgument, "method " + std::string(method.full_name) + " has a wrong id");
        for (const Route& route : routes_)
            if (route.id == method.id)
                return fail(RegionError::Exists, "method " + std::string(method.full_name) + " has the id of " +
                                                     std::string(route.info->full_name) + " (registered twice?)");
    }
    for (std::size_t i = 0; i < methods.size(); ++i) routes_.push_back(Route{methods[i].id, &service, i, &methods[i]});
    return {};
}

Result<void> NoHeapServer::start() {
    if (port_) return fail(RegionError::InvalidArgument, "server on '" + port_name_ + "' already started");
    if (options_.reply_ports == 0) return fail(RegionError::InvalidArgument, "a server needs at least one reply port slot");
    auto port = ipc::Port::create(*region_, port_name_, options_.port);
    if (!port) return fail(context(std::move(port.error()), "start rpc server"));
    port_.emplace(std::move(*port));
    receive_buffer_.resize(port_->max_message());
    if (options_.arena_memory.empty()) {
        own_arena_.resize(options_.arena_block);
        arena_block_ = own_arena_;
    } else {
        arena_block_ = options_.arena_memory;
    }
    reply_ports_.resize(options_.reply_ports);
    for (ReplyPort& slot : reply_ports_) slot.name.reserve(kMaxReplyToLength);
    return {};
}

void NoHeapServer::stop() {
    if (!port_) return;
    reply_ports_.clear();
    port_.reset();
    (void)ipc::Port::remove(*region_, port_name_);
}

ipc::PortSender* NoHeapServer::reply_port(std::string_view name) {
    ++uses_;
    ReplyPort* oldest = &reply_ports_.front();
    for (ReplyPort& slot : reply_ports_) {
        if (slot.sender && slot.name == name) {
            if (!slot.sender->owner_up()) break;  // that client's guest went away or restarted: open again
            slot.last_used = uses_;
            return &*slot.sender;
        }
        if (slot.last_used < oldest->last_used) oldest = &slot;
    }
    for (ReplyPort& slot : reply_ports_)
        if (slot.sender && slot.name == name) oldest = &slot;  // reopen in place
    auto opened = ipc::PortSender::open(*region_, name);
    if (!opened) return nullptr;
    oldest->name.assign(name);
    oldest->sender.emplace(std::move(*opened));
    oldest->last_used = uses_;
    // The largest reply any client's port takes bounds the reply buffer: grown here, on first contact.
    if (reply_buffer_.size() < oldest->sender->max_message()) reply_buffer_.resize(oldest->sender->max_message());
    return &*oldest->sender;
}

Status NoHeapServer::send_reply(std::uint16_t kind, std::uint32_t status, const google::protobuf::MessageLite* message,
                                std::span<const std::byte> bytes, bool is_text) {
    if (current_sender_ == nullptr) return Status(StatusCode::Unavailable, "the client's reply port cannot be opened");
    const std::size_t room = current_sender_->max_message() - sizeof(FrameHeader);
    const std::size_t size = message != nullptr ? message->ByteSizeLong() : is_text ? std::min(bytes.size(), room) : bytes.size();
    if (size > room)
        return Status(StatusCode::ResourceExhausted, "a response of " + std::to_string(size) +
                                                         " bytes is larger than the maximum of " + std::to_string(room) +
                                                         " bytes the client's reply port takes");
    const FrameHeader header{kFrameMagic, kFrameVersion, kind, current_->method_id, status, current_->request_id, 0,
                             static_cast<std::uint32_t>(size), 0, 0};
    const std::span<std::byte> frame = std::span(reply_buffer_).first(sizeof header + size);
    write_frame_head(frame, header, {});
    if (message != nullptr) message->SerializeWithCachedSizesToArray(reinterpret_cast<std::uint8_t*>(frame.data() + sizeof header));
    else if (size != 0) std::memcpy(frame.data() + sizeof header, bytes.data(), size);
    const auto deadline = from_wire(current_->deadline_ns);
    for (;;) {  // a client that does not read is back-pressure: wait for room until the deadline
        auto sent = current_sender_->send(frame, std::clamp<std::chrono::nanoseconds>(deadline - Clock::now(),
                                                                                      std::chrono::nanoseconds(0), kSendSlice));
        if (sent) return Status();
        const bool full = sent.error().code == make_error_code(RegionError::NoSpace);
        if (full && Clock::now() < deadline) continue;
        ++stats_.reply_failures;
        return Status(full ? StatusCode::DeadlineExceeded : StatusCode::Unavailable, sent.error().message);
    }
}

void NoHeapServer::answer(const Frame& frame, StatusCode code, std::string_view text) {
    current_ = &frame.header;
    current_sender_ = reply_port(frame.reply_to);
    (void)send_reply(static_cast<std::uint16_t>(FrameKind::Reply), static_cast<std::uint32_t>(code), nullptr,
                     std::as_bytes(std::span(text.data(), text.size())), true);
}

Result<bool> NoHeapServer::serve_one(std::chrono::nanoseconds timeout) {
    if (!port_) return fail(RegionError::InvalidArgument, "serve_one() before start()");
    auto got = port_->receive(receive_buffer_, timeout);
    if (!got) return fail(std::move(got.error()));  // the ring itself is damaged
    if (!*got) return false;
    auto frame = parse_frame(std::span(receive_buffer_).first(**got));
    if (!frame || !names_reply_port(frame->kind)) {
        ++stats_.malformed;
        return false;
    }
    if (frame->kind != FrameKind::Request) return false;  // a Cancel for a call served already; no streams here
    const FrameHeader& h = frame->header;
    const auto route = std::find_if(routes_.begin(), routes_.end(), [&](const Route& r) { return r.id == h.method_id; });
    if (route == routes_.end() || route->info->kind != RpcKind::Unary) {
        ++stats_.unimplemented;
        ++stats_.served;
        answer(*frame, StatusCode::Unimplemented,
               route == routes_.end() ? "no method with this id is served on port '" + port_name_ + "'"
                                      : std::string(route->info->full_name) + ": a NoHeapServer serves unary RPCs only");
        return true;
    }
    if (Clock::now() >= from_wire(h.deadline_ns)) {
        ++stats_.expired;
        return false;
    }
    ServerCall call;
    call.context_.deadline_ = from_wire(h.deadline_ns);
    call.context_.method_ = route->info->full_name;
    call.context_.request_id_ = h.request_id;
    call.request_ = frame->payload;
    call.arena_block_ = arena_block_.data();
    call.arena_block_size_ = arena_block_.size();
    call.block_alloc_ = &overflow_alloc;
    call.block_dealloc_ = &overflow_dealloc;
    current_ = &h;
    current_sender_ = reply_port(frame->reply_to);
    call.send_ = [this](std::uint16_t kind, std::uint32_t status, const google::protobuf::MessageLite* message,
                        std::span<const std::byte> bytes, bool is_text) {
        return send_reply(kind, status, message, bytes, is_text);
    };
    call.max_reply_ = [this]() -> std::size_t {
        return current_sender_ != nullptr ? current_sender_->max_message() - sizeof(FrameHeader) : 0;
    };
    call.client_up_ = [this] { return current_sender_ != nullptr && current_sender_->owner_up(); };
    const std::uint64_t overflows_before = t_arena_overflows;
    Status status;
    try {
        status = route->service->dispatch(route->index, call);
    } catch (const std::exception& e) {
        status = Status(StatusCode::Internal, std::string(route->info->full_name) + ": the handler threw: " + e.what());
    } catch (...) {
        status = Status(StatusCode::Internal, std::string(route->info->full_name) + ": the handler threw");
    }
    if (t_arena_overflows != overflows_before) ++stats_.arena_overflows;
    ++stats_.served;
    if (!call.finished_) {
        if (status.ok()) status = Status(StatusCode::Internal, std::string(route->info->full_name) + ": the handler sent no reply");
        (void)send_reply(static_cast<std::uint16_t>(FrameKind::Reply), static_cast<std::uint32_t>(status.code()), nullptr,
                         std::as_bytes(std::span(status.message().data(), status.message().size())), true);
    }
    current_ = nullptr;
    current_sender_ = nullptr;
    return true;
}

}  // namespace nk::rpc
