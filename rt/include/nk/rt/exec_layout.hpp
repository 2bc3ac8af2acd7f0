// nk::rt::layout: the rt executive's status segment ("rt.exec" by default), part of the region's ABI.
//
// The executive (executive.hpp) publishes one record per task in a named segment, so that
// `nkctl rt` (another process, another guest's observer) shows every task's state, activations,
// overruns and dispatch-delay histogram without asking the rt guest anything. The segment is
// written by the rt guest and read by anyone who may map it: readers treat every field as
// untrusted (exec_status.hpp validates each count and index before it uses it).
//
// Single writer per word: the executive's setup thread writes a record's identity (name, kind,
// priority, period) before it publishes task_count (release); afterwards only the task's own
// thread writes its counters and buckets (relaxed stores, one writer), and its state word. A
// reader thus sees each word whole, but not a consistent set of words: a bucket total may differ
// from `activations` by the one activation being recorded. It is a display, not a protocol.
//
// Changing a field's width, order or meaning bumps kExecLayoutVersion.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace nk::rt::layout {

inline constexpr std::uint64_t kExecMagic = 0x4e4b'5254'4558'0001ULL;  // "NKRTEX" 0001
inline constexpr std::uint32_t kExecLayoutVersion = 1;
inline constexpr std::uint32_t kMaxTasks = 32;  // per executive; ExecutiveOptions::max_tasks sizes the segment
inline constexpr std::size_t kTaskNameCapacity = 32;  // NUL included

// Dispatch delays in µs: 1 µs buckets below kLinearBuckets µs (where a real-time task lives, and
// the resolution cyclictest's -h histogram has), then each power of two from 512 µs on split in
// kSubBuckets equal parts (HdrHistogram's idea: at most 12.5 % wide), up to the last bucket,
// which is open-ended. Octave o, part s: [512·2^o + s·64·2^o, 512·2^o + (s+1)·64·2^o) µs.
inline constexpr std::uint32_t kLinearBuckets = 512;
inline constexpr std::uint32_t kSubBuckets = 8;
inline constexpr std::uint32_t kOctaves = 22;  // up to 2^31 µs, about 36 minutes
inline constexpr std::uint32_t kBuckets = kLinearBuckets + kSubBuckets * kOctaves;

enum class TaskKind : std::uint32_t {
    Task = 1,       // spawn(): a thread running the caller's loop
    Periodic = 2,   // periodic(): activations from a virtual timer
    Interrupt = 3,  // on_interrupt(): a handler bound to a virtual interrupt line
};

enum class TaskState : std::uint32_t {
    Created = 0,   // recorded, its thread not started yet
    Running = 1,
    Stopped = 2,   // its thread ended (stop(), or a task body that returned)
    Failed = 3,    // its thread could not start or its dispatcher failed; see the executive's log
};

struct alignas(64) TaskRecord {
    // Written once before task_count publishes it.
    char name[kTaskNameCapacity];  // NUL-terminated
    std::uint32_t kind;            // TaskKind
    std::int32_t priority;         // SCHED_FIFO priority
    std::uint64_t period_ns;       // Periodic; 0 otherwise
    std::uint32_t line;            // Periodic: its timer's line; Interrupt: its line; else 0xffffffff
    std::uint32_t state;           // atomic; TaskState, written by the task's thread
    std::uint64_t reserved0;
    // Written by the task's thread only (atomic, relaxed).
    std::uint64_t activations;     // dispatches (Periodic), handler calls (Interrupt)
    std::uint64_t overruns;        // Periodic: deadlines that passed without their own dispatch
    std::uint64_t delay_min_ns;    // Periodic: dispatch delay, deadline to the task running
    std::uint64_t delay_max_ns;
    std::uint64_t delay_sum_ns;
    std::uint64_t delay_last_ns;
    std::uint64_t runtime_max_ns;  // Periodic: the longest body
    std::uint64_t reserved1;
    std::uint64_t buckets[kBuckets];  // Periodic: dispatch delays, see kLinearBuckets
};

struct alignas(64) ExecHeader {
    std::uint64_t magic;           // atomic; kExecMagic, stored last (release) when the segment is formatted
    std::uint32_t layout_version;  // kExecLayoutVersion
    std::uint32_t header_size;     // sizeof(ExecHeader)
    std::uint32_t record_size;     // sizeof(TaskRecord)
    std::uint32_t max_tasks;       // records that follow, 1..kMaxTasks
    std::uint32_t bucket_count;    // kBuckets
    std::uint32_t linear_buckets;  // kLinearBuckets
    std::uint32_t task_count;      // atomic; records in use, 0..max_tasks (release after each record)
    std::uint16_t guest_id;
    std::uint16_t reserved0;
    std::uint32_t pid;             // the executive's process, in the rt guest's PID namespace
    std::uint32_t reserved1;
    std::uint64_t started_ns;      // CLOCK_MONOTONIC of Executive::create
    std::uint64_t records_offset;  // from the header's start: sizeof(ExecHeader)
};

static_assert(std::is_standard_layout_v<TaskRecord> && std::is_trivially_copyable_v<TaskRecord>);
static_assert(std::is_standard_layout_v<ExecHeader> && std::is_trivially_copyable_v<ExecHeader>);
static_assert(offsetof(TaskRecord, kind) == 32 && offsetof(TaskRecord, priority) == 36);
static_assert(offsetof(TaskRecord, period_ns) == 40 && offsetof(TaskRecord, line) == 48);
static_assert(offsetof(TaskRecord, state) == 52 && offsetof(TaskRecord, activations) == 64);
static_assert(offsetof(TaskRecord, overruns) == 72 && offsetof(TaskRecord, delay_min_ns) == 80);
static_assert(offsetof(TaskRecord, delay_last_ns) == 104 && offsetof(TaskRecord, runtime_max_ns) == 112);
static_assert(offsetof(TaskRecord, buckets) == 128);
static_assert(sizeof(TaskRecord) == 128 + 8 * kBuckets && sizeof(TaskRecord) % 64 == 0);
static_assert(offsetof(ExecHeader, layout_version) == 8 && offsetof(ExecHeader, record_size) == 16);
static_assert(offsetof(ExecHeader, max_tasks) == 20 && offsetof(ExecHeader, bucket_count) == 24);
static_assert(offsetof(ExecHeader, task_count) == 32 && offsetof(ExecHeader, guest_id) == 36);
static_assert(offsetof(ExecHeader, pid) == 40 && offsetof(ExecHeader, started_ns) == 48);
static_assert(offsetof(ExecHeader, records_offset) == 56 && sizeof(ExecHeader) == 64);
static_assert(std::atomic_ref<std::uint64_t>::is_always_lock_free && std::atomic_ref<std::uint32_t>::is_always_lock_free);

// Bytes of a status segment with room for `max_tasks` records.
[[nodiscard]] constexpr std::uint64_t exec_segment_size(std::uint32_t max_tasks) {
    return sizeof(ExecHeader) + std::uint64_t{max_tasks} * sizeof(TaskRecord);
}

}  // namespace nk::rt::layout
