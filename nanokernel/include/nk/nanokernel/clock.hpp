// The two clocks the region's records use, as nanosecond counts that fit its 64-bit fields.
#pragma once

#include <chrono>
#include <cstdint>

namespace nk::clock {

// CLOCK_REALTIME: for times a person reads (creation, failures).
[[nodiscard]] inline std::uint64_t unix_ns() {
    return static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
}

// CLOCK_MONOTONIC: for ages and deadlines compared across processes (no time namespaces in nk).
[[nodiscard]] inline std::uint64_t monotonic_ns() {
    return static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count());
}

}  // namespace nk::clock
