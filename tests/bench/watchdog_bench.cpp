// Watchdog benchmark: how fast a failed guest is found and how soon its services answer again.
//
// For each heartbeat period (10, 50, 100 ms; 3 misses) and each failure (hang: SIGSTOP of the rt
// guest; kill: SIGKILL of it), every round starts the platform afresh (so each failure is a first
// failure, with the first back-off of 100 ms), breaks the rt guest, and reads the guest table
// through an observer's mapping every 100 µs: the time to "not running" is the detection latency,
// and the time from detection to the rt guest's status segment ticking again is the recovery.
// Detection is compared with the bound the watchdog issue sets, period x (misses + 1).
//
//   nk_bench_watchdog --bin build/bench/bin --json bench-results/watchdog.json [--rounds 10]
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "bench_util.hpp"
#include "nk/ipc/segment.hpp"
#include "nk/nanokernel/region_client.hpp"

namespace {

using namespace std::chrono_literals;
using nk::bench::now_ns;

constexpr int kMisses = 3;

std::string platform_toml(const std::string& name, int period_ms) {
    return "[platform]\nname = \"" + name + "\"\nlock_memory = false\n"
           "[areas]\nlink_size = \"64 KiB\"\ncommon_size = \"64 KiB\"\npnv_size = \"64 KiB\"\n"
           "[[guests]]\nid = 1\nname = \"linux\"\nkind = \"linux\"\nmemory = \"64 KiB\"\ncpus = [0]\n"
           "services = [[\"sleep\", \"infinity\"]]\n"
           "watchdog = { period_ms = " + std::to_string(period_ms) + ", misses = " + std::to_string(kMisses) +
           ", watch = [\"rt\"], priority = 50 }\n"
           "[[guests]]\nid = 2\nname = \"rt\"\nkind = \"rt\"\nmemory = \"64 KiB\"\ncpus = [0]\npriority = 10\n"
           "run = [\"nk_example_rt_ticker\", \"linux\", \"" + std::to_string(period_ms) + "\"]\n"
           "[[links]]\nguests = [\"linux\", \"rt\"]\n"
           "[[access]]\nobjects = \"*\"\nguests = [\"*\"]\nrights = \"rw\"\n";
}

struct Platform {
    std::string dir, name;
    pid_t nkd = -1;
    std::optional<nk::Region> observer;

    ~Platform() {
        if (nkd > 0) {
            ::kill(nkd, SIGTERM);
            ::waitpid(nkd, nullptr, 0);
        }
        observer.reset();
        std::filesystem::remove_all(dir);
    }

    std::optional<nk::GuestInfo> rt() const { return observer->guest("rt"); }

    std::uint64_t ticks() const {
        auto status = nk::ipc::Segment::open(*observer, "rt.status", nk::Rights::Read);
        if (!status) return 0;
        unsigned long long n = 0;
        return std::sscanf(reinterpret_cast<const char*>(status->bytes().data()), "rt guest: %llu ticks", &n) == 1 ? n : 0;
    }
};

template <class Pred>
bool wait_for(Pred pred, std::chrono::milliseconds limit, std::chrono::microseconds step = 100us) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
        if (pred()) return true;
        std::this_thread::sleep_for(step);
    }
    return pred();
}

bool start(Platform& p, const std::string& bin, int period_ms, int round) {
    char pattern[] = "/tmp/nk-wdbench-XXXXXX";
    p.dir = ::mkdtemp(pattern);
    p.name = "wdb" + std::to_string(::getpid()) + "x" + std::to_string(period_ms) + "x" + std::to_string(round);
    const std::string config = p.dir + "/" + p.name + ".toml";
    std::ofstream(config) << platform_toml(p.name, period_ms);
    ::setenv("NK_RUN_DIR", p.dir.c_str(), 1);
    p.nkd = ::fork();
    if (p.nkd == 0) {
        const int null = ::open("/dev/null", O_WRONLY);
        ::dup2(null, 2);
        const std::string nkd = bin + "/nkd";
        ::execl(nkd.c_str(), nkd.c_str(), "--config", config.c_str(), static_cast<char*>(nullptr));
        ::_exit(127);
    }
    if (!wait_for([&] {
            auto r = nk::attach_by_name(p.name, nk::Identity::observer());
            if (r) p.observer.emplace(std::move(*r));
            return r.has_value();
        }, 5s, 10ms))
        return false;
    // Both guests running, the ticker ticking, and the watchdog beating: a heartbeat is armed.
    return wait_for([&] {
        auto rt = p.rt();
        auto linux = p.observer->guest("linux");
        return rt && linux && rt->state == nk::layout::GuestState::Running &&
               linux->state == nk::layout::GuestState::Running && p.ticks() > 200;
    }, 5s, 10ms);
}

