// nk_bench_ipc: nk's IPC against its peers, measured in the same run, round by round.
//
//   nk_bench_ipc [--rounds N] [--json FILE]
//
// Every round runs nk and each peer once, alternately, in fresh process pairs pinned to two CPUs;
// each metric's ratio is the median over rounds of (nk / peer) in that round, because the host
// moves virtual CPUs between near and far cores from run to run (docs/BENCHMARKS.md).
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench_util.hpp"
#include "message_ring_peers.hpp"
#include "nk_transports.hpp"
#include "pingpong_peers.hpp"
#if NK_BENCH_ICEORYX
#include "iceoryx_peer.hpp"
#endif
#include "queue_peers.hpp"
#include "throughput_peers.hpp"

namespace nk::bench {
namespace {

constexpr int kWarmup = 2000;
constexpr int kTrips = 20000;
constexpr std::uint64_t kItems = 2'000'000;

void reap(pid_t pid) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) throw std::runtime_error("bench child failed");
}

// Round-trip times in nanoseconds.
std::vector<double> pingpong(PingPong& transport) {
    const pid_t server = fork_pinned(1, [&] {
        for (std::uint64_t i = 1; i <= kWarmup + kTrips; ++i) {
            transport.wait(Side::Server, i);
            transport.send(Side::Server, i);
        }
    });
    pin_to_cpu(0);
    std::vector<double> rtt;
    rtt.reserve(kTrips);
    for (std::uint64_t i = 1; i <= kWarmup + kTrips; ++i) {
        const auto start = now_ns();
        transport.send(Side::Client, i);
        transport.wait(Side::Client, i);
        if (i > kWarmup) rtt.push_back(static_cast<double>(now_ns() - start));
    }
    reap(server);
    return rtt;
}

// Millions of items per second, producer process -> this process.
double throughput(ItemQueue& queue, std::size_t item_size) {
    auto* go = shared_new<std::atomic<int>>();
    const pid_t producer = fork_pinned(1, [&] {
        std::byte item[64] = {};
        go->store(1, std::memory_order_release);
        for (std::uint64_t i = 0; i < kItems; ++i) {
            std::memcpy(item, &i, sizeof i);
            while (!queue.try_push(item)) {
            }
        }
    });
    pin_to_cpu(0);
    while (go->load(std::memory_order_acquire) == 0) {
    }
    std::byte item[64] = {};
    const auto start = now_ns();
    for (std::uint64_t i = 0; i < kItems; ++i) {
        while (!queue.try_pop(item)) {
        }
        std::uint64_t seq = 0;
        std::memcpy(&seq, item, sizeof seq);
        if (seq != i) throw std::runtime_error(queue.name() + ": item out of order");
    }
    const auto elapsed = static_cast<double>(now_ns() - start);
    reap(producer);
    shared_delete(go);
    (void)item_size;
    return static_cast<double>(kItems) / elapsed * 1e3;  // items per ns * 1e3 = M items/s
}

struct Series {
    std::vector<double> values;        // one per round
    std::vector<double> nk_over_peer;  // per round, for the peers
};

}  // namespace
}  // namespace nk::bench

int main(int argc, char** argv) {
    using namespace nk::bench;
    int rounds = 7;
    std::string json_path;
    bool iceoryx = false;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--rounds" && i + 1 < argc) rounds = std::stoi(argv[++i]);
        else if (arg == "--json" && i + 1 < argc) json_path = argv[++i];
        else if (arg == "--iceoryx") iceoryx = true;
#if NK_BENCH_ICEORYX
        else if (arg == "--iceoryx-follower" && i + 2 < argc)
            return iceoryx_follower(std::stoi(argv[i + 1]), std::stoull(argv[i + 2]));
#endif
        else {
            std::fprintf(stderr, "usage: nk_bench_ipc [--rounds N] [--json FILE] [--iceoryx]\n");
            return 2;
        }
    }
#if !NK_BENCH_ICEORYX
    if (iceoryx) {
        std::fprintf(stderr, "nk_bench_ipc: built without iceoryx (install libiceoryx-posh-dev and rebuild)\n");
        return 2;
    }
