// The C ABI (nk/nk_rpc.h) over nk::rpc. Nothing may escape as a C++ exception: every entry point
// catches and answers NK_RPC_INTERNAL.
#include "nk/nk_rpc.h"

#include <algorithm>
#include <cstring>
#include <deque>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nk/nanokernel/guest.hpp"
#include "nk/rpc/channel.hpp"
#include "nk/rpc/frame.hpp"
#include "nk/rpc/server.hpp"

struct nk_rpc_channel {
    std::shared_ptr<nk::rpc::Channel> channel;
};

struct nk_rpc_stream {
    nk::rpc::CallContext context;  // before the call: the StreamCall points at it
    std::optional<nk::rpc::StreamCall> call;
    bool ended = false;
};

struct nk_rpc_writer {
    nk::rpc::ServerCall* call;
};

namespace {

using nk::rpc::Status;
using nk::rpc::StatusCode;

void set_error(char* error, std::size_t size, const std::string& text) {
    if (error == nullptr || size == 0) return;
    const std::size_t n = std::min(size - 1, text.size());
    std::memcpy(error, text.data(), n);
    error[n] = '\0';
}

nk_rpc_status fail(char* error, std::size_t size, nk_rpc_status code, const std::string& text) {
    set_error(error, size, text);
    return code;
}

nk_rpc_status code_of(const nk::Error& e) {
    using nk::RegionError;
    if (e.code == make_error_code(RegionError::NotFound)) return NK_RPC_NOT_FOUND;
    if (e.code == make_error_code(RegionError::AccessDenied)) return NK_RPC_PERMISSION_DENIED;
    if (e.code == make_error_code(RegionError::NotRunning)) return NK_RPC_UNAVAILABLE;
    if (e.code == make_error_code(RegionError::InvalidArgument)) return NK_RPC_INVALID_ARGUMENT;
    if (e.code == make_error_code(RegionError::Exists)) return NK_RPC_ALREADY_EXISTS;
    if (e.code == make_error_code(RegionError::NoSpace) || e.code == make_error_code(RegionError::DirectoryFull))
        return NK_RPC_RESOURCE_EXHAUSTED;
    return NK_RPC_INTERNAL;
}

bool valid_method(const char* method) {
    if (method == nullptr || method[0] != '/') return false;
    const char* second = std::strchr(method + 1, '/');
    return second != nullptr && second != method + 1 && second[1] != '\0';
}

// The service a C server registers methods in: unary and server-streaming methods of serialized bytes.
class CService final : public nk::rpc::Service {
public:
    struct Method {
        std::string name;
        nk_rpc_handler handler;               // unary
        nk_rpc_stream_handler stream_handler;  // server-streaming
        void* user;
    };
    void add(std::string name, nk_rpc_handler handler, nk_rpc_stream_handler stream_handler, void* user) {
        methods_.push_back({std::move(name), handler, stream_handler, user});  // a deque: earlier names stay where they are
        infos_.push_back({methods_.back().name, nk::rpc::method_id(methods_.back().name),
                          stream_handler != nullptr ? nk::rpc::RpcKind::ServerStreaming : nk::rpc::RpcKind::Unary});
    }
    std::string_view service_name() const override { return "c"; }
    std::span<const nk::rpc::MethodInfo> methods() const override { return infos_; }
    Status dispatch(std::size_t index, nk::rpc::ServerCall& call) override {
        const Method& method = methods_[index];
        if (method.stream_handler != nullptr) return dispatch_stream(method, call);
        const std::size_t capacity = call.max_reply();
        thread_local std::vector<std::byte> response;  // one per handler thread, reused
        response.resize(capacity);
        std::size_t size = 0;
        const auto request = call.request_bytes();
        const nk_rpc_status code = method.handler(method.user, request.data(), request.size(), response.data(), capacity, &size);
        if (code != NK_RPC_OK)
            return Status(static_cast<StatusCode>(code), "the handler of " + method.name + " returned " + nk_rpc_status_name(code));
        if (size > capacity)
            return Status(StatusCode::Internal, "the handler of " + method.name + " wrote " + std::to_string(size) +
                                                    " bytes into " + std::to_string(capacity));
        return call.reply_bytes(std::span(response).first(size));
    }

private:
    static Status dispatch_stream(const Method& method, nk::rpc::ServerCall& call) {
        nk_rpc_writer writer{&call};
        const auto request = call.request_bytes();
        const nk_rpc_status code = method.stream_handler(method.user, request.data(), request.size(), &writer);
        // A broken stream (client gone, message too large) is why the call ends, whatever the handler said.
        if (!call.stream_status().ok()) return call.stream_status();
        if (code != NK_RPC_OK)
            return Status(static_cast<StatusCode>(code), "the handler of " + method.name + " returned " + nk_rpc_status_name(code));
        return {};
    }

