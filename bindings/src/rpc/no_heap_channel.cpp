// NoHeapChannel (no_heap_channel.hpp). One call at a time, so the reply port is this call's alone:
// a frame with another request id is a late reply to a call that gave up, dropped.
#include "nk/rpc/no_heap_channel.hpp"


#include <algorithm>
#include <array>
#include <cstring>

#include "client_ports.hpp"
#include "nk/rpc/frame.hpp"

namespace nk::rpc {
namespace {

using Clock = std::chrono::steady_clock;

std::chrono::nanoseconds until(Clock::time_point deadline) {
    const auto now = Clock::now();
    return deadline <= now ? std::chrono::nanoseconds(0) : std::min<std::chrono::nanoseconds>(deadline - now, kLivenessSlice);
}

}  // namespace

Result<std::unique_ptr<NoHeapChannel>> NoHeapChannel::open(const Region& region, std::string_view service_port,
                                                           const ChannelOptions& options) {
    auto ports = detail::open_client_ports(region, service_port, options);
    if (!ports) return fail(std::move(ports.error()));
    return std::unique_ptr<NoHeapChannel>(new NoHeapChannel(region, std::string(service_port), std::move(ports->sender),
                                                            std::move(ports->reply_port), std::move(ports->reply_name)));
}

NoHeapChannel::NoHeapChannel(const Region& region, std::string service_port, ipc::PortSender sender, ipc::Port reply_port,
                             std::string reply_name)
    : region_(&region), service_port_(std::move(service_port)), sender_(std::move(sender)),
      reply_port_(std::move(reply_port)), reply_name_(std::move(reply_name)),
      send_buffer_(sender_->max_message()), receive_buffer_(reply_port_.max_message()) {}

NoHeapChannel::~NoHeapChannel() { (void)ipc::Port::remove(*region_, reply_name_); }

std::size_t NoHeapChannel::max_message() const {
    const std::size_t overhead = sizeof(FrameHeader) + reply_name_.size();
    return send_buffer_.size() > overhead ? send_buffer_.size() - overhead : 0;
}

Status NoHeapChannel::unavailable(std::string_view why) const {
    return Status(StatusCode::Unavailable, "service port '" + service_port_ + "': " + std::string(why));
}

void NoHeapChannel::send_cancel(std::uint32_t method_id, std::uint64_t id) {
    std::array<std::byte, sizeof(FrameHeader) + kMaxReplyToLength> frame{};
    const FrameHeader header{kFrameMagic, kFrameVersion, static_cast<std::uint16_t>(FrameKind::Cancel), method_id, 0, id, 0, 0,
                             static_cast<std::uint16_t>(reply_name_.size()), 0};
    write_frame_head(frame, header, reply_name_);
    // Best effort: a full port only means the server finds out at the deadline.
    (void)sender_->try_send(std::span(frame).first(frame_payload_offset(reply_name_)));
}

Status NoHeapChannel::call(std::uint32_t method_id, const google::protobuf::MessageLite& request,
                           google::protobuf::MessageLite& response, std::chrono::nanoseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    ++stats_.calls;
    if (!sender_->owner_up()) {
        // The server may have come back with a new port: open it again (this allocates, once).
        auto reopened = ipc::PortSender::open(*region_, service_port_);
        if (!reopened) return unavailable(reopened.error().message);
        sender_.emplace(std::move(*reopened));
        if (!sender_->owner_up()) return unavailable("the server guest is down or was restarted");
        if (sender_->max_message() > send_buffer_.size()) send_buffer_.resize(sender_->max_message());
    }
    const std::size_t size = request.ByteSizeLong();
    const std::size_t overhead = sizeof(FrameHeader) + reply_name_.size();
    const std::size_t limit = sender_->max_message() > overhead ? sender_->max_message() - overhead : 0;
    if (size > limit)
        return Status(StatusCode::ResourceExhausted, "a request of " + std::to_string(size) +
                                                         " bytes is larger than the maximum of " + std::to_string(limit) +
                                                         " bytes on service port '" + service_port_ + "'");
    const std::uint64_t id = next_id_++;
    const FrameHeader header{kFrameMagic, kFrameVersion, static_cast<std::uint16_t>(FrameKind::Request), method_id, 0, id,
                             to_wire(deadline), static_cast<std::uint32_t>(size), static_cast<std::uint16_t>(reply_name_.size()), 0};
    const std::span<std::byte> frame = std::span(send_buffer_).first(overhead + size);
    write_frame_head(frame, header, reply_name_);
    request.SerializeWithCachedSizesToArray(reinterpret_cast<std::uint8_t*>(frame.data() + overhead));
    for (;;) {  // a full server port is back-pressure: wait for room, looking at the server between slices
        auto sent = sender_->send(frame, until(deadline));
        if (sent) break;
        if (sent.error().code == make_error_code(RegionError::NotRunning)) return unavailable(sent.error().message);
        if (sent.error().code != make_error_code(RegionError::NoSpace)) return Status(StatusCode::Internal, sent.error().message);
        if (Clock::now() >= deadline) return Status(StatusCode::ResourceExhausted, sent.error().message);
    }
    for (;;) {
        auto got = reply_port_.receive(receive_buffer_, until(deadline));
        if (!got) return Status(StatusCode::Internal, "reply port '" + reply_name_ + "': " + got.error().message);
        if (!*got) {
            if (!sender_->owner_up()) return unavailable("the server guest went down (or was restarted) during the call");
            if (Clock::now() >= deadline) {
                send_cancel(method_id, id);
                return Status(StatusCode::DeadlineExceeded, "no reply from service port '" + service_port_ + "' by the deadline");
            }
            continue;
        }
        auto reply = parse_frame(std::span(receive_buffer_).first(**got));
        if (!reply) {
            ++stats_.malformed;
            FrameHeader named{};
            std::memcpy(&named, receive_buffer_.data(), std::min(sizeof named, std::size_t{**got}));
            if (**got >= sizeof named && named.request_id == id)
                return Status(StatusCode::Internal, "malformed reply on '" + reply_name_ + "': " + reply.error());
            continue;
        }
        if (reply->header.request_id != id) {
            ++stats_.late;
            continue;
        }
        if (reply->kind != FrameKind::Reply || reply->header.method_id != method_id) {
            ++stats_.malformed;
            return Status(StatusCode::Internal, "malformed reply on '" + reply_name_ + "': not the reply to this call");
        }
        const auto code = static_cast<StatusCode>(reply->header.status);
        if (code != StatusCode::Ok)
            return Status(code, std::string(reinterpret_cast<const char*>(reply->payload.data()), reply->payload.size()));
        if (!response.ParseFromArray(reply->payload.data(), static_cast<int>(reply->payload.size())))
            return Status(StatusCode::Internal, "the reply of " + std::to_string(reply->payload.size()) +
                                                    " bytes does not parse as " + response.GetTypeName());
        return Status();
    }
}

}  // namespace nk::rpc
