// The default platform's rt guest program: a 1 kHz periodic loop that publishes its state.
//
// nkd starts it as the rt guest's one process (pinned, SCHED_FIFO). Every millisecond it wakes
// on an absolute deadline, measures how late it woke, and writes a line of text into the
// segment "rt.status" in its link to the linux guest, which the linux guest may read (the
// default platform's access rules let it read "rt.*" objects only):
//
//   nkctl exec linux -- nk_example_shared_segment read rt.status
//   rt guest: 12000 ticks at 1000 Hz, SCHED_FIFO 80, wake-up lateness max 57 us, last 4 us
//
// It stops cleanly on SIGTERM. (The rt executive of a later issue replaces this loop.)
#include <sched.h>
#include <signal.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>

#include "nk/ipc/segment.hpp"
#include "nk/nanokernel/guest.hpp"

namespace {

std::atomic<bool> stop_requested{false};

void request_stop(int) { stop_requested.store(true, std::memory_order_relaxed); }

std::int64_t ns_of(const timespec& t) { return std::int64_t{t.tv_sec} * 1'000'000'000 + t.tv_nsec; }

}  // namespace

int main(int argc, char** argv) {
    // First of all: as PID 1 of its guest, a signal without a handler would be ignored, and nkd
    // may stop the guest at any moment.
    struct sigaction action {};
    action.sa_handler = request_stop;
    sigaction(SIGTERM, &action, nullptr);
    sigaction(SIGINT, &action, nullptr);
    const char* peer = argc > 1 ? argv[1] : "linux";
    auto region = nk::guest::attach();
    if (!region) {
        std::fprintf(stderr, "rt ticker: cannot attach: %s\n", region.error().message.c_str());
        return 1;
    }
    // A restarted rt guest finds its segment again (it survives in the link area).
    auto segment = nk::ipc::Segment::create(*region, "rt.status", 4096, peer);
    if (!segment) segment = nk::ipc::Segment::open(*region, "rt.status");
    if (!segment) {
        std::fprintf(stderr, "rt ticker: segment rt.status: %s\n", segment.error().message.c_str());
        return 1;
    }
    sched_param param{};
    const int policy = sched_getscheduler(0);
    sched_getparam(0, &param);
    std::printf("rt ticker: up, publishing rt.status every 1 ms (%s %d)\n",
                policy == SCHED_FIFO ? "SCHED_FIFO" : "SCHED_OTHER", param.sched_priority);
    std::fflush(stdout);

    constexpr std::int64_t kPeriodNs = 1'000'000;
    timespec next{};
    clock_gettime(CLOCK_MONOTONIC, &next);
    std::uint64_t ticks = 0;
    std::int64_t worst_ns = 0;
    char line[256];
    auto bytes = segment->bytes();
    while (!stop_requested.load(std::memory_order_relaxed)) {
        next.tv_nsec += kPeriodNs;
        if (next.tv_nsec >= 1'000'000'000) {
            next.tv_nsec -= 1'000'000'000;
            ++next.tv_sec;
        }
        if (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, nullptr) != 0) continue;  // a signal
        timespec now{};
        clock_gettime(CLOCK_MONOTONIC, &now);
        const std::int64_t late = ns_of(now) - ns_of(next);
        worst_ns = std::max(worst_ns, late);
        ++ticks;
        const int n = std::snprintf(line, sizeof line,
                                    "rt guest: %llu ticks at 1000 Hz, %s %d, wake-up lateness max %lld us, last %lld us",
                                    static_cast<unsigned long long>(ticks),
                                    policy == SCHED_FIFO ? "SCHED_FIFO" : "SCHED_OTHER", param.sched_priority,
                                    static_cast<long long>(worst_ns / 1000), static_cast<long long>(late / 1000));
        // A reader may see a line mid-update; it is a status display, not a protocol.
        std::memcpy(bytes.data(), line, static_cast<std::size_t>(n) + 1);
    }
    std::printf("rt ticker: stopped after %llu ticks\n", static_cast<unsigned long long>(ticks));
    return 0;
}
