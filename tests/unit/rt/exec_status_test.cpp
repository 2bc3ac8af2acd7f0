// The status segment's reader against hostile bytes, and the histogram's buckets and percentiles.
#include <cstring>
#include <vector>

#include <gtest/gtest.h>

#include "nk/nanokernel/region_error.hpp"
#include "nk/rt/exec_status.hpp"
#include "nk/rt/latency_histogram.hpp"
#include "../../../rt/src/task_record.hpp"

namespace nk::rt {
namespace {

struct Segment {
    std::vector<std::byte> bytes;
    explicit Segment(std::uint32_t max_tasks) : bytes(layout::exec_segment_size(max_tasks)) {
        detail::format_status(bytes, max_tasks, 2);
    }
    layout::ExecHeader& header() { return *reinterpret_cast<layout::ExecHeader*>(bytes.data()); }
    layout::TaskRecord& record(std::uint32_t i) {
        return reinterpret_cast<layout::TaskRecord*>(bytes.data() + sizeof(layout::ExecHeader))[i];
    }
    detail::TaskRecorder add(std::string_view name) {
        const std::uint32_t i = header().task_count;
        detail::TaskRecorder r(&record(i));
        r.identify(name, layout::TaskKind::Periodic, 80, 1'000'000, 0);
        header().task_count = i + 1;
        return r;
    }
};

std::error_code code(RegionError e) { return make_error_code(e); }

TEST(ExecStatus, ReadsWhatTheRecorderWrote) {
    Segment s(4);
    auto tick = s.add("tick");
    tick.activation(3'500, 0);
    tick.activation(12'000, 2);
    tick.activation(700'000, 0);
    auto status = read_exec_status(s.bytes);
    ASSERT_TRUE(status) << status.error().message;
    EXPECT_EQ(status->guest_id, 2);
    EXPECT_EQ(status->max_tasks, 4U);
    ASSERT_EQ(status->tasks.size(), 1U);
    const auto& t = status->tasks[0];
    EXPECT_EQ(t.name, "tick");
    EXPECT_EQ(t.activations, 3U);
    EXPECT_EQ(t.overruns, 2U);
    EXPECT_EQ(t.delay_min_ns, 3'500U);
    EXPECT_EQ(t.delay_max_ns, 700'000U);
    EXPECT_EQ(t.buckets[3], 1U);
    EXPECT_EQ(t.buckets[12], 1U);
    EXPECT_EQ(t.buckets[bucket_of(700'000)], 1U);
    EXPECT_EQ(total(t.buckets), 3U);
}

TEST(ExecStatus, RefusesHeadersThatDoNotFit) {
    Segment s(4);
    s.add("tick");
    EXPECT_EQ(read_exec_status(std::span(s.bytes).first(32)).error().code, code(RegionError::SizeMismatch));
    EXPECT_EQ(read_exec_status(std::span(s.bytes).first(s.bytes.size() - 1)).error().code, code(RegionError::Corrupt))
        << "room for 4 tasks that the bytes do not hold";
    {
        Segment bad(4);
        bad.header().magic = 0;
        EXPECT_EQ(read_exec_status(bad.bytes).error().code, code(RegionError::BadMagic));
    }
    {
        Segment bad(4);
        bad.header().layout_version = 99;
        EXPECT_EQ(read_exec_status(bad.bytes).error().code, code(RegionError::VersionMismatch));
    }
    {
        Segment bad(4);
        bad.header().bucket_count = 1;
        EXPECT_EQ(read_exec_status(bad.bytes).error().code, code(RegionError::SizeMismatch));
    }
    {
        Segment bad(4);
        bad.header().max_tasks = layout::kMaxTasks + 1;
        EXPECT_EQ(read_exec_status(bad.bytes).error().code, code(RegionError::Corrupt));
    }
    {
        Segment bad(4);
        bad.header().task_count = 5;
        EXPECT_EQ(read_exec_status(bad.bytes).error().code, code(RegionError::Corrupt)) << "more tasks than room";
    }
}

TEST(ExecStatus, RefusesRecordsWithBadNamesKindsOrStates) {
    {
        Segment bad(2);
        bad.add("tick");
        std::memset(bad.record(0).name, 'x', sizeof bad.record(0).name);
        EXPECT_EQ(read_exec_status(bad.bytes).error().code, code(RegionError::Corrupt));
    }
    {
        Segment bad(2);
        bad.add("tick");
        bad.record(0).kind = 7;
        EXPECT_EQ(read_exec_status(bad.bytes).error().code, code(RegionError::Corrupt));
    }
    {
        Segment bad(2);
        bad.add("tick");
        bad.record(0).state = 9;
        EXPECT_EQ(read_exec_status(bad.bytes).error().code, code(RegionError::Corrupt));
    }
}

TEST(LatencyHistogram, PercentilesAreTheLowerEdgeOfTheRanksBucket) {
    std::vector<std::uint64_t> counts(layout::kBuckets, 0);
    EXPECT_EQ(percentile_us(counts, 0.99), 0.0);
    counts[5] = 990;   // 5 µs
    counts[40] = 9;    // 40 µs
    counts[bucket_of(2'000'000)] = 1;  // 2 ms: bucket [1920, 2048) µs
    EXPECT_EQ(percentile_us(counts, 0.50), 5.0);
    EXPECT_EQ(percentile_us(counts, 0.99), 5.0);
    EXPECT_EQ(percentile_us(counts, 0.995), 40.0);
    EXPECT_EQ(percentile_us(counts, 0.999), 40.0);
    EXPECT_EQ(percentile_us(counts, 1.0), 1920.0);
}

}  // namespace
}  // namespace nk::rt
