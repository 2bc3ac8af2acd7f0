// Fuzz target: nk::rpc frames as a scribbling peer would send them. The input picks the header's
// fields (valid magic and version most of the time, so that the checks behind them are reached)
// and the bytes after it; parse_frame() must refuse or return views that lie inside the input,
// and a payload it lets through is parsed as a Protobuf message (google.protobuf.Struct: maps,
// oneofs, recursion) as the runtime would, with no crash.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <google/protobuf/struct.pb.h>

#include "nk/rpc/frame.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using nk::rpc::FrameHeader;
    if (size < 8) return 0;
    const std::uint8_t choice = data[0];
    FrameHeader header{nk::rpc::kFrameMagic, nk::rpc::kFrameVersion, static_cast<std::uint16_t>(data[1] % (nk::rpc::kMaxFrameKind + 2)),
                       0x1234, static_cast<std::uint32_t>(data[2] % 20), 42, 0, 0,
                       static_cast<std::uint16_t>(data[3] % 64), static_cast<std::uint16_t>(choice & 0x80 ? data[4] : 0)};
    const std::size_t rest = size - 8;
    // Mostly the true length; sometimes one that lies.
    header.payload_length = static_cast<std::uint32_t>(rest >= header.reply_to_length ? rest - header.reply_to_length : 0);
    if (choice & 0x40) header.payload_length += data[5];
    if (choice & 0x20) header.magic ^= data[6];
    if (choice & 0x10) header.version = data[7];
    std::vector<std::byte> frame(sizeof header + rest);
    std::memcpy(frame.data(), &header, sizeof header);
    std::memcpy(frame.data() + sizeof header, data + 8, rest);
    auto parsed = nk::rpc::parse_frame(frame);
    if (!parsed) return 0;
    const std::byte* begin = frame.data();
    const std::byte* end = frame.data() + frame.size();
    const auto inside = [&](const void* p, std::size_t n) {
        const auto* b = static_cast<const std::byte*>(p);
        return n == 0 || (b >= begin && b + n <= end);
    };
    if (!inside(parsed->reply_to.data(), parsed->reply_to.size()) || !inside(parsed->payload.data(), parsed->payload.size()) ||
        sizeof(FrameHeader) + parsed->reply_to.size() + parsed->payload.size() != frame.size())
        std::abort();  // a view outside the bytes received: the bug this target looks for
    google::protobuf::Struct message;
    (void)message.ParseFromArray(parsed->payload.data(), static_cast<int>(parsed->payload.size()));
    return 0;
}
