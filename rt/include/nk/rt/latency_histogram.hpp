// nk::rt::LatencyHistogram: the dispatch-delay buckets of the status segment (exec_layout.hpp),
// and percentiles read from them.
//
// One scheme for everything that is compared: the executive's tasks, the SCHED_OTHER task and
// cyclictest's -h histogram (1 µs buckets) all go through bucket_of(), and a percentile is the
// lower edge of the bucket that holds its rank, as cyclictest reports whole microseconds.
//
//   std::array<std::uint64_t, nk::rt::layout::kBuckets> counts{};
//   ++counts[nk::rt::bucket_of(delay_ns)];
//   double p99_us = nk::rt::percentile_us(counts, 0.99);
#pragma once

#include <bit>
#include <cstdint>
#include <span>

#include "nk/rt/exec_layout.hpp"

namespace nk::rt {

// The bucket of a delay in ns; every delay has one (the last is open-ended).
[[nodiscard]] constexpr std::uint32_t bucket_of(std::uint64_t delay_ns) {
    const std::uint64_t us = delay_ns / 1000;
    if (us < layout::kLinearBuckets) return static_cast<std::uint32_t>(us);
    // floor(log2(us)) >= 9 here: octave 0 is [512, 1024) µs; its parts are 64 << octave wide.
    const auto octave = static_cast<std::uint32_t>(std::bit_width(us) - 1) - 9;
    if (octave >= layout::kOctaves) return layout::kBuckets - 1;
    const auto part = static_cast<std::uint32_t>((us >> (octave + 6)) & (layout::kSubBuckets - 1));
    return layout::kLinearBuckets + octave * layout::kSubBuckets + part;
}

// The lower edge of bucket `b` in µs.
[[nodiscard]] constexpr std::uint64_t bucket_low_us(std::uint32_t b) {
    if (b < layout::kLinearBuckets) return b;
    const std::uint32_t octave = (b - layout::kLinearBuckets) / layout::kSubBuckets;
    const std::uint32_t part = (b - layout::kLinearBuckets) % layout::kSubBuckets;
    return (std::uint64_t{layout::kLinearBuckets} << octave) + (std::uint64_t{part} << (octave + 6));
}

// The upper edge (exclusive) of bucket `b` in µs; the last bucket has none (UINT64_MAX).
[[nodiscard]] constexpr std::uint64_t bucket_high_us(std::uint32_t b) {
    return b + 1 >= layout::kBuckets ? UINT64_MAX : bucket_low_us(b + 1);
}

static_assert(bucket_of(0) == 0 && bucket_of(999) == 0 && bucket_of(511'999) == 511);
static_assert(bucket_of(512'000) == 512 && bucket_of(575'999) == 512 && bucket_of(576'000) == 513);
static_assert(bucket_of(1'023'999) == 519 && bucket_of(1'024'000) == 520 && bucket_of(1'151'999) == 520);
static_assert(bucket_of(UINT64_MAX) == layout::kBuckets - 1);
static_assert(bucket_low_us(513) == 576 && bucket_low_us(520) == 1024 && bucket_low_us(521) == 1152);
static_assert(bucket_high_us(511) == 512 && bucket_high_us(519) == 1024);
static_assert(bucket_of(bucket_low_us(layout::kBuckets - 1) * 1000) == layout::kBuckets - 1);

// The total of the counts.
[[nodiscard]] constexpr std::uint64_t total(std::span<const std::uint64_t> counts) {
    std::uint64_t n = 0;
    for (const std::uint64_t c : counts) n += c;
    return n;
}

// The q-quantile (0 < q <= 1) in µs: the lower edge of the bucket that holds the sample of rank
// ceil(q * n). 0 for an empty histogram.
[[nodiscard]] inline double percentile_us(std::span<const std::uint64_t> counts, double q) {
    const std::uint64_t n = total(counts);
    if (n == 0) return 0;
    auto rank = static_cast<std::uint64_t>(q * static_cast<double>(n));
    if (static_cast<double>(rank) < q * static_cast<double>(n)) ++rank;
    if (rank == 0) rank = 1;
    std::uint64_t seen = 0;
    for (std::uint32_t b = 0; b < counts.size(); ++b) {
        seen += counts[b];
        if (seen >= rank) return static_cast<double>(bucket_low_us(b));
    }
    return static_cast<double>(bucket_low_us(static_cast<std::uint32_t>(counts.size() - 1)));
}

}  // namespace nk::rt
