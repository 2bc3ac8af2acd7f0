// The executive's side of the status segment (exec_layout.hpp): formatting it, and one task's
// record as its thread updates it. Each counter has one writer (the task's thread), so updates
// are relaxed loads and stores, not read-modify-writes; readers see each word whole.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>
#include <unistd.h>

#include "nk/nanokernel/clock.hpp"
#include "nk/nanokernel/layout.hpp"
#include "nk/rt/exec_layout.hpp"
#include "nk/rt/latency_histogram.hpp"

namespace nk::rt::detail {

// Zeroes the segment and writes a fresh header; the magic last. Before any task runs.
inline void format_status(std::span<std::byte> bytes, std::uint32_t max_tasks, std::uint16_t guest_id) {
    auto& h = *reinterpret_cast<layout::ExecHeader*>(bytes.data());
    // Best effort for a reader that looks while a restarted guest reformats: it sees "not
    // formatted" from here on, or a mix of old and new words (a display; every word is checked
    // when read). relaxed: nothing is published by this store.
    nk::layout::atomic(h.magic).store(0, std::memory_order_relaxed);
    std::memset(bytes.data() + sizeof(std::uint64_t), 0, layout::exec_segment_size(max_tasks) - sizeof(std::uint64_t));
    h.layout_version = layout::kExecLayoutVersion;
    h.header_size = sizeof(layout::ExecHeader);
    h.record_size = sizeof(layout::TaskRecord);
    h.max_tasks = max_tasks;
    h.bucket_count = layout::kBuckets;
    h.linear_buckets = layout::kLinearBuckets;
    h.guest_id = guest_id;
    h.pid = static_cast<std::uint32_t>(::getpid());
    h.started_ns = clock::monotonic_ns();
    h.records_offset = sizeof(layout::ExecHeader);
    // release: the header before the magic; pairs with read_exec_status's acquire.
    nk::layout::atomic(h.magic).store(layout::kExecMagic, std::memory_order_release);
}

class TaskRecorder {
public:
    TaskRecorder() = default;
    explicit TaskRecorder(layout::TaskRecord* record) : r_(record) {}

    // The setup thread, before the record is published.
    void identify(std::string_view name, layout::TaskKind kind, int priority, std::uint64_t period_ns,
                  std::uint32_t line) const {
        std::memset(r_->name, 0, sizeof r_->name);
        std::memcpy(r_->name, name.data(), std::min(name.size(), sizeof r_->name - 1));
        r_->kind = static_cast<std::uint32_t>(kind);
        r_->priority = priority;
        r_->period_ns = period_ns;
        r_->line = line;
        r_->delay_min_ns = UINT64_MAX;
    }

    void set_state(layout::TaskState state) const {
        // relaxed: a display word, one writer at a time (the setup thread, then the task's).
        nk::layout::atomic(r_->state).store(static_cast<std::uint32_t>(state), std::memory_order_relaxed);
    }

    // A periodic task's activation: its delay, and the deadlines it missed since the last.
    void activation(std::uint64_t delay_ns, std::uint64_t missed) const {
        bump(r_->activations, 1);
        if (missed != 0) bump(r_->overruns, missed);
        if (delay_ns < get(r_->delay_min_ns)) put(r_->delay_min_ns, delay_ns);
        if (delay_ns > get(r_->delay_max_ns)) put(r_->delay_max_ns, delay_ns);
        bump(r_->delay_sum_ns, delay_ns);
        put(r_->delay_last_ns, delay_ns);
        bump(r_->buckets[bucket_of(delay_ns)], 1);
    }

    void runtime(std::uint64_t ns) const {
        if (ns > get(r_->runtime_max_ns)) put(r_->runtime_max_ns, ns);
    }

    void handled() const { bump(r_->activations, 1); }

private:
    // relaxed: single writer (this task's thread); readers want each word whole, nothing more.
    static std::uint64_t get(std::uint64_t& w) { return nk::layout::atomic(w).load(std::memory_order_relaxed); }
    static void put(std::uint64_t& w, std::uint64_t v) { nk::layout::atomic(w).store(v, std::memory_order_relaxed); }
    static void bump(std::uint64_t& w, std::uint64_t by) { put(w, get(w) + by); }

    layout::TaskRecord* r_ = nullptr;
};

}  // namespace nk::rt::detail
