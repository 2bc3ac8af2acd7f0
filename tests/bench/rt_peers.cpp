#include "rt_peers.hpp"

#include <fcntl.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "bench_util.hpp"
#include "nk/rt/latency_histogram.hpp"

namespace nk::bench::rt {

// cyclictest's histogram covers 0..kCyclicBuckets-1 µs; later ones count as overflows, which
// are put at its reported maximum.
constexpr int kCyclicBuckets = 20000;

pid_t start_cyclictest(int cpu, int priority, std::uint64_t loops, const std::string& output) {
    const std::string args[] = {"cyclictest", "-q", "-m", "-t1", "-a", std::to_string(cpu), "-p", std::to_string(priority),
                                "--policy=fifo", "-i", "1000", "-l", std::to_string(loops), "-h",
                                std::to_string(kCyclicBuckets)};
    const pid_t pid = ::fork();
    if (pid == 0) {
        const int out = ::open(output.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        ::dup2(out, 1);
        const int null = ::open("/dev/null", O_WRONLY);
        ::dup2(null, 2);
        std::vector<char*> argv;
        for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        ::execvp("cyclictest", argv.data());
        ::_exit(127);
    }
    return pid;
}

bool read_cyclictest(const std::string& output, Latencies& out) {
    std::ifstream in(output);
    std::string line;
    bool any = false;
    std::uint64_t overflows = 0;
    out = Latencies{};
    while (std::getline(in, line)) {
        if (line.empty()) continue;
        if (line[0] != '#') {
            // "000012 000345": bucket (µs) and count for thread 0.
            unsigned long long us = 0, count = 0;
            if (std::sscanf(line.c_str(), "%llu %llu", &us, &count) == 2) {
                out.buckets[nk::rt::bucket_of(us * 1000)] += count;
                out.count += count;
                any = true;
            }
            continue;
        }
        unsigned long long v = 0;
        if (std::sscanf(line.c_str(), "# Min Latencies: %llu", &v) == 1) out.min_us = v;
        else if (std::sscanf(line.c_str(), "# Max Latencies: %llu", &v) == 1) out.max_us = v;
        else if (std::sscanf(line.c_str(), "# Histogram Overflows: %llu", &v) == 1) overflows = v;
    }
    if (overflows != 0) {
        out.buckets[nk::rt::bucket_of(out.max_us * 1000)] += overflows;
        out.count += overflows;
    }
    return any;
}

pid_t start_other_task(int cpu, std::uint64_t activations, Latencies* shared) {
    return fork_pinned(cpu, [=] {
        sched_param param{};
        ::sched_setscheduler(0, SCHED_OTHER, &param);
        ::setpriority(PRIO_PROCESS, 0, 0);
        Latencies result;
        result.min_us = UINT64_MAX;
        constexpr std::uint64_t kPeriod = 1'000'000;
        std::uint64_t deadline = now_ns() + kPeriod;
        while (result.count < activations) {
            timespec ts{static_cast<time_t>(deadline / 1'000'000'000), static_cast<long>(deadline % 1'000'000'000)};
            while (::clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) != 0) {
            }
            const std::uint64_t now = now_ns();
            // Measured from the deadline it waited for; deadlines that passed since are served by
            // this activation, as the executive serves a late periodic task (overruns).
            const std::uint64_t delay = now > deadline ? now - deadline : 0;
            const std::uint64_t behind = delay / kPeriod;
            deadline += behind * kPeriod;
            result.overruns += behind;
            ++result.buckets[nk::rt::bucket_of(delay)];
            ++result.count;
            result.min_us = std::min(result.min_us, delay / 1000);
            result.max_us = std::max(result.max_us, delay / 1000);
            deadline += kPeriod;
        }
        *shared = result;
    });
}

bool wait_child(pid_t pid) {
    int status = 0;
    if (::waitpid(pid, &status, 0) != pid) return false;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

}  // namespace nk::bench::rt