#endif
    try {
        pin_to_cpu(0);  // reads the CPUs this process may use before anything is pinned
        std::map<std::string, std::vector<double>> p50, p99, max;  // per transport, per round
        std::map<std::size_t, std::vector<double>> nk_rate, boost_rate;
        MessageRingBench msgring;
        QueueBench queues;
        for (int round = 0; round < rounds; ++round) {
            // Fresh transports every round: a ring's handles belong to the process that used them,
            // and each round forks a new peer process.
            std::vector<std::unique_ptr<PingPong>> transports;
            transports.push_back(make_nk_spsc_pingpong());
            transports.push_back(make_raw_cache_line());
            transports.push_back(make_boost_spsc());
            transports.push_back(make_futex());
            transports.push_back(make_eventfd());
            transports.push_back(make_pipe());
            transports.push_back(make_unix_socket());
            transports.push_back(make_nk_event_pingpong(std::chrono::nanoseconds(0)));
            transports.push_back(make_nk_event_pingpong(std::chrono::microseconds(20)));
            transports.push_back(make_pthread_cond());
            for (auto& t : transports) {
                const auto stats = percentiles(pingpong(*t));
                p50[t->name()].push_back(stats.p50);
                p99[t->name()].push_back(stats.p99);
                max[t->name()].push_back(stats.max);
            }
#if NK_BENCH_ICEORYX
            if (iceoryx) {
                const auto stats = percentiles(iceoryx_pingpong("/proc/self/exe", round, kWarmup, kTrips));
                p50["iceoryx"].push_back(stats.p50);
                p99["iceoryx"].push_back(stats.p99);
                max["iceoryx"].push_back(stats.max);
            }
#endif
            for (std::size_t size : {std::size_t{8}, std::size_t{64}}) {
                auto mine = make_nk_spsc_queue(size);
                auto theirs = make_boost_spsc_queue(size);
                nk_rate[size].push_back(throughput(*mine, size));
                boost_rate[size].push_back(throughput(*theirs, size));
            }
            msgring.run_round();
            queues.run_round();
            std::fprintf(stderr, "round %d/%d done\n", round + 1, rounds);
        }

        std::vector<Record> records;
        const std::string nk = "nk-spsc";
        auto ratio_of = [&](const std::vector<double>& a, const std::vector<double>& b) {
            std::vector<double> r;
            for (std::size_t i = 0; i < a.size(); ++i) r.push_back(a[i] / b[i]);
            return median(r);
        };
        for (std::size_t size : {std::size_t{8}, std::size_t{64}}) {
            records.push_back(make_record("spsc_throughput_" + std::to_string(size) + "B", "Mitems/s",
                                          median(nk_rate[size]), "boost-spsc", median(boost_rate[size]),
                                          ratio_of(nk_rate[size], boost_rate[size]), ">= 1.0"));
        }
        const std::map<std::string, std::string> goals = {{"raw-cache-line", "<= 1.3"}, {"boost-spsc", "<= 1.0"},
                                                          {"futex", "<= 1.0"},          {"eventfd", "<= 1.0"},
                                                          {"pipe", "<= 1.0"},           {"unix-socket", "<= 1.0"}};
        for (const auto& [peer, goal] : goals) {
            records.push_back(make_record("pingpong_rtt_p50", "ns", median(p50[nk]), peer, median(p50[peer]),
                                          ratio_of(p50[nk], p50[peer]), goal));
        }
        if (iceoryx) {  // issue 4's goal: iceoryx's latency beaten
            records.push_back(make_record("pingpong_rtt_p50", "ns", median(p50[nk]), "iceoryx", median(p50["iceoryx"]),
                                          ratio_of(p50[nk], p50["iceoryx"]), "<= 1.0"));
            records.push_back(make_record("pingpong_rtt_p99", "ns", median(p99[nk]), "iceoryx", median(p99["iceoryx"]),
                                          ratio_of(p99[nk], p99["iceoryx"]), "<= 1.0"));
        }
        records.push_back(make_record("pingpong_rtt_p99", "ns", median(p99[nk]), "raw-cache-line",
                                      median(p99["raw-cache-line"]), ratio_of(p99[nk], p99["raw-cache-line"]), "<= 1.3"));
        records.push_back(make_record("pingpong_rtt_max", "ns", median(max[nk]), "raw-cache-line",
                                      median(max["raw-cache-line"]), ratio_of(max[nk], max["raw-cache-line"]), "<= 2.0"));
        // Event variables: sleeping wake-ups (spin 0) against a raw futex and a pthread condition
        // variable, and the default (spin, then sleep) against the raw futex.
        for (const auto& [peer, goal] : std::vector<std::pair<std::string, std::string>>{{"futex", "<= 1.2"}, {"pthread-cond", "<= 1.0"}})
            records.push_back(make_record("event_wakeup_rtt_p50", "ns", median(p50["nk-event-nospin"]), peer,
                                          median(p50[peer]), ratio_of(p50["nk-event-nospin"], p50[peer]), goal));
        records.push_back(make_record("event_pingpong_rtt_p50", "ns", median(p50["nk-event"]), "futex",
                                      median(p50["futex"]), ratio_of(p50["nk-event"], p50["futex"]), "<= 1.0"));
        msgring.append_records(records);
        queues.append_records(records);
        publish(records, json_path);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "nk_bench_ipc: %s\n", e.what());
        return 1;
    }
    return 0;
}
