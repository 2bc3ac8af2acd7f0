// nk::ConsoleRing: the last bytes a guest wrote to its console, kept in the guest's PNV area.
//
// nkd captures each guest's stdout and stderr and appends them here, so that the console tail
// of a guest that failed survives its restart, and survives nkd (the PNV area outlives both).
// `nkctl crash-info GUEST` shows the tail.
//
//   auto ring = nk::ConsoleRing::open(region, guest_id, true);   // nkd: find or make it
//   ring->append("[linux] service started\n");
//   auto lines = nk::ConsoleRing::open(region, guest_id, false)->tail(20);   // anyone holding the PNV area
//
// One writer (nkd). The ring lives in memory the guest can write, so readers trust nothing in
// it: the header is checked and the text is bounded by the ring.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "nk/nanokernel/region.hpp"

namespace nk {

inline constexpr char kConsoleRingId[] = "nk.console";
inline constexpr std::uint64_t kConsoleRingMagic = 0x4e4b'434f'4e53'0001ULL;  // "NKCONS" 0001
inline constexpr std::uint32_t kConsoleRingBytes = 16384;

struct ConsoleRingHeader {
    std::uint64_t magic;     // kConsoleRingMagic
    std::uint32_t version;   // 1
    std::uint32_t capacity;  // bytes of text after the header
    std::uint64_t written;   // atomic; bytes ever appended; byte i lives at i % capacity
    std::uint8_t reserved[40];
};
static_assert(sizeof(ConsoleRingHeader) == 64 && std::is_trivially_copyable_v<ConsoleRingHeader>);
static_assert(offsetof(ConsoleRingHeader, written) == 16);

class ConsoleRing {
public:
    // The ring of guest `guest_id` in its PNV area. With `create` (nkd), made if missing.
    [[nodiscard]] static Result<ConsoleRing> open(const Region& region, std::uint16_t guest_id, bool create);

    // nkd only.
    void append(std::string_view text);

    // The last `max_lines` complete lines, oldest first.
    [[nodiscard]] std::vector<std::string> tail(std::size_t max_lines) const;

private:
    ConsoleRing(ConsoleRingHeader* header, std::uint32_t capacity) : header_(header), capacity_(capacity) {}
    [[nodiscard]] char* text() const { return reinterpret_cast<char*>(header_ + 1); }

    ConsoleRingHeader* header_;
    std::uint32_t capacity_;  // validated copy
};

}  // namespace nk
