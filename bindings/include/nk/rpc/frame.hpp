// The bytes of one RPC message on an nk port: a fixed 40-byte FrameHeader, then (frames a client
// sends) the name of the caller's reply port, then the payload (a serialized Protobuf message, a
// status's message text, or a credit count).
//
// Frames arrive from other guests: parse_frame() checks every field against the bytes actually
// received before anything else looks at them, and a frame that fails is reported, never followed.
// Part of the wire ABI between guests: changing a field's width, order or meaning bumps
// kFrameVersion.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

#include <tl/expected.hpp>

namespace nk::rpc {

inline constexpr std::uint32_t kFrameMagic = 0x4e4b5250;  // "NKRP"
inline constexpr std::uint16_t kFrameVersion = 2;  // 2: client and bidirectional streams, credits
// A reply port's name fits a named object (layout::kObjectNameCapacity, NUL excluded).
inline constexpr std::size_t kMaxReplyToLength = 47;
// Flow control of client and bidirectional streams: each side may have at most this many messages
// of one stream sent that the peer has not yet credited back (a Credit frame says how many the
// peer's handler or reader took). It bounds what a slow reader holds per stream to
// kStreamWindow messages, and a sender past it waits instead of losing messages.
inline constexpr std::uint32_t kStreamWindow = 32;
// Credits are returned in batches of this many (or fewer at a stream's end), not per message.
inline constexpr std::uint32_t kCreditBatch = kStreamWindow / 4;

enum class FrameKind : std::uint16_t {
    Request = 1,     // client -> server: reply_to, then the request message
    Reply = 2,       // server -> client: status; payload is the response (OK) or the status message
    StreamItem = 3,  // server -> client: one message of a server stream
    StreamEnd = 4,   // server -> client: the stream's status; payload is its message
    Cancel = 5,      // client -> server: reply_to; the client gave up on request_id
    // Client and bidirectional streams: the Request opens the call (empty payload), then:
    ClientItem = 6,    // client -> server: reply_to, then one message of the client's stream
    ClientDone = 7,    // client -> server: reply_to; the client's stream ends (writes done)
    ServerCredit = 8,  // server -> client: payload is a uint32, client items the handler took
    ClientCredit = 9,  // client -> server: reply_to, then a uint32, stream items the reader took
};
inline constexpr std::uint16_t kMaxFrameKind = 9;

// Which kinds carry the caller's reply port name: the ones a client sends.
[[nodiscard]] constexpr bool names_reply_port(FrameKind kind) {
    return kind == FrameKind::Request || kind == FrameKind::Cancel || kind == FrameKind::ClientItem ||
           kind == FrameKind::ClientDone || kind == FrameKind::ClientCredit;
}

struct FrameHeader {
    std::uint32_t magic;            // kFrameMagic
    std::uint16_t version;          // kFrameVersion
    std::uint16_t kind;             // FrameKind
    std::uint32_t method_id;        // method_id("/package.Service/Method")
    std::uint32_t status;           // StatusCode: Reply and StreamEnd; 0 otherwise
    std::uint64_t request_id;       // chosen by the client, unique per reply port
    std::int64_t deadline_ns;       // CLOCK_MONOTONIC (the same in every guest), 0: none
    std::uint32_t payload_length;   // bytes after the header and reply_to
    std::uint16_t reply_to_length;  // Request and Cancel: bytes of the reply port name
    std::uint16_t flags;            // reserved, 0
};
static_assert(std::is_standard_layout_v<FrameHeader> && std::is_trivially_copyable_v<FrameHeader>);
static_assert(sizeof(FrameHeader) == 40 && alignof(FrameHeader) == 8);
static_assert(offsetof(FrameHeader, method_id) == 8 && offsetof(FrameHeader, request_id) == 16);
static_assert(offsetof(FrameHeader, deadline_ns) == 24 && offsetof(FrameHeader, payload_length) == 32);
static_assert(offsetof(FrameHeader, reply_to_length) == 36 && offsetof(FrameHeader, flags) == 38);

// A frame that passed parse_frame(): views into the received bytes.
struct Frame {
    FrameHeader header;  // a copy, checked
    FrameKind kind;
    std::string_view reply_to;
    std::span<const std::byte> payload;
    std::uint32_t credit = 0;  // ServerCredit and ClientCredit: the count, checked to be 1..kStreamWindow
};

// Checks `bytes` as a frame; the error says what is wrong with it, for counters and logs.
[[nodiscard]] tl::expected<Frame, std::string> parse_frame(std::span<const std::byte> bytes);

// Writes the header and reply_to at the start of `out` (which must hold them); the payload goes
// at frame_payload_offset(reply_to) and its length into header.payload_length.
[[nodiscard]] inline std::size_t frame_payload_offset(std::string_view reply_to) {
    return sizeof(FrameHeader) + reply_to.size();
}
void write_frame_head(std::span<std::byte> out, const FrameHeader& header, std::string_view reply_to);
// A credit's payload: the count in this machine's byte order (both guests run on one host).
inline constexpr std::size_t kCreditPayload = sizeof(std::uint32_t);

// FNV-1a of "/package.Service/Method": the method's id on the wire. Generated code and servers
// compute it from the same name; a server refuses two methods whose ids collide.
[[nodiscard]] constexpr std::uint32_t method_id(std::string_view full_name) {
    std::uint32_t hash = 2166136261U;
    for (char c : full_name) {
        hash ^= static_cast<std::uint8_t>(c);
        hash *= 16777619U;
    }
    return hash;
}

// Deadlines on the wire: steady_clock is CLOCK_MONOTONIC on Linux, one clock for every guest.
[[nodiscard]] std::int64_t to_wire(std::chrono::steady_clock::time_point deadline);
[[nodiscard]] std::chrono::steady_clock::time_point from_wire(std::int64_t deadline_ns);

}  // namespace nk::rpc
