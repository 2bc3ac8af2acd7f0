// copy_item: how the queues copy an item into or out of a slot.
//
// Why not plain memcpy: the item size is known only at run time, so memcpy becomes a call into
// libc, whose small-size path (masked AVX-512 stores on the development machines) measured 4 to
// 10 times slower than two plain moves when the slot's cache line is shared with the peer
// process: an SPSC ring of 8-byte items moved 16 Mitems/s through libc's memcpy and 150-300
// through fixed-size copies. Up to 64 bytes we copy with two overlapping fixed-size moves (the
// compiler turns each into one register or vector load and store); beyond that libc's memcpy
// wins again.
#pragma once

#include <cstddef>
#include <cstring>

namespace nk::ipc::detail {

inline void copy_item(std::byte* to, const std::byte* from, std::size_t size) noexcept {
    // Each branch copies the first and the last `chunk` bytes; together they cover size bytes.
    if (size >= 8 && size <= 16) {
        std::memcpy(to, from, 8);
        std::memcpy(to + size - 8, from + size - 8, 8);
    } else if (size > 16 && size <= 32) {
        std::memcpy(to, from, 16);
        std::memcpy(to + size - 16, from + size - 16, 16);
    } else if (size > 32 && size <= 64) {
        std::memcpy(to, from, 32);
        std::memcpy(to + size - 32, from + size - 32, 32);
    } else if (size >= 4 && size < 8) {
        std::memcpy(to, from, 4);
        std::memcpy(to + size - 4, from + size - 4, 4);
    } else if (size < 4) {
        for (std::size_t i = 0; i < size; ++i) to[i] = from[i];
    } else {
        std::memcpy(to, from, size);
    }
}

}  // namespace nk::ipc::detail
