// Small tools shared by nk's benchmarks: CPU pinning, shared anonymous memory, clocks, statistics,
// and the bench-results record format (docs/BENCHMARKS.md).
#pragma once

#include <sched.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace nk::bench {

inline std::uint64_t now_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<std::uint64_t>(ts.tv_nsec);
}

// Pins the calling thread to `cpu` modulo the CPUs this process may use; returns the CPU used.
// The set is read once, at the first call: after that this process (and its children, which
// inherit affinity) is pinned, and re-reading would leave only the one CPU.
inline int pin_to_cpu(int cpu) {
    static const cpu_set_t allowed = [] {
        cpu_set_t set;
        CPU_ZERO(&set);
        sched_getaffinity(0, sizeof set, &set);
        return set;
    }();
    const int count = CPU_COUNT(&allowed);
    int seen = 0;
    for (int c = 0; c < CPU_SETSIZE; ++c) {
        if (!CPU_ISSET(c, &allowed)) continue;
        if (seen++ == cpu % count) {
            cpu_set_t one;
            CPU_ZERO(&one);
            CPU_SET(c, &one);
            sched_setaffinity(0, sizeof one, &one);
            return c;
        }
    }
    return -1;
}

// Memory shared with children forked after the call.
template <class T>
T* shared_new() {
    void* p = mmap(nullptr, sizeof(T), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (p == MAP_FAILED) throw std::runtime_error("mmap shared");
    return new (p) T();
}

template <class T>
void shared_delete(T* p) {
    p->~T();
    munmap(p, sizeof(T));
}

struct Percentiles {
    double p50 = 0, p99 = 0, max = 0;
};

inline Percentiles percentiles(std::vector<double> samples) {
    if (samples.empty()) return {};
    std::sort(samples.begin(), samples.end());
    auto at = [&](double q) { return samples[static_cast<std::size_t>(q * static_cast<double>(samples.size() - 1))]; };
    return {at(0.50), at(0.99), samples.back()};
}

inline double median(std::vector<double> values) { return percentiles(std::move(values)).p50; }

// One line of bench-results/AREA.json.
struct Record {
    std::string metric, unit, peer, goal;  // goal: "<= 1.3" or ">= 1.0" on ratio = nk / peer_value, or "reported"
    double nk = 0, peer_value = 0, ratio = 0;
    bool met = false;  // with goal "reported": nothing to meet (null in the json, "-" in the table)
};

inline Record make_record(std::string metric, std::string unit, double nk, std::string peer, double peer_value,
                          double ratio, std::string goal) {
    Record r{std::move(metric), std::move(unit), std::move(peer), std::move(goal), nk, peer_value, ratio, false};
    if (r.goal == "reported") return r;
    const double bound = std::stod(r.goal.substr(3));
    r.met = r.goal.rfind("<=", 0) == 0 ? ratio <= bound : ratio >= bound;
    return r;
}

inline void write_json(const std::vector<Record>& records, std::FILE* out) {
    std::fprintf(out, "[\n");
    for (std::size_t i = 0; i < records.size(); ++i) {
        const auto& r = records[i];
        std::fprintf(out,
                     "  {\"metric\": \"%s\", \"unit\": \"%s\", \"nk\": %.3f, \"peer\": \"%s\", \"peer_value\": %.3f, "
                     "\"ratio\": %.3f, \"goal\": \"%s\", \"met\": %s}%s\n",
                     r.metric.c_str(), r.unit.c_str(), r.nk, r.peer.c_str(), r.peer_value, r.ratio, r.goal.c_str(),
                     r.goal == "reported" ? "null" : r.met ? "true" : "false", i + 1 < records.size() ? "," : "");
    }
    std::fprintf(out, "]\n");
}

inline void print_table(const std::vector<Record>& records) {
    std::printf("%-34s %-8s %12s  %-22s %12s %8s  %-7s %s\n", "METRIC", "UNIT", "NK", "PEER", "PEER VALUE", "RATIO",
                "GOAL", "MET");
    for (const auto& r : records)
        std::printf("%-34s %-8s %12.1f  %-22s %12.1f %8.2f  %-7s %s\n", r.metric.c_str(), r.unit.c_str(), r.nk,
                    r.peer.c_str(), r.peer_value, r.ratio, r.goal.c_str(), r.goal == "reported" ? "-" : r.met ? "yes" : "NO");
}

// What every benchmark ends with: the table on stdout and, when `json_path` is set, the records
// in bench-results format. Throws if the file cannot be written.
inline void publish(const std::vector<Record>& records, const std::string& json_path) {
    print_table(records);
    if (json_path.empty()) return;
    std::FILE* out = std::fopen(json_path.c_str(), "w");
    if (out == nullptr) throw std::runtime_error("cannot write " + json_path);
    write_json(records, out);
    if (std::fclose(out) != 0) throw std::runtime_error("cannot write " + json_path);
}

// Runs `body` in a child process pinned to `cpu`; the child exits 1 if `body` throws.
inline pid_t fork_pinned(int cpu, const std::function<void()>& body) {
    const pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("fork");
    if (pid == 0) {
        pin_to_cpu(cpu);
        try {
            body();
        } catch (const std::exception& e) {
            std::fprintf(stderr, "bench child: %s\n", e.what());
            ::_exit(1);
        }
        ::_exit(0);
    }
    return pid;
}

}  // namespace nk::bench
