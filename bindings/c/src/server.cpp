// The server half of the rpc C ABI (nk/nk_rpc.h): C handlers of every method kind, registered by
// full name in one nk::rpc::Service, served by nk::rpc::Server. Nothing may escape as a C++
// exception: every entry point catches and answers NK_RPC_INTERNAL.
#include <deque>
#include <exception>

#include "c_support.hpp"
#include "nk/nanokernel/guest.hpp"

using nk::rpc::RpcKind;
using nk::rpc::Status;
using nk::rpc::StatusCode;
using nk::rpc_c::code_of;
using nk::rpc_c::fail;
using nk::rpc_c::valid_method;

namespace {

// Why a stream cannot go on, as a C code: the broken stream's status, else cancelled or gone.
nk_rpc_status stream_over(nk::rpc::ServerCall& call) {
    const Status status = call.stream_status();
    if (!status.ok()) return static_cast<nk_rpc_status>(status.code());
    if (!call.context().cancelled()) return NK_RPC_UNAVAILABLE;
    return std::chrono::steady_clock::now() >= call.context().deadline() ? NK_RPC_DEADLINE_EXCEEDED : NK_RPC_CANCELLED;
}

// The service a C server registers methods in: methods of every kind, of serialized bytes.
class CService final : public nk::rpc::Service {
public:
    struct Method {
        std::string name;
        RpcKind kind;
        nk_rpc_handler unary;
        nk_rpc_stream_handler server_stream;
        nk_rpc_client_stream_handler client_stream;
        nk_rpc_bidi_handler bidi;
        void* user;
    };
    void add(Method method) {
        methods_.push_back(std::move(method));  // a deque: earlier names stay where they are
        infos_.push_back({methods_.back().name, nk::rpc::method_id(methods_.back().name), methods_.back().kind});
    }
    std::string_view service_name() const override { return "c"; }
    std::span<const nk::rpc::MethodInfo> methods() const override { return infos_; }
    Status dispatch(std::size_t index, nk::rpc::ServerCall& call) override {
        const Method& method = methods_[index];
        switch (method.kind) {
            case RpcKind::Unary: return dispatch_unary(method, call);
            case RpcKind::ServerStreaming: return dispatch_server_stream(method, call);
            case RpcKind::ClientStreaming: return dispatch_client_stream(method, call);
            case RpcKind::BidiStreaming: return dispatch_bidi(method, call);
        }
        return Status(StatusCode::Internal, "no such method kind");
    }

private:
    // The handler's answer as the call's status; a broken stream (client gone, message too large,
    // a frame against the protocol) is why the call ends, whatever the handler said.
    static Status outcome(const Method& method, nk::rpc::ServerCall& call, nk_rpc_status code) {
        if (!call.stream_status().ok()) return call.stream_status();
        if (code != NK_RPC_OK)
            return Status(static_cast<StatusCode>(code), "the handler of " + method.name + " returned " + nk_rpc_status_name(code));
        return {};
    }
    // Runs a handler that writes one serialized reply, and sends it.
    template <class Handler>
    static Status reply_with(const Method& method, nk::rpc::ServerCall& call, Handler handler) {
        const std::size_t capacity = call.max_reply();
        thread_local std::vector<std::byte> response;  // one per handler thread, reused
        response.resize(capacity);
        std::size_t size = 0;
        const nk_rpc_status code = handler(response.data(), capacity, &size);
        if (Status status = outcome(method, call, code); !status.ok()) return status;
        if (size > capacity)
            return Status(StatusCode::Internal, "the handler of " + method.name + " wrote " + std::to_string(size) +
                                                    " bytes into " + std::to_string(capacity));
        return call.reply_bytes(std::span(response).first(size));
    }
    static Status dispatch_unary(const Method& method, nk::rpc::ServerCall& call) {
        const auto request = call.request_bytes();
        return reply_with(method, call, [&](void* out, std::size_t capacity, std::size_t* size) {
            return method.unary(method.user, request.data(), request.size(), out, capacity, size);
        });
    }
    static Status dispatch_server_stream(const Method& method, nk::rpc::ServerCall& call) {
        nk_rpc_writer writer{&call};
        const auto request = call.request_bytes();
        return outcome(method, call, method.server_stream(method.user, request.data(), request.size(), &writer));
    }
    static Status dispatch_client_stream(const Method& method, nk::rpc::ServerCall& call) {
        nk_rpc_server_stream stream{&call, {}, false};
        return reply_with(method, call, [&](void* out, std::size_t capacity, std::size_t* size) {
            return method.client_stream(method.user, &stream, out, capacity, size);
        });
    }
    static Status dispatch_bidi(const Method& method, nk::rpc::ServerCall& call) {
        nk_rpc_server_stream stream{&call, {}, false};
        return outcome(method, call, method.bidi(method.user, &stream));
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

nk_rpc_status add_method(const char* api, nk_rpc_server* server, CService::Method method, bool has_handler,
                         char* error, size_t error_size) {
    if (server == nullptr || !has_handler || !valid_method(method.name.c_str()))
        return fail(error, error_size, NK_RPC_INVALID_ARGUMENT,
                    std::string(api) + ": needs a server, a method \"/package.Service/Method\" and a handler");
    if (server->started) return fail(error, error_size, NK_RPC_FAILED_PRECONDITION, "add methods before nk_rpc_server_start()");
    for (const auto& info : server->service.methods())
        if (info.full_name == method.name)
            return fail(error, error_size, NK_RPC_ALREADY_EXISTS, method.name + " is already added");
    server->service.add(std::move(method));
    return NK_RPC_OK;
}

CService::Method method_named(const char* name, RpcKind kind, void* user) {
    return {name != nullptr ? name : "", kind, nullptr, nullptr, nullptr, nullptr, user};
}

}  // namespace

extern "C" {

nk_rpc_status nk_rpc_writer_write(nk_rpc_writer* writer, const void* message, size_t size) try {
    if (writer == nullptr || (message == nullptr && size != 0)) return NK_RPC_INVALID_ARGUMENT;
    if (writer->call->write_bytes(std::span(static_cast<const std::byte*>(message), size))) return NK_RPC_OK;
    return stream_over(*writer->call);
} catch (const std::exception&) {
    return NK_RPC_INTERNAL;
}

nk_rpc_status nk_rpc_server_stream_read(nk_rpc_server_stream* stream, void* message, size_t capacity,
                                         size_t* message_size, int* more) try {
    if (stream == nullptr || (message == nullptr && capacity != 0) || message_size == nullptr || more == nullptr)
        return NK_RPC_INVALID_ARGUMENT;
    *message_size = 0;
    *more = 0;
    if (stream->holding || stream->call->read_bytes(stream->held))
        return nk::rpc_c::hand_over(stream->held, stream->holding, message, capacity, message_size, more, nullptr, 0);
    const Status broken = stream->call->stream_status();
    if (!broken.ok()) return static_cast<nk_rpc_status>(broken.code());
    if (stream->call->context().cancelled()) return stream_over(*stream->call);
    return NK_RPC_OK;  // the client's stream ended: *more = 0
} catch (const std::exception&) {
    return NK_RPC_INTERNAL;
}

nk_rpc_status nk_rpc_server_stream_write(nk_rpc_server_stream* stream, const void* message, size_t size) try {
    if (stream == nullptr || (message == nullptr && size != 0)) return NK_RPC_INVALID_ARGUMENT;
    if (stream->call->write_bytes(std::span(static_cast<const std::byte*>(message), size))) return NK_RPC_OK;
    return stream_over(*stream->call);
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
    options->stream_threads = static_cast<std::uint32_t>(defaults.stream_threads);
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
        opts.stream_threads = options->stream_threads;
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
    auto made = method_named(method, RpcKind::Unary, user);
    made.unary = handler;
    return add_method("nk_rpc_server_add_method", server, std::move(made), handler != nullptr, error, error_size);
} catch (const std::exception& e) {
    return fail(error, error_size, NK_RPC_INTERNAL, std::string("nk_rpc_server_add_method: ") + e.what());
}

nk_rpc_status nk_rpc_server_add_stream_method(nk_rpc_server* server, const char* method, nk_rpc_stream_handler handler,
                                               void* user, char* error, size_t error_size) try {
    auto made = method_named(method, RpcKind::ServerStreaming, user);
    made.server_stream = handler;
    return add_method("nk_rpc_server_add_stream_method", server, std::move(made), handler != nullptr, error, error_size);
} catch (const std::exception& e) {
    return fail(error, error_size, NK_RPC_INTERNAL, std::string("nk_rpc_server_add_stream_method: ") + e.what());
}

nk_rpc_status nk_rpc_server_add_client_stream_method(nk_rpc_server* server, const char* method,
                                                      nk_rpc_client_stream_handler handler, void* user, char* error,
                                                      size_t error_size) try {
    auto made = method_named(method, RpcKind::ClientStreaming, user);
    made.client_stream = handler;
    return add_method("nk_rpc_server_add_client_stream_method", server, std::move(made), handler != nullptr, error,
                      error_size);
} catch (const std::exception& e) {
    return fail(error, error_size, NK_RPC_INTERNAL, std::string("nk_rpc_server_add_client_stream_method: ") + e.what());
}

nk_rpc_status nk_rpc_server_add_bidi_method(nk_rpc_server* server, const char* method, nk_rpc_bidi_handler handler,
                                             void* user, char* error, size_t error_size) try {
    auto made = method_named(method, RpcKind::BidiStreaming, user);
    made.bidi = handler;
    return add_method("nk_rpc_server_add_bidi_method", server, std::move(made), handler != nullptr, error, error_size);
} catch (const std::exception& e) {
    return fail(error, error_size, NK_RPC_INTERNAL, std::string("nk_rpc_server_add_bidi_method: ") + e.what());
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
