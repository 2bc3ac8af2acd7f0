// nk::rt::read_exec_status: an rt executive's status segment, copied and checked.
//
// The segment is written by the rt guest; whoever reads it (nkctl rt, a test, the executive's
// own report()) goes through this one reader, which copies each word once and refuses a header
// whose magic, version, sizes or counts do not fit the bytes it was given, and a record whose
// name is not NUL-terminated or whose kind or state is unknown. It never follows a value read
// from the segment as an index without bounding it first.
//
//   auto seg = nk::ipc::Segment::open(region, "rt.exec", nk::Rights::Read);
//   auto status = nk::rt::read_exec_status(seg->bytes());
//   for (const auto& task : status->tasks) std::printf("%s %llu\n", task.name.c_str(), task.activations);
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "nk/nanokernel/result.hpp"
#include "nk/rt/exec_layout.hpp"

namespace nk::rt {

struct TaskStatus {
    std::string name;
    layout::TaskKind kind = layout::TaskKind::Task;
    layout::TaskState state = layout::TaskState::Created;
    int priority = 0;
    std::uint64_t period_ns = 0;
    std::uint32_t line = 0;
    std::uint64_t activations = 0, overruns = 0;
    std::uint64_t delay_min_ns = 0, delay_max_ns = 0, delay_sum_ns = 0, delay_last_ns = 0;
    std::uint64_t runtime_max_ns = 0;
    std::array<std::uint64_t, layout::kBuckets> buckets{};
};

struct ExecStatus {
    std::uint16_t guest_id = 0;
    std::uint32_t pid = 0;
    std::uint64_t started_ns = 0;
    std::uint32_t max_tasks = 0;
    std::vector<TaskStatus> tasks;
};

// Errors: RegionError::BadMagic (not formatted yet, or not a status segment), VersionMismatch,
// SizeMismatch (sizes that do not fit `bytes`), Corrupt (a count, name, kind or state out of range).
[[nodiscard]] Result<ExecStatus> read_exec_status(std::span<const std::byte> bytes);

[[nodiscard]] std::string_view to_string(layout::TaskKind kind);
[[nodiscard]] std::string_view to_string(layout::TaskState state);

}  // namespace nk::rt
