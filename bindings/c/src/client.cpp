// The client half of the rpc C ABI (nk/nk_rpc.h): channels, unary calls, server streams, and
// client-streaming and bidirectional calls, over nk::rpc::Channel. Nothing may escape as a C++
// exception: every entry point catches and answers NK_RPC_INTERNAL.
#include <chrono>
#include <exception>

#include "c_support.hpp"
#include "nk/nanokernel/guest.hpp"
#include "nk/rpc/frame.hpp"

using nk::rpc::Status;
using nk::rpc::StatusCode;
using nk::rpc_c::code_of;
using nk::rpc_c::fail;
using nk::rpc_c::valid_method;

namespace {

nk_rpc_status start_duplex(const char* api, nk::rpc::RpcKind kind, nk_rpc_channel* channel, const char* method,
                           int64_t timeout_ns, nk_rpc_duplex** call, char* error, size_t error_size) {
    if (channel == nullptr || !valid_method(method) || call == nullptr)
        return fail(error, error_size, NK_RPC_INVALID_ARGUMENT,
                    std::string(api) + ": needs a channel, a method \"/package.Service/Method\" and call");
    auto made = std::make_unique<nk_rpc_duplex>();
    if (timeout_ns > 0) made->context.set_timeout(std::chrono::nanoseconds(timeout_ns));
    made->call.emplace(channel->channel->start_duplex(nk::rpc::method_id(method), kind, made->context));
    *call = made.release();
    return NK_RPC_OK;
}

// The call is over (a write or read said so): its status, which finish() gives without waiting.
nk_rpc_status ended(nk_rpc_duplex* call, char* error, size_t error_size) {
    call->ended = true;
    std::vector<std::byte> ignored;
    const Status status = call->call->finish_bytes(ignored);
    if (status.ok()) return NK_RPC_OK;
    return fail(error, error_size, status);
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
    if (!status.ok()) return fail(error, error_size, status);
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
    if (!status.ok()) return fail(error, error_size, status);
    return NK_RPC_OK;
} catch (const std::exception& e) {
    return fail(error, error_size, NK_RPC_INTERNAL, std::string("nk_rpc_stream_read: ") + e.what());
}

void nk_rpc_stream_close(nk_rpc_stream* stream) {
    delete stream;  // ~StreamCall cancels a stream that has not ended
}

nk_rpc_status nk_rpc_client_stream_start(nk_rpc_channel* channel, const char* method, int64_t timeout_ns,
                                          nk_rpc_duplex** call, char* error, size_t error_size) try {
    return start_duplex("nk_rpc_client_stream_start", nk::rpc::RpcKind::ClientStreaming, channel, method, timeout_ns, call,
                        error, error_size);
} catch (const std::exception& e) {
    return fail(error, error_size, NK_RPC_INTERNAL, std::string("nk_rpc_client_stream_start: ") + e.what());
}

nk_rpc_status nk_rpc_bidi_stream_start(nk_rpc_channel* channel, const char* method, int64_t timeout_ns,
                                        nk_rpc_duplex** call, char* error, size_t error_size) try {
    return start_duplex("nk_rpc_bidi_stream_start", nk::rpc::RpcKind::BidiStreaming, channel, method, timeout_ns, call,
                        error, error_size);
} catch (const std::exception& e) {
    return fail(error, error_size, NK_RPC_INTERNAL, std::string("nk_rpc_bidi_stream_start: ") + e.what());
}

nk_rpc_status nk_rpc_duplex_write(nk_rpc_duplex* call, const void* message, size_t size, char* error,
                                   size_t error_size) try {
    if (call == nullptr || (message == nullptr && size != 0))
        return fail(error, error_size, NK_RPC_INVALID_ARGUMENT, "nk_rpc_duplex_write: needs a call and a message");
    if (call->ended) return fail(error, error_size, NK_RPC_FAILED_PRECONDITION, "the call has ended");
    if (call->call->write_bytes(std::span(static_cast<const std::byte*>(message), size))) return NK_RPC_OK;
    const nk_rpc_status status = ended(call, error, error_size);
    // A clean end while writing: the client's stream was closed by writes_done() first.
    if (status == NK_RPC_OK) return fail(error, error_size, NK_RPC_FAILED_PRECONDITION, "the client's stream is done");
    return status;
} catch (const std::exception& e) {
    return fail(error, error_size, NK_RPC_INTERNAL, std::string("nk_rpc_duplex_write: ") + e.what());
}

nk_rpc_status nk_rpc_duplex_writes_done(nk_rpc_duplex* call, char* error, size_t error_size) try {
    if (call == nullptr) return fail(error, error_size, NK_RPC_INVALID_ARGUMENT, "nk_rpc_duplex_writes_done: no call");
    if (call->ended) return fail(error, error_size, NK_RPC_FAILED_PRECONDITION, "the call has ended");
    if (call->call->writes_done()) return NK_RPC_OK;
    return fail(error, error_size, NK_RPC_FAILED_PRECONDITION, "the client's stream is already done, or the call is over");
} catch (const std::exception& e) {
    return fail(error, error_size, NK_RPC_INTERNAL, std::string("nk_rpc_duplex_writes_done: ") + e.what());
}

nk_rpc_status nk_rpc_duplex_read(nk_rpc_duplex* call, void* message, size_t capacity, size_t* message_size, int* more,
                                  char* error, size_t error_size) try {
    if (call == nullptr || (message == nullptr && capacity != 0) || message_size == nullptr || more == nullptr)
        return fail(error, error_size, NK_RPC_INVALID_ARGUMENT, "nk_rpc_duplex_read: needs a call, a buffer, message_size and more");
    *message_size = 0;
    *more = 0;
    if (call->ended) return fail(error, error_size, NK_RPC_FAILED_PRECONDITION, "the call has ended");
    if (call->holding || call->call->read_bytes(call->held))
        return nk::rpc_c::hand_over(call->held, call->holding, message, capacity, message_size, more, error, error_size);
    return ended(call, error, error_size);
} catch (const std::exception& e) {
    return fail(error, error_size, NK_RPC_INTERNAL, std::string("nk_rpc_duplex_read: ") + e.what());
}

nk_rpc_status nk_rpc_duplex_finish(nk_rpc_duplex* call, void* response, size_t response_capacity, size_t* response_size,
                                    char* error, size_t error_size) try {
    if (call == nullptr || (response == nullptr && response_capacity != 0))
        return fail(error, error_size, NK_RPC_INVALID_ARGUMENT, "nk_rpc_duplex_finish: needs a call and a buffer");
    if (response_size != nullptr) *response_size = 0;
    call->ended = true;
    std::vector<std::byte> reply;
    const Status status = call->call->finish_bytes(reply);
    if (!status.ok()) return fail(error, error_size, status);
    if (response_size != nullptr) *response_size = reply.size();
    if (reply.size() > response_capacity)
        return fail(error, error_size, NK_RPC_RESOURCE_EXHAUSTED,
                    "the reply of " + std::to_string(reply.size()) + " bytes does not fit the buffer of " +
                        std::to_string(response_capacity));
    if (!reply.empty()) std::memcpy(response, reply.data(), reply.size());
    return NK_RPC_OK;
} catch (const std::exception& e) {
    return fail(error, error_size, NK_RPC_INTERNAL, std::string("nk_rpc_duplex_finish: ") + e.what());
}

void nk_rpc_duplex_close(nk_rpc_duplex* call) {
    delete call;  // ~DuplexCall cancels a call that has not finished
}

}  // extern "C"
