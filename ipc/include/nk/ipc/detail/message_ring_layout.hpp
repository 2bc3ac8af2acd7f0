// The shared-memory layout of nk::ipc's message ring (message_ring.hpp): the ring header and the
// header of each record. Part of the region's ABI (layout.hpp's rules apply): changing a field's
// width, order or meaning bumps kMessageRingLayoutVersion. The protocol is in
// docs/message-ring.md and at the top of ipc/src/message_ring.cpp.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "nk/ipc/detail/queue_fault.hpp"
#include "nk/nanokernel/layout.hpp"

namespace nk::ipc {

inline constexpr std::uint64_t kMessageRingMagic = 0x4e4b'4d53'4752'0001ULL;  // "NKMSGR" 0001
inline constexpr std::uint32_t kMessageRingLayoutVersion = 1;

// Every record starts on a multiple of this, and the record header is exactly this long, so the
// space left before the end of the buffer is either 0 or room for a padding header.
inline constexpr std::uint32_t kMessageRecordAlign = 32;

// The state byte of a record's state word.
enum class RecordState : std::uint8_t {
    Reserved = 1,   // a writer holds it: header written, payload being written
    Committed = 2,  // complete; the consumer may read it
    Abandoned = 3,  // its writer gave it up or died; the consumer skips it
    Padding = 4,    // fills the end of the buffer so that the next record does not wrap
};

// The record header. `word` packs state (bits 0..7), the writer's guest id (bits 8..15) and a tag
// (bits 16..63): bits 5..52 of the record's absolute byte position. The tag tells the record of
// this lap from a stale one of the lap before, and makes a commit of a record the consumer has
// already declared dead fail even if the space was reserved again since.
struct MessageRecordHeader {
    std::uint64_t word;         // atomic; state | guest << 8 | tag << 16; stored last (release)
    std::uint32_t length;       // payload bytes, <= max_record_size; for Padding, the bytes after this header
    std::uint32_t pid;          // the writer's pid, in its pid namespace
    std::uint32_t pid_ns;       // inode of the writer's pid namespace (/proc/self/ns/pid)
    std::uint32_t incarnation;  // the writer's guest's incarnation when it attached the ring
    std::uint64_t start_time;   // the writer's start time (/proc/PID/stat field 22), against pid reuse
};

static_assert(std::is_standard_layout_v<MessageRecordHeader> && std::is_trivially_copyable_v<MessageRecordHeader>);
static_assert(sizeof(MessageRecordHeader) == kMessageRecordAlign && alignof(MessageRecordHeader) == 8);
static_assert(offsetof(MessageRecordHeader, length) == 8 && offsetof(MessageRecordHeader, pid) == 12);
static_assert(offsetof(MessageRecordHeader, pid_ns) == 16 && offsetof(MessageRecordHeader, incarnation) == 20);
static_assert(offsetof(MessageRecordHeader, start_time) == 24);
static_assert(layout::kMaxGuests < 256, "the guest id must fit in 8 bits of the record word");

// The first bytes of a message ring; the buffer follows at data_offset.
struct alignas(detail::kCacheLine) MessageRingHeader {
    // Line 0: written by format() before it publishes the magic, read-only afterwards.
    std::uint64_t magic;             // atomic; kMessageRingMagic, stored last (release)
    std::uint32_t layout_version;    // kMessageRingLayoutVersion
    std::uint32_t header_size;       // sizeof(MessageRingHeader)
    std::uint32_t capacity;          // buffer bytes; a power of two
    std::uint32_t max_record_size;   // payload bytes; round_up(32 + max, 32) <= capacity / 2
    std::uint64_t data_offset;       // from the start of this header; sizeof(MessageRingHeader)
    std::uint8_t reserved0[32];
    // Line 1: written by the producers.
    std::uint64_t head;              // atomic; bytes ever reserved (CAS by producers); multiple of 32
    std::uint64_t full_count;        // atomic; reservations refused for want of space
    std::uint8_t reserved1[48];
    // Line 2: written by the consumer only.
    std::uint64_t tail;              // atomic; bytes ever released; multiple of 32
    std::uint64_t records;           // atomic; committed records read and released
    std::uint64_t bytes;             // atomic; payload bytes of those records
    std::uint64_t abandoned;         // atomic; records skipped as abandoned (writer gave up or died)
    std::uint8_t reserved2[32];
};

static_assert(std::is_standard_layout_v<MessageRingHeader> && std::is_trivially_copyable_v<MessageRingHeader>);
static_assert(std::atomic_ref<std::uint64_t>::is_always_lock_free);
static_assert(sizeof(MessageRingHeader) == 3 * detail::kCacheLine &&
              alignof(MessageRingHeader) == detail::kCacheLine);
static_assert(offsetof(MessageRingHeader, layout_version) == 8 && offsetof(MessageRingHeader, header_size) == 12);
static_assert(offsetof(MessageRingHeader, capacity) == 16 && offsetof(MessageRingHeader, max_record_size) == 20);
static_assert(offsetof(MessageRingHeader, data_offset) == 24);
static_assert(offsetof(MessageRingHeader, head) == 64 && offsetof(MessageRingHeader, full_count) == 72);
static_assert(offsetof(MessageRingHeader, tail) == 128 && offsetof(MessageRingHeader, records) == 136);
static_assert(offsetof(MessageRingHeader, bytes) == 144 && offsetof(MessageRingHeader, abandoned) == 152);

namespace detail {

inline constexpr std::uint32_t kMinMessageRingCapacity = 256;
inline constexpr std::uint32_t kMaxMessageRingCapacity = 1U << 30;

// Bytes a record of `length` payload bytes takes in the buffer, header included.
[[nodiscard]] constexpr std::uint64_t record_stride(std::uint64_t length) noexcept {
    return (sizeof(MessageRecordHeader) + length + kMessageRecordAlign - 1) & ~std::uint64_t{kMessageRecordAlign - 1};
}

[[nodiscard]] constexpr std::uint64_t record_tag(std::uint64_t position) noexcept {
    return (position / kMessageRecordAlign) & ((std::uint64_t{1} << 48) - 1);
}

[[nodiscard]] constexpr std::uint64_t record_word(RecordState state, std::uint16_t guest, std::uint64_t position) noexcept {
    return std::uint64_t{static_cast<std::uint8_t>(state)} | (std::uint64_t{guest & 0xffU} << 8) |
           (record_tag(position) << 16);
}

[[nodiscard]] constexpr std::uint8_t word_state(std::uint64_t word) noexcept { return static_cast<std::uint8_t>(word); }
[[nodiscard]] constexpr std::uint16_t word_guest(std::uint64_t word) noexcept {
    return static_cast<std::uint16_t>((word >> 8) & 0xffU);
}
[[nodiscard]] constexpr std::uint64_t word_tag(std::uint64_t word) noexcept { return word >> 16; }

}  // namespace detail
}  // namespace nk::ipc
