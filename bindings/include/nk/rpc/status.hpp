// nk::rpc::Status: how an RPC ended, with codes shaped (and numbered) like gRPC's, so that code
// written against gRPC reads the same and a status can cross to gRPC unchanged.
//
//   nk::rpc::Status status = client.SetPoint(request, reply, 50ms);
//   if (status.code() == nk::rpc::StatusCode::Unavailable) { ... the server guest is down ... }
//   std::cerr << status.to_string() << "\n";   // "UNAVAILABLE: service port 'rt.telemetry' ..."
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace nk::rpc {

enum class StatusCode : std::uint32_t {
    Ok = 0,
    Cancelled = 1,
    Unknown = 2,
    InvalidArgument = 3,
    DeadlineExceeded = 4,
    NotFound = 5,
    AlreadyExists = 6,
    PermissionDenied = 7,
    ResourceExhausted = 8,
    FailedPrecondition = 9,
    Aborted = 10,
    OutOfRange = 11,
    Unimplemented = 12,
    Internal = 13,
    Unavailable = 14,
    DataLoss = 15,
    Unauthenticated = 16,
};
inline constexpr std::uint32_t kMaxStatusCode = 16;

// "OK", "CANCELLED", ...: gRPC's spelling.
[[nodiscard]] std::string_view to_string(StatusCode code);

class Status {
public:
    Status() = default;
    Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

    [[nodiscard]] bool ok() const { return code_ == StatusCode::Ok; }
    [[nodiscard]] StatusCode code() const { return code_; }
    [[nodiscard]] const std::string& message() const { return message_; }
    // "CODE: message", or "OK".
    [[nodiscard]] std::string to_string() const;

private:
    StatusCode code_ = StatusCode::Ok;
    std::string message_;
};

}  // namespace nk::rpc
