// The rt benchmark's peers, measured beside the rt guest in the same run and on the same CPU:
// cyclictest (rt-tests) at SCHED_FIFO, and the same 1 kHz periodic task as an ordinary
// SCHED_OTHER process. Every result is a histogram in nk::rt's buckets (latency_histogram.hpp),
// so the three are read with one percentile function.
#pragma once

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "nk/rt/exec_layout.hpp"

namespace nk::bench::rt {

using Histogram = std::array<std::uint64_t, nk::rt::layout::kBuckets>;

struct Latencies {
    Histogram buckets{};
    std::uint64_t count = 0, overruns = 0;
    std::uint64_t min_us = 0, max_us = 0;
};

// Starts cyclictest: one thread, SCHED_FIFO `priority`, pinned to `cpu`, `loops` wake-ups every
// 1 ms, memory locked, its histogram (-h, 1 µs buckets) written to `output`.
[[nodiscard]] pid_t start_cyclictest(int cpu, int priority, std::uint64_t loops, const std::string& output);
// Reads that output (after cyclictest exited) into buckets; false if it holds no histogram.
[[nodiscard]] bool read_cyclictest(const std::string& output, Latencies& out);

// Forks the SCHED_OTHER task: pinned to `cpu`, at nice 0, not locked; `activations` deadlines
// every 1 ms on clock_nanosleep(TIMER_ABSTIME), each one's delay recorded as the executive does
// (a deadline that passed while it was late is an overrun, not an activation). The result lands
// in `shared` (memory shared with the child) when it exits.
[[nodiscard]] pid_t start_other_task(int cpu, std::uint64_t activations, Latencies* shared);

// Waits for a child; true if it exited with 0.
bool wait_child(pid_t pid);

}  // namespace nk::bench::rt