    std::deque<Method> methods_;
    std::vector<nk::rpc::MethodInfo> infos_;
};

}  // namespace

struct nk_rpc_server {
    CService service;
    std::unique_ptr<nk::rpc::Server> server;
    bool started = false;
};

namespace {

nk_rpc_status add_method(const char* api, nk_rpc_server* server, const char* method, nk_rpc_handler handler,
                         nk_rpc_stream_handler stream_handler, void* user, char* error, size_t error_size) {
    if (server == nullptr || (handler == nullptr && stream_handler == nullptr) || !valid_method(method))
        return fail(error, error_size, NK_RPC_INVALID_ARGUMENT,
                    std::string(api) + ": needs a server, a method \"/package.Service/Method\" and a handler");
    if (server->started) return fail(error, error_size, NK_RPC_FAILED_PRECONDITION, "add methods before nk_rpc_server_start()");
    for (const auto& info : server->service.methods())
        if (info.full_name == method) return fail(error, error_size, NK_RPC_ALREADY_EXISTS, std::string(method) + " is already added");
    server->service.add(method, handler, stream_handler, user);
    return NK_RPC_OK;
}

}  // namespace

extern "C" {

const char* nk_rpc_status_name(nk_rpc_status code) {
    if (static_cast<std::uint32_t>(code) > nk::rpc::kMaxStatusCode) return "UNKNOWN";
    return nk::rpc::to_string(static_cast<StatusCode>(code)).data();  // the names are string literals
}

void nk_rpc_channel_options_init(nk_rpc_channel_options* options) {
    if (options == nullptr) return;
    const nk::rpc::ChannelOptions defaults;
    options->struct_size = sizeof *options;
    options->reply_capacity = defaults.reply_capacity;
}

nk_rpc_status nk_rpc_channel_open(const char* service_port, const nk_rpc_channel_options* options,
                                   nk_rpc_channel** channel, char* error, size_t error_size) try {
    if (service_port == nullptr || channel == nullptr)
        return fail(error, error_size, NK_RPC_INVALID_ARGUMENT, "nk_rpc_channel_open: service_port and channel are required");
    if (options != nullptr && options->struct_size != sizeof *options)
        return fail(error, error_size, NK_RPC_INVALID_ARGUMENT, "nk_rpc_channel_open: options not filled by nk_rpc_channel_options_init()");
    auto region = nk::guest::attach();
    if (!region) return fail(error, error_size, code_of(region.error()), region.error().message);
    nk::rpc::ChannelOptions opts;
    if (options != nullptr) opts.reply_capacity = options->reply_capacity;
    auto opened = nk::rpc::Channel::open(region->get(), service_port, opts);
    if (!opened) return fail(error, error_size, code_of(opened.error()), opened.error().message);
    *channel = new nk_rpc_channel{std::move(*opened)};
    return NK_RPC_OK;
} catch (const std::exception& e) {
    return fail(error, error_size, NK_RPC_INTERNAL, std::string("nk_rpc_channel_open: ") + e.what());
}

void nk_rpc_channel_close(nk_rpc_channel* channel) { delete channel; }

nk_rpc_status nk_rpc_call(nk_rpc_channel* channel, const char* method, const void* request, size_t request_size,
                           void* response, size_t response_capacity, size_t* response_size, int64_t timeout_ns,
                           char* error, size_t error_size) try {
    if (channel == nullptr || !valid_method(method) || (request == nullptr && request_size != 0) ||
        (response == nullptr && response_capacity != 0) || response_size == nullptr)
        return fail(error, error_size, NK_RPC_INVALID_ARGUMENT,
                    "nk_rpc_call: needs a channel, a method \"/package.Service/Method\", buffers and response_size");
    nk::rpc::CallContext context;
    if (timeout_ns > 0) context.set_timeout(std::chrono::nanoseconds(timeout_ns));
    std::vector<std::byte> reply;
    const Status status = channel->channel->call_bytes(
        nk::rpc::method_id(method), std::span(static_cast<const std::byte*>(request), request_size), reply, context);
    *response_size = 0;
    if (!status.ok()) return fail(error, error_size, static_cast<nk_rpc_status>(status.code()), status.message());
    *response_size = reply.size();
    if (reply.size() > response_capacity)
        return fail(error, error_size, NK_RPC_RESOURCE_EXHAUSTED,
                    "the response of " + std::to_string(reply.size()) + " bytes does not fit the buffer of " +
                        std::to_string(response_capacity));
    if (!reply.empty()) std::memcpy(response, reply.data(), reply.size());
    return NK_RPC_OK;
} catch (const std::exception& e) {
    return fail(error, error_size, NK_RPC_INTERNAL, std::string("nk_rpc_call: ") + e.what());
}

nk_rpc_status nk_rpc_stream_start(nk_rpc_channel* channel, const char* method, const void* request, size_t request_size,
                                   int64_t timeout_ns, nk_rpc_stream** stream, char* error, size_t error_size) try {
    if (channel == nullptr || !valid_method(method) || (request == nullptr && request_size != 0) || stream == nullptr)
        return fail(error, error_size, NK_RPC_INVALID_ARGUMENT,
                    "nk_rpc_stream_start: needs a channel, a method \"/package.Service/Method\", a request and stream");
    auto made = std::make_unique<nk_rpc_stream>();
    if (timeout_ns > 0) made->context.set_timeout(std::chrono::nanoseconds(timeout_ns));
    made->call.emplace(channel->channel->start_stream_bytes(
        nk::rpc::method_id(method), std::span(static_cast<const std::byte*>(request), request_size), made->context));
    *stream = made.release();
    return NK_RPC_OK;  // a call that failed to start says so at its first read
} catch (const std::exception& e) {
    return fail(error, error_size, NK_RPC_INTERNAL, std::string("nk_rpc_stream_start: ") + e.what());
}

nk_rpc_status nk_rpc_stream_read(nk_rpc_stream* stream, void* message, size_t capacity, size_t* message_size, int* more,
                                  char* error, size_t error_size) try {
    if (stream == nullptr || (message == nullptr && capacity != 0) || message_size == nullptr || more == nullptr)
        return fail(error, error_size, NK_RPC_INVALID_ARGUMENT, "nk_rpc_stream_read: needs a stream, a buffer, message_size and more");
    *message_size = 0;
    *more = 0;
    if (stream->ended) return fail(error, error_size, NK_RPC_FAILED_PRECONDITION, "the stream has ended");
    std::vector<std::byte> item;
    if (stream->call->read_bytes(item)) {
        *message_size = item.size();
        if (item.size() > capacity) {
            stream->call->cancel();
            stream->ended = true;
            return fail(error, error_size, NK_RPC_RESOURCE_EXHAUSTED,
                        "a stream message of " + std::to_string(item.size()) + " bytes does not fit the buffer of " +
                            std::to_string(capacity) + "; the stream is cancelled");
        }
        if (!item.empty()) std::memcpy(message, item.data(), item.size());
        *more = 1;
        return NK_RPC_OK;
    }
    stream->ended = true;
    const Status status = stream->call->finish();
    if (!status.ok()) return fail(error, error_size, static_cast<nk_rpc_status>(status.code()), status.message());
    return NK_RPC_OK;
} catch (const std::exception& e) {
    return fail(error, error_size, NK_RPC_INTERNAL, std::string("nk_rpc_stream_read: ") + e.what());
}

void nk_rpc_stream_close(nk_rpc_stream* stream) {
    delete stream;  // ~StreamCall cancels a stream that has not ended
}

nk_rpc_status nk_rpc_writer_write(nk_rpc_writer* writer, const void* message, size_t size) try {
    if (writer == nullptr || (message == nullptr && size != 0)) return NK_RPC_INVALID_ARGUMENT;
    if (writer->call->write_bytes(std::span(static_cast<const std::byte*>(message), size))) return NK_RPC_OK;
    const Status status = writer->call->stream_status();
    if (!status.ok()) return static_cast<nk_rpc_status>(status.code());
    return writer->call->context().cancelled() ? NK_RPC_CANCELLED : NK_RPC_UNAVAILABLE;
} catch (const std::exception&) {
    return NK_RPC_INTERNAL;
}

void nk_rpc_server_options_init(nk_rpc_server_options* options) {
    if (options == nullptr) return;
    const nk::rpc::ServerOptions defaults;
    options->struct_size = sizeof *options;
    options->threads = static_cast<std::uint32_t>(defaults.threads);
    options->capacity = defaults.port.capacity;
    options->max_message = defaults.port.max_message;
    options->where = nullptr;
}

nk_rpc_status nk_rpc_server_create(const char* port, const nk_rpc_server_options* options, nk_rpc_server** server,
                                    char* error, size_t error_size) try {
    if (port == nullptr || server == nullptr)
        return fail(error, error_size, NK_RPC_INVALID_ARGUMENT, "nk_rpc_server_create: port and server are required");
    if (options != nullptr && options->struct_size != sizeof *options)
        return fail(error, error_size, NK_RPC_INVALID_ARGUMENT, "nk_rpc_server_create: options not filled by nk_rpc_server_options_init()");
    auto region = nk::guest::attach();
    if (!region) return fail(error, error_size, code_of(region.error()), region.error().message);
    nk::rpc::ServerOptions opts;
    if (options != nullptr) {
        opts.threads = options->threads;
        opts.port.capacity = options->capacity;
        opts.port.max_message = options->max_message;
        opts.port.where = options->where != nullptr ? options->where : "";
    }
    auto made = std::make_unique<nk_rpc_server>();
    made->server = std::make_unique<nk::rpc::Server>(region->get(), port, opts);
    *server = made.release();
    return NK_RPC_OK;
} catch (const std::exception& e) {
    return fail(error, error_size, NK_RPC_INTERNAL, std::string("nk_rpc_server_create: ") + e.what());
}

nk_rpc_status nk_rpc_server_add_method(nk_rpc_server* server, const char* method, nk_rpc_handler handler, void* user,
                                        char* error, size_t error_size) try {
    return add_method("nk_rpc_server_add_method", server, method, handler, nullptr, user, error, error_size);
} catch (const std::exception& e) {
    return fail(error, error_size, NK_RPC_INTERNAL, std::string("nk_rpc_server_add_method: ") + e.what());
}

nk_rpc_status nk_rpc_server_add_stream_method(nk_rpc_server* server, const char* method, nk_rpc_stream_handler handler,
                                               void* user, char* error, size_t error_size) try {
    return add_method("nk_rpc_server_add_stream_method", server, method, nullptr, handler, user, error, error_size);
} catch (const std::exception& e) {
    return fail(error, error_size, NK_RPC_INTERNAL, std::string("nk_rpc_server_add_stream_method: ") + e.what());
}

nk_rpc_status nk_rpc_server_start(nk_rpc_server* server, char* error, size_t error_size) try {
    if (server == nullptr) return fail(error, error_size, NK_RPC_INVALID_ARGUMENT, "nk_rpc_server_start: no server");
    if (server->started) return fail(error, error_size, NK_RPC_FAILED_PRECONDITION, "the server is already started");
    if (auto added = server->server->add(server->service); !added)
        return fail(error, error_size, code_of(added.error()), added.error().message);
    if (auto started = server->server->start(); !started)
        return fail(error, error_size, code_of(started.error()), started.error().message);
    server->started = true;
    return NK_RPC_OK;
} catch (const std::exception& e) {
    return fail(error, error_size, NK_RPC_INTERNAL, std::string("nk_rpc_server_start: ") + e.what());
}

void nk_rpc_server_destroy(nk_rpc_server* server) {
    if (server == nullptr) return;
    server->server.reset();  // stops the threads before the service they call goes
    delete server;
}

}  // extern "C"