struct Sample {
    double detect_ms = 0, answer_ms = 0;
};

std::optional<Sample> one_round(const std::string& bin, int period_ms, int round, int signal) {
    Platform p;
    if (!start(p, bin, period_ms, round)) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(period_ms * 2));  // a few beats seen by the watchdog
    const auto before = p.rt();
    const std::uint64_t broken = now_ns();
    ::kill(static_cast<pid_t>(before->init_pid), signal);
    if (!wait_for([&] { return p.rt()->state != nk::layout::GuestState::Running; }, 10s)) return std::nullopt;
    const std::uint64_t detected = now_ns();
    if (!wait_for([&] {
            auto rt = p.rt();
            return rt->incarnation > before->incarnation && rt->state == nk::layout::GuestState::Running && p.ticks() > 0;
        }, 10s))
        return std::nullopt;
    const std::uint64_t answering = now_ns();
    return Sample{static_cast<double>(detected - broken) / 1e6, static_cast<double>(answering - detected) / 1e6};
}

}  // namespace

int main(int argc, char** argv) {
    std::string bin = "build/bench/bin", json;
    int rounds = 10;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string flag = argv[i];
        if (flag == "--bin") bin = argv[i + 1];
        else if (flag == "--json") json = argv[i + 1];
        else if (flag == "--rounds") rounds = std::max(1, std::atoi(argv[i + 1]));
    }
    if (::geteuid() != 0) {
        std::fprintf(stderr, "nk_bench_watchdog: needs root (namespaces, cgroups)\n");
        return 77;
    }
    std::vector<nk::bench::Record> records;
    for (int period : {10, 50, 100}) {
        for (const auto& [kind, signal] : {std::pair{"hang", SIGSTOP}, std::pair{"kill", SIGKILL}}) {
            std::vector<double> detect, answer;
            for (int r = 0; r < rounds; ++r) {
                auto s = one_round(bin, period, r, signal);
                if (!s) {
                    std::fprintf(stderr, "nk_bench_watchdog: period %d ms, %s, round %d: the platform did not come up or "
                                         "recover within 10 s\n", period, kind, r);
                    continue;
                }
                detect.push_back(s->detect_ms);
                answer.push_back(s->answer_ms);
            }
            if (detect.empty()) continue;
            const double bound = period * (kMisses + 1);
            const auto d = nk::bench::percentiles(detect);
            const auto a = nk::bench::percentiles(answer);
            const std::string tag = std::string(kind) + "_" + std::to_string(period) + "ms";
            const std::string peer = "bound period*(misses+1)";
            for (const auto& [name, value] : {std::pair{"p50", d.p50}, std::pair{"p99", d.p99}, std::pair{"max", d.max}})
                records.push_back(nk::bench::make_record("detection_" + tag + "_" + name, "ms", value, peer, bound,
                                                         value / bound, "<= 1.0"));
            // From detection to the rt guest answering again: the first back-off (100 ms) plus the start.
            const double backoff = 100.0;
            records.push_back(nk::bench::make_record("answering_again_" + tag + "_p50", "ms", a.p50,
                                                     "first restart back-off", backoff, a.p50 / backoff, "<= 2.0"));
            records.push_back(nk::bench::make_record("answering_again_" + tag + "_max", "ms", a.max,
                                                     "first restart back-off", backoff, a.max / backoff, "<= 3.0"));
            std::fprintf(stderr, "period %3d ms, %s: %zu rounds, detection p50 %.1f p99 %.1f max %.1f ms; answering again "
                                 "p50 %.1f max %.1f ms\n", period, kind, detect.size(), d.p50, d.p99, d.max, a.p50, a.max);
        }
    }
    try {
        nk::bench::publish(records, json);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "nk_bench_watchdog: %s\n", e.what());
        return 1;
    }
    return 0;
}
