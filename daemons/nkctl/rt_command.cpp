// nkctl rt: the rt executive's tasks, read from its status segment ("rt.exec") through a read-only
// mapping. The rt guest writes that segment: nk::rt::read_exec_status copies and checks every
// count, index and name before anything here uses it, and a segment it refuses is reported, not shown.
#include <cstdio>

#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "format.hpp"
#include "nk/ipc/segment.hpp"
#include "nk/nanokernel/clock.hpp"
#include "nk/rt/exec_status.hpp"
#include "nk/rt/latency_histogram.hpp"

namespace nk::ctl {
namespace {

std::string us(std::uint64_t ns) {
    char text[32];
    std::snprintf(text, sizeof text, "%.1f", static_cast<double>(ns) / 1000.0);
    return text;
}

nlohmann::json task_json(const rt::TaskStatus& t) {
    nlohmann::json item{{"name", t.name},
                        {"kind", std::string(rt::to_string(t.kind))},
                        {"state", std::string(rt::to_string(t.state))},
                        {"priority", t.priority},
                        {"period_ns", t.period_ns},
                        {"line", t.line},
                        {"activations", t.activations},
                        {"overruns", t.overruns}};
    if (t.kind != rt::layout::TaskKind::Periodic) return item;
    const bool any = t.activations != 0;
    item["delay_ns"] = {{"min", any ? t.delay_min_ns : 0},
                        {"max", t.delay_max_ns},
                        {"mean", any ? t.delay_sum_ns / t.activations : 0},
                        {"last", t.delay_last_ns}};
    item["runtime_max_ns"] = t.runtime_max_ns;
    item["delay_us"] = {{"p50", rt::percentile_us(t.buckets, 0.50)},
                        {"p99", rt::percentile_us(t.buckets, 0.99)},
                        {"p99.9", rt::percentile_us(t.buckets, 0.999)}};
    // Only the buckets that hold something; high_us null for the last, open-ended one.
    nlohmann::json histogram = nlohmann::json::array();
    for (std::uint32_t b = 0; b < rt::layout::kBuckets; ++b) {
        if (t.buckets[b] == 0) continue;
        const std::uint64_t high = rt::bucket_high_us(b);
        histogram.push_back({{"low_us", rt::bucket_low_us(b)},
                             {"high_us", high == UINT64_MAX ? nlohmann::json(nullptr) : nlohmann::json(high)},
                             {"count", t.buckets[b]}});
    }
    item["histogram"] = histogram;
    return item;
}

}  // namespace

int rt_command(const Target& target, const std::string& segment_name, bool json) {
    auto region = connect(target, Identity::observer());
    if (!region) {
        std::fprintf(stderr, "nkctl rt: %s\n", region.error().message.c_str());
        return 1;
    }
    auto segment = ipc::Segment::open(*region, segment_name, Rights::Read);
    if (!segment) {
        std::fprintf(stderr, "nkctl rt: %s (is an rt executive running?)\n", segment.error().message.c_str());
        return 1;
    }
    auto status = rt::read_exec_status(segment->bytes());
    if (!status) {
        std::fprintf(stderr, "nkctl rt: segment '%s' in %s: %s\n", segment_name.c_str(),
                     segment->info().area_label.c_str(), status.error().message.c_str());
        return 1;
    }
    auto guest = region->guest(status->guest_id);
    const std::string guest_name = guest ? guest->name : std::to_string(status->guest_id);
    const std::uint64_t now = clock::monotonic_ns();
    const std::uint64_t uptime_ms = now > status->started_ns ? (now - status->started_ns) / 1'000'000 : 0;
    if (json) {
        nlohmann::json tasks = nlohmann::json::array();
        for (const auto& t : status->tasks) tasks.push_back(task_json(t));
        nlohmann::json out{{"segment", segment_name},     {"area", segment->info().area_label},
                           {"guest", guest_name},          {"pid", status->pid},
                           {"uptime_ms", uptime_ms},       {"max_tasks", status->max_tasks},
                           {"tasks", tasks}};
        std::printf("%s\n", out.dump(2).c_str());
        return 0;
    }
    std::printf("rt executive of guest '%s' (pid %u in its namespace), up %llu ms, segment %s in %s\n",
                guest_name.c_str(), status->pid, static_cast<unsigned long long>(uptime_ms), segment_name.c_str(),
                segment->info().area_label.c_str());
    Table table({"TASK", "KIND", "STATE", "PRIO", "PERIOD", "ACTIVATIONS", "OVERRUNS", "MIN us", "MEAN us", "P99 us",
                 "P99.9 us", "MAX us"});
    for (const auto& t : status->tasks) {
        const bool periodic = t.kind == rt::layout::TaskKind::Periodic, any = t.activations != 0;
        auto pct = [&](double q) { return periodic && any ? std::to_string(static_cast<long long>(rt::percentile_us(t.buckets, q))) : "-"; };
        table.add({t.name, std::string(rt::to_string(t.kind)), std::string(rt::to_string(t.state)),
                   std::to_string(t.priority), periodic ? us(t.period_ns) + " us" : "-", std::to_string(t.activations),
                   periodic ? std::to_string(t.overruns) : "-", periodic && any ? us(t.delay_min_ns) : "-",
                   periodic && any ? us(t.delay_sum_ns / t.activations) : "-", pct(0.99), pct(0.999),
                   periodic && any ? us(t.delay_max_ns) : "-"});
    }
    std::printf("%s", table.render().c_str());
    if (status->tasks.empty()) std::printf("(no tasks)\n");
    return 0;
}

}  // namespace nk::ctl
