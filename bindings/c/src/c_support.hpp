// What every entry point of the rpc C ABI (nk/nk_rpc.h) shares: the handles' insides, error
// text into the caller's buffer, nk error codes as gRPC codes, the method-name check.
#pragma once

#include <algorithm>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nk/nk_rpc.h"
#include "nk/nanokernel/region.hpp"
#include "nk/rpc/channel.hpp"
#include "nk/rpc/duplex_call.hpp"
#include "nk/rpc/server.hpp"

struct nk_rpc_channel {
    std::shared_ptr<nk::rpc::Channel> channel;
};

struct nk_rpc_stream {
    nk::rpc::CallContext context;  // before the call: the StreamCall points at it
    std::optional<nk::rpc::StreamCall> call;
    bool ended = false;
};

struct nk_rpc_duplex {
    nk::rpc::CallContext context;  // before the call: the DuplexCall points at it
    std::optional<nk::rpc::DuplexCall> call;
    std::vector<std::byte> held;  // a message read that did not fit the caller's buffer
    bool holding = false;
    bool ended = false;
};

struct nk_rpc_writer {
    nk::rpc::ServerCall* call;
};

struct nk_rpc_server_stream {
    nk::rpc::ServerCall* call;
    std::vector<std::byte> held;  // as nk_rpc_duplex's
    bool holding = false;
};

namespace nk::rpc_c {

inline void set_error(char* error, std::size_t size, const std::string& text) {
    if (error == nullptr || size == 0) return;
    const std::size_t n = std::min(size - 1, text.size());
    std::memcpy(error, text.data(), n);
    error[n] = '\0';
}

inline nk_rpc_status fail(char* error, std::size_t size, nk_rpc_status code, const std::string& text) {
    set_error(error, size, text);
    return code;
}

inline nk_rpc_status fail(char* error, std::size_t size, const rpc::Status& status) {
    return fail(error, size, static_cast<nk_rpc_status>(status.code()), status.message());
}

inline nk_rpc_status code_of(const Error& e) {
    if (e.code == make_error_code(RegionError::NotFound)) return NK_RPC_NOT_FOUND;
    if (e.code == make_error_code(RegionError::AccessDenied)) return NK_RPC_PERMISSION_DENIED;
    if (e.code == make_error_code(RegionError::NotRunning)) return NK_RPC_UNAVAILABLE;
    if (e.code == make_error_code(RegionError::InvalidArgument)) return NK_RPC_INVALID_ARGUMENT;
    if (e.code == make_error_code(RegionError::Exists)) return NK_RPC_ALREADY_EXISTS;
    if (e.code == make_error_code(RegionError::NoSpace) || e.code == make_error_code(RegionError::DirectoryFull))
        return NK_RPC_RESOURCE_EXHAUSTED;
    return NK_RPC_INTERNAL;
}

// "/package.Service/Method": a leading slash, a non-empty service, a non-empty method.
inline bool valid_method(const char* method) {
    if (method == nullptr || method[0] != '/') return false;
    const char* second = std::strchr(method + 1, '/');
    return second != nullptr && second != method + 1 && second[1] != '\0';
}

// Copies a message into the caller's buffer, or keeps it when it does not fit (RESOURCE_EXHAUSTED
// with its size): the next read with room enough gets it. `holding` says a message is kept.
inline nk_rpc_status hand_over(std::vector<std::byte>& item, bool& holding, void* out, std::size_t capacity,
                               std::size_t* size, int* more, char* error, std::size_t error_size) {
    *size = item.size();
    if (item.size() > capacity) {
        holding = true;
        return fail(error, error_size, NK_RPC_RESOURCE_EXHAUSTED,
                    "a stream message of " + std::to_string(item.size()) + " bytes does not fit the buffer of " +
                        std::to_string(capacity) + "; it is kept for the next read");
    }
    holding = false;
    if (!item.empty()) std::memcpy(out, item.data(), item.size());
    *more = 1;
    return NK_RPC_OK;
}

}  // namespace nk::rpc_c
