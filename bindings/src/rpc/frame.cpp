#include "nk/rpc/frame.hpp"

#include <cstring>

#include "nk/rpc/status.hpp"

namespace nk::rpc {

tl::expected<Frame, std::string> parse_frame(std::span<const std::byte> bytes) {
    using Fail = tl::unexpected<std::string>;
    if (bytes.size() < sizeof(FrameHeader))
        return Fail("a frame of " + std::to_string(bytes.size()) + " bytes is shorter than its header");
    Frame frame{};
    std::memcpy(&frame.header, bytes.data(), sizeof frame.header);  // the peer's bytes: copied once, then checked
    const FrameHeader& h = frame.header;
    if (h.magic != kFrameMagic) return Fail("not an nk rpc frame (magic " + std::to_string(h.magic) + ")");
    if (h.version != kFrameVersion)
        return Fail("frame version " + std::to_string(h.version) + " is not " + std::to_string(kFrameVersion));
    if (h.kind < static_cast<std::uint16_t>(FrameKind::Request) || h.kind > kMaxFrameKind)
        return Fail("unknown frame kind " + std::to_string(h.kind));
    frame.kind = static_cast<FrameKind>(h.kind);
    if (h.flags != 0) return Fail("frame flags " + std::to_string(h.flags) + " are reserved");
    if (h.status > kMaxStatusCode) return Fail("status code " + std::to_string(h.status) + " is out of range");
    if (names_reply_port(frame.kind) ? (h.reply_to_length == 0 || h.reply_to_length > kMaxReplyToLength)
                                     : h.reply_to_length != 0)
        return Fail("reply port name of " + std::to_string(h.reply_to_length) + " bytes in a frame of kind " +
                    std::to_string(h.kind));
    const std::size_t expected = sizeof(FrameHeader) + std::size_t{h.reply_to_length} + std::size_t{h.payload_length};
    if (expected != bytes.size())
        return Fail("frame claims " + std::to_string(expected) + " bytes but " + std::to_string(bytes.size()) + " arrived");
    frame.reply_to = std::string_view(reinterpret_cast<const char*>(bytes.data()) + sizeof(FrameHeader), h.reply_to_length);
    for (char c : frame.reply_to)
        if (c <= ' ' || c > '~') return Fail("reply port name has a byte outside printable ASCII");
    frame.payload = bytes.subspan(sizeof(FrameHeader) + h.reply_to_length, h.payload_length);
    if (frame.kind == FrameKind::ServerCredit || frame.kind == FrameKind::ClientCredit) {
        if (frame.payload.size() != kCreditPayload)
            return Fail("a credit of " + std::to_string(frame.payload.size()) + " bytes, not " + std::to_string(kCreditPayload));
        std::memcpy(&frame.credit, frame.payload.data(), sizeof frame.credit);
        if (frame.credit == 0 || frame.credit > kStreamWindow)
            return Fail("a credit of " + std::to_string(frame.credit) + " messages is outside 1.." +
                        std::to_string(kStreamWindow));
    }
    return frame;
}

void write_frame_head(std::span<std::byte> out, const FrameHeader& header, std::string_view reply_to) {
    std::memcpy(out.data(), &header, sizeof header);
    if (!reply_to.empty()) std::memcpy(out.data() + sizeof header, reply_to.data(), reply_to.size());  // {}: data() may be null
}

std::int64_t to_wire(std::chrono::steady_clock::time_point deadline) {
    if (deadline == std::chrono::steady_clock::time_point::max()) return 0;
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(deadline.time_since_epoch()).count();
    return ns <= 0 ? 1 : ns;  // 0 means "none": an already-past deadline stays past
}

std::chrono::steady_clock::time_point from_wire(std::int64_t deadline_ns) {
    if (deadline_ns <= 0) return std::chrono::steady_clock::time_point::max();
    return std::chrono::steady_clock::time_point(std::chrono::nanoseconds(deadline_ns));
}

}  // namespace nk::rpc
