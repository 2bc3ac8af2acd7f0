// nk::rpc::NoHeapChannel: unary calls from one thread with no heap allocation per call, for the
// rt guest's hot path; the client side of NoHeapServer (and of any nk::rpc::Server: same wire).
//
// open() makes the reply port and allocates the send and receive buffers; a call then serializes
// into the one, waits on the reply port for its own request id, and parses the reply straight
// into the caller's response. A successful call allocates nothing when the response message is
// reused (after its first use its fields keep their capacity) or lives on an arena, and its
// string fields fit the rules in no_heap_server.hpp. Errors build their status text on the heap.
//
//   auto channel = nk::rpc::NoHeapChannel::open(region, "rt.sampler");
//   const std::uint32_t sum = nk::rpc::method_id("/sensors.Sampler/Sum");
//   nk::rpc::Status status = (*channel)->call(sum, request, reply, std::chrono::milliseconds(2));
//
// Statuses as for Channel::call (channel.hpp): DEADLINE_EXCEEDED (the server is told), UNAVAILABLE
// within kLivenessSlice when the server guest is down or restarted (the next call reopens its
// port), RESOURCE_EXHAUSTED for an oversized request or a port full until the deadline, INTERNAL
// for a malformed reply. Concurrency: one call at a time (one thread); the Region must outlive it.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <google/protobuf/message_lite.h>

#include "nk/ipc/port.hpp"
#include "nk/nanokernel/region.hpp"
#include "nk/rpc/channel.hpp"
#include "nk/rpc/status.hpp"

namespace nk::rpc {

struct NoHeapChannelStats {
    std::uint64_t calls = 0;
    std::uint64_t malformed = 0;  // frames on the reply port that failed parse_frame() or were no Reply
    std::uint64_t late = 0;       // replies to calls that had already ended
};

class NoHeapChannel {
public:
    [[nodiscard]] static Result<std::unique_ptr<NoHeapChannel>> open(const Region& region, std::string_view service_port,
                                                                     const ChannelOptions& options = {});
    ~NoHeapChannel();
    NoHeapChannel(const NoHeapChannel&) = delete;
    NoHeapChannel& operator=(const NoHeapChannel&) = delete;

    // A unary call: sends `request`, waits for its reply until `timeout` has passed, parses it into `response`.
    [[nodiscard]] Status call(std::uint32_t method_id, const google::protobuf::MessageLite& request,
                              google::protobuf::MessageLite& response, std::chrono::nanoseconds timeout);

    // The largest serialized request this channel carries.
    [[nodiscard]] std::size_t max_message() const;
    [[nodiscard]] const NoHeapChannelStats& stats() const { return stats_; }
    [[nodiscard]] const std::string& reply_port() const { return reply_name_; }

private:
    NoHeapChannel(const Region& region, std::string service_port, ipc::PortSender sender, ipc::Port reply_port,
                  std::string reply_name);
    [[nodiscard]] Status unavailable(std::string_view why) const;
    void send_cancel(std::uint32_t method_id, std::uint64_t id);

    const Region* region_;
    std::string service_port_;
    std::optional<ipc::PortSender> sender_;
    ipc::Port reply_port_;
    std::string reply_name_;
    std::vector<std::byte> send_buffer_, receive_buffer_;
    std::uint64_t next_id_ = 1;
    NoHeapChannelStats stats_;
};

}  // namespace nk::rpc
