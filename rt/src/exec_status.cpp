// Reads a status segment the rt guest writes: copy each word once, check it, then use the copy.
#include "nk/rt/exec_status.hpp"

#include <cstring>

#include "nk/nanokernel/layout.hpp"
#include "nk/nanokernel/region_error.hpp"

namespace nk::rt {
Result<ExecStatus> read_exec_status(std::span<const std::byte> bytes) {
    if (bytes.size() < sizeof(layout::ExecHeader))
        return fail(RegionError::SizeMismatch, "rt status segment: " + std::to_string(bytes.size()) +
                                                   " bytes, less than its header");
    const auto& header = *reinterpret_cast<const layout::ExecHeader*>(bytes.data());
    // acquire: the header's fields were written before the magic; pairs with the release in format().
    if (std::atomic_ref<std::uint64_t>(const_cast<std::uint64_t&>(header.magic)).load(std::memory_order_acquire) !=
        layout::kExecMagic)
        return fail(RegionError::BadMagic, "rt status segment: no executive has formatted it (bad magic)");
    const std::uint32_t version = nk::layout::snapshot(header.layout_version);
    if (version != layout::kExecLayoutVersion)
        return fail(RegionError::VersionMismatch, "rt status segment: layout version " + std::to_string(version) +
                                                      ", this build reads " + std::to_string(layout::kExecLayoutVersion));
    const std::uint32_t header_size = nk::layout::snapshot(header.header_size), record_size = nk::layout::snapshot(header.record_size);
    const std::uint32_t max_tasks = nk::layout::snapshot(header.max_tasks), buckets = nk::layout::snapshot(header.bucket_count);
    const std::uint32_t linear = nk::layout::snapshot(header.linear_buckets);
    const std::uint64_t records_offset = nk::layout::snapshot(header.records_offset);
    if (header_size != sizeof(layout::ExecHeader) || record_size != sizeof(layout::TaskRecord) ||
        buckets != layout::kBuckets || linear != layout::kLinearBuckets || records_offset != sizeof(layout::ExecHeader))
        return fail(RegionError::SizeMismatch, "rt status segment: header, record or histogram sizes differ from this build's");
    if (max_tasks == 0 || max_tasks > layout::kMaxTasks || layout::exec_segment_size(max_tasks) > bytes.size())
        return fail(RegionError::Corrupt, "rt status segment: room for " + std::to_string(max_tasks) +
                                              " tasks does not fit its " + std::to_string(bytes.size()) + " bytes");
    // acquire: each record's identity was written before the count that includes it.
    const std::uint32_t count =
        std::atomic_ref<std::uint32_t>(const_cast<std::uint32_t&>(header.task_count)).load(std::memory_order_acquire);
    if (count > max_tasks)
        return fail(RegionError::Corrupt, "rt status segment: " + std::to_string(count) + " tasks, room for " +
                                              std::to_string(max_tasks));
    ExecStatus status;
    status.guest_id = nk::layout::snapshot(header.guest_id);
    status.pid = nk::layout::snapshot(header.pid);
    status.started_ns = nk::layout::snapshot(header.started_ns);
    status.max_tasks = max_tasks;
    const auto* records = reinterpret_cast<const layout::TaskRecord*>(bytes.data() + records_offset);
    for (std::uint32_t i = 0; i < count; ++i) {
        const layout::TaskRecord& r = records[i];
        char name[layout::kTaskNameCapacity];
        std::memcpy(name, r.name, sizeof name);
        if (std::memchr(name, '\0', sizeof name) == nullptr)
            return fail(RegionError::Corrupt, "rt status segment: task " + std::to_string(i) + "'s name is not terminated");
        const std::uint32_t kind = nk::layout::snapshot(r.kind), state = nk::layout::snapshot(r.state);
        if (kind < 1 || kind > 3)
            return fail(RegionError::Corrupt, "rt status segment: task '" + std::string(name) + "' has unknown kind " +
                                                  std::to_string(kind));
        if (state > 3)
            return fail(RegionError::Corrupt, "rt status segment: task '" + std::string(name) + "' has unknown state " +
                                                  std::to_string(state));
        TaskStatus t;
        t.name = name;
        t.kind = static_cast<layout::TaskKind>(kind);
        t.state = static_cast<layout::TaskState>(state);
        t.priority = nk::layout::snapshot(r.priority);
        t.period_ns = nk::layout::snapshot(r.period_ns);
        t.line = nk::layout::snapshot(r.line);
        t.activations = nk::layout::snapshot(r.activations);
        t.overruns = nk::layout::snapshot(r.overruns);
        t.delay_min_ns = nk::layout::snapshot(r.delay_min_ns);
        t.delay_max_ns = nk::layout::snapshot(r.delay_max_ns);
        t.delay_sum_ns = nk::layout::snapshot(r.delay_sum_ns);
        t.delay_last_ns = nk::layout::snapshot(r.delay_last_ns);
        t.runtime_max_ns = nk::layout::snapshot(r.runtime_max_ns);
        for (std::uint32_t b = 0; b < layout::kBuckets; ++b) t.buckets[b] = nk::layout::snapshot(r.buckets[b]);
        status.tasks.push_back(std::move(t));
    }
    return status;
}

std::string_view to_string(layout::TaskKind kind) {
    switch (kind) {
        case layout::TaskKind::Task: return "task";
        case layout::TaskKind::Periodic: return "periodic";
        case layout::TaskKind::Interrupt: return "interrupt";
    }
    return "?";
}

std::string_view to_string(layout::TaskState state) {
    switch (state) {
        case layout::TaskState::Created: return "created";
        case layout::TaskState::Running: return "running";
        case layout::TaskState::Stopped: return "stopped";
        case layout::TaskState::Failed: return "failed";
    }
    return "?";
}

}  // namespace nk::rt
