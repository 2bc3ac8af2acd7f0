// rt benchmark: the paper's two claims on this machine.
//
// Response: the rt guest's 1 kHz task (the default rt guest program, an rt executive task on a
// virtual timer) for N activations, idle and while the linux guest runs stress-ng (CPU, I/O and
// memory stressors), with cyclictest at SCHED_FIFO and the same periodic task as an ordinary
// SCHED_OTHER process measured beside it, at the same time, on the same CPU. The rt guest's
// delays come from its executive's histogram in segment rt.exec (the phase's difference).
//
// Overhead: stress-ng --cpu 1 --get 1 (CPU- and syscall-bound) for a fixed time in the linux
// guest with the platform running (the rt guest ticking at 1 kHz), against the same workload on
// the bare host (no platform), alternated round by round on the same CPU; and, to tell what any
// 1 kHz real-time task costs here, against the host with cyclictest waking every 1 ms beside it.
//
//   nk_bench_rt --bin build/bench/bin --json bench-results/rt.json [--activations 100000]
//               [--cpu N] [--rounds 10] [--overhead-seconds 3]
//
// Writes the records (bench_util.hpp), the histograms beside the json (rt-histogram.dat) and their
// plot (rt.png, gnuplot, log scale).
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench_util.hpp"
#include "nk/ipc/segment.hpp"
#include "nk/nanokernel/region_client.hpp"
#include "nk/rt/exec_status.hpp"
#include "nk/rt/latency_histogram.hpp"
#include "rt_peers.hpp"

namespace {

using namespace std::chrono_literals;
using nk::bench::rt::Histogram;
using nk::bench::rt::Latencies;

constexpr int kRtPriority = 80;  // the default platform's rt guest; cyclictest runs at the same

std::string platform_toml(const std::string& name, int cpu) {
    const std::string cpus = "[" + std::to_string(cpu) + "]";
    return "[platform]\nname = \"" + name + "\"\nlock_memory = true\n"
           "[areas]\nlink_size = \"1 MiB\"\ncommon_size = \"1 MiB\"\npnv_size = \"64 KiB\"\n"
           "[[guests]]\nid = 1\nname = \"linux\"\nkind = \"linux\"\nmemory = \"1 MiB\"\ncpus = " + cpus + "\n"
           "services = [[\"sleep\", \"infinity\"]]\n"
           "[[guests]]\nid = 2\nname = \"rt\"\nkind = \"rt\"\nmemory = \"1 MiB\"\ncpus = " + cpus + "\n"
           "priority = " + std::to_string(kRtPriority) + "\nrun = [\"nk_example_rt_ticker\", \"linux\"]\n"
           "[[links]]\nguests = [\"linux\", \"rt\"]\n"
           "[[access]]\nobjects = \"*\"\nguests = [\"*\"]\nrights = \"rw\"\n";
}

template <class Pred>
bool wait_for(Pred pred, std::chrono::milliseconds limit) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
        if (pred()) return true;
        std::this_thread::sleep_for(10ms);
    }
    return pred();
}

struct Platform {
    std::string bin, dir, name, config;
    int cpu = 0;
    pid_t nkd = -1;
    std::optional<nk::Region> observer;

    ~Platform() { stop(); }

    bool start(int round) {
        char pattern[] = "/tmp/nk-rtbench-XXXXXX";
        dir = ::mkdtemp(pattern);
        name = "rtb" + std::to_string(::getpid()) + "x" + std::to_string(round);
        config = dir + "/" + name + ".toml";
        std::ofstream(config) << platform_toml(name, cpu);
        ::setenv("NK_RUN_DIR", dir.c_str(), 1);
        nkd = ::fork();
        if (nkd == 0) {
            const int log = ::open((dir + "/nkd.log").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
            ::dup2(log, 2);
            const std::string nkd_path = bin + "/nkd";
            ::execl(nkd_path.c_str(), nkd_path.c_str(), "--config", config.c_str(), static_cast<char*>(nullptr));
            ::_exit(127);
        }
        if (!wait_for([&] {
                auto r = nk::attach_by_name(name, nk::Identity::observer());
                if (r) observer.emplace(std::move(*r));
                return r.has_value();
            }, 10s))
            return false;
        return wait_for([&] { return tick().activations > 200; }, 10s);
    }

    void stop() {
        observer.reset();
        if (nkd > 0) {
            ::kill(nkd, SIGTERM);
            ::waitpid(nkd, nullptr, 0);
            nkd = -1;
        }
        if (!dir.empty()) std::filesystem::remove_all(dir);
        dir.clear();
    }

    // The rt guest's tick task as its executive published it (empty record if not yet).
    nk::rt::TaskStatus tick() const {
        auto segment = nk::ipc::Segment::open(*observer, "rt.exec", nk::Rights::Read);
        if (!segment) return {};
        auto status = nk::rt::read_exec_status(segment->bytes());
        if (!status) return {};
        for (const auto& t : status->tasks)
            if (t.name == "tick") return t;
        return {};
    }

    // Starts `argv` inside the linux guest (nkctl exec), its output to `output`.
    pid_t exec_in_linux(const std::vector<std::string>& argv, const std::string& output) const {
        std::vector<std::string> all = {bin + "/nkctl", "exec", "--platform", name, "linux", "--"};
        all.insert(all.end(), argv.begin(), argv.end());
        return spawn(all, output);
    }

    static pid_t spawn(const std::vector<std::string>& args, const std::string& output) {
        const pid_t pid = ::fork();
        if (pid == 0) {
            const int out = ::open(output.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
            ::dup2(out, 1);
            ::dup2(out, 2);
            std::vector<char*> argv;
            for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
            argv.push_back(nullptr);
            ::execvp(argv[0], argv.data());
            ::_exit(127);
        }
        return pid;
    }
};

struct Summary {
    double min = 0, p50 = 0, p99 = 0, p999 = 0, max = 0;
    std::uint64_t count = 0, overruns = 0;
};

Summary summarise(const Histogram& h, double exact_max_us, std::uint64_t overruns) {
    Summary s;
    s.count = nk::rt::total(h);
    s.overruns = overruns;
    for (std::uint32_t b = 0; b < h.size(); ++b)
        if (h[b] != 0) {
            s.min = static_cast<double>(nk::rt::bucket_low_us(b));
            break;
        }
    s.p50 = nk::rt::percentile_us(h, 0.50);
    s.p99 = nk::rt::percentile_us(h, 0.99);
    s.p999 = nk::rt::percentile_us(h, 0.999);
    s.max = exact_max_us;
    return s;
}

// The highest non-empty bucket's lower edge, or `exact_us` when that value lies in the same bucket.
double worst_us(const Histogram& h, double exact_us) {
    for (auto b = static_cast<std::uint32_t>(h.size()); b-- > 0;)
        if (h[b] != 0)
            return nk::rt::bucket_of(static_cast<std::uint64_t>(exact_us * 1000)) == b ? exact_us
                                                                                        : static_cast<double>(nk::rt::bucket_low_us(b));
    return 0;
}

struct Phase {
    std::string name;
    Histogram nk{}, cyclic{}, other{};
    Summary nk_s, cyclic_s, other_s;
};

bool run_phase(Platform& p, const std::string& name, bool load, std::uint64_t activations, Phase& out) {
    out.name = name;
    pid_t stress = -1;
    const std::string scratch = p.dir + "/" + name;
    if (load) {
        // Generous: the phase ends when the slowest of the three has made its activations.
        const std::uint64_t seconds = activations * 13 / 10000 + 15;
        stress = p.exec_in_linux({"stress-ng", "--cpu", "1", "--io", "1", "--vm", "1", "--vm-bytes", "128M", "--timeout",
                                  std::to_string(seconds) + "s"},
                                 scratch + "-stress.txt");
        std::this_thread::sleep_for(2s);  // the stressors running before anything is measured
    }
    const auto before = p.tick();
    auto* other = nk::bench::shared_new<Latencies>();
    const pid_t cyclic = nk::bench::rt::start_cyclictest(p.cpu, kRtPriority, activations, scratch + "-cyclictest.txt");
    const pid_t other_pid = nk::bench::rt::start_other_task(p.cpu, activations, other);
    const bool cyclic_ok = nk::bench::rt::wait_child(cyclic);
    const bool other_ok = nk::bench::rt::wait_child(other_pid);
    if (!cyclic_ok) std::fprintf(stderr, "nk_bench_rt: cyclictest failed (%s-cyclictest.txt)\n", scratch.c_str());
    if (!other_ok) std::fprintf(stderr, "nk_bench_rt: the SCHED_OTHER task failed\n");
    // The rt guest ran all along; its phase is at least as long as the peers'.
    wait_for([&] { return p.tick().activations >= before.activations + activations; }, 30s);
    const auto after = p.tick();
    bool ok = cyclic_ok && other_ok;
    if (load) {
        int status = 0;
        ok = ::waitpid(stress, &status, WNOHANG) == 0 && ok;  // still loading at the end: the whole phase was loaded
        if (!ok) std::fprintf(stderr, "nk_bench_rt: stress-ng ended before the phase did (%s-stress.txt)\n", name.c_str());
        ::waitpid(stress, &status, 0);
    }
    Latencies cyc;
    if (!nk::bench::rt::read_cyclictest(scratch + "-cyclictest.txt", cyc)) {
        std::fprintf(stderr, "nk_bench_rt: no histogram from cyclictest (is rt-tests installed?)\n");
        ok = false;
    }
    for (std::uint32_t b = 0; b < nk::rt::layout::kBuckets; ++b) out.nk[b] = after.buckets[b] - before.buckets[b];
    out.cyclic = cyc.buckets;
    out.other = other->buckets;
    const double nk_exact = static_cast<double>(after.delay_max_ns) / 1000.0;
    out.nk_s = summarise(out.nk, worst_us(out.nk, nk_exact), after.overruns - before.overruns);
    out.cyclic_s = summarise(out.cyclic, static_cast<double>(cyc.max_us), 0);
    out.other_s = summarise(out.other, static_cast<double>(other->max_us), other->overruns);
    nk::bench::shared_delete(other);
    if (out.nk_s.count < activations)
        std::fprintf(stderr, "nk_bench_rt: the rt guest's task made %llu activations in the phase (from %llu to %llu), wanted %llu\n",
                     static_cast<unsigned long long>(out.nk_s.count), static_cast<unsigned long long>(before.activations),
                     static_cast<unsigned long long>(after.activations), static_cast<unsigned long long>(activations));
    return ok && out.nk_s.count >= activations;
}

// stress-ng's metrics: the geometric mean of the cpu and get stressors' bogo-ops/s (real time).
std::optional<double> stress_rate(const std::string& output) {
    std::ifstream in(output);
    std::string line;
    double product = 1;
    int found = 0;
    std::string parts;
    while (std::getline(in, line)) {
        char stressor[32];
        double ops = 0, real = 0, usr = 0, sys = 0, rate = 0;
        const auto at = line.find("metrc:");
        if (at == std::string::npos) continue;
        const auto bracket = line.find(']', at);
        if (bracket == std::string::npos) continue;
        if (std::sscanf(line.c_str() + bracket + 1, "%31s %lf %lf %lf %lf %lf", stressor, &ops, &real, &usr, &sys, &rate) != 6)
            continue;
        if (std::strcmp(stressor, "cpu") == 0 || std::strcmp(stressor, "get") == 0) {
            product *= rate;
            ++found;
            parts += std::string(" ") + stressor + " " + std::to_string(static_cast<long long>(rate));
        }
    }
    if (found != 2) return std::nullopt;
    std::fprintf(stderr, "  stress-ng bogo-ops/s:%s\n", parts.c_str());
    return std::sqrt(product);
}

std::vector<std::string> workload(int seconds) {
    return {"stress-ng", "--cpu", "1", "--get", "1", "--timeout", std::to_string(seconds) + "s", "--metrics-brief"};
}

void write_plot(const std::vector<Phase>& phases, const std::string& json) {
    const std::filesystem::path dir = std::filesystem::path(json).parent_path();
    const std::string dat = (dir / "rt-histogram.dat").string(), png = (dir / "rt.png").string();
    std::FILE* f = std::fopen(dat.c_str(), "w");
    if (f == nullptr) return;
    std::fprintf(f, "# latency_us");
    for (const auto& ph : phases) std::fprintf(f, " nk_%s cyclictest_%s sched_other_%s", ph.name.c_str(), ph.name.c_str(), ph.name.c_str());
    std::fprintf(f, "\n# counts per bucket (1 us below 512 us, then powers of two); ? = empty\n");
    for (std::uint32_t b = 0; b < nk::rt::layout::kBuckets; ++b) {
        bool any = false;
        for (const auto& ph : phases) any = any || ph.nk[b] || ph.cyclic[b] || ph.other[b];
        if (!any) continue;
        std::fprintf(f, "%llu", static_cast<unsigned long long>(std::max<std::uint64_t>(1, nk::rt::bucket_low_us(b))));
        for (const auto& ph : phases)
            for (const auto* h : {&ph.nk, &ph.cyclic, &ph.other}) {
                if ((*h)[b] == 0) std::fprintf(f, " ?");
                else std::fprintf(f, " %llu", static_cast<unsigned long long>((*h)[b]));
            }
        std::fprintf(f, "\n");
    }
    std::fclose(f);
    const std::string script = (dir / "rt-histogram.gp").string();
    std::ofstream gp(script);
    gp << "set terminal pngcairo size 1000," << 400 * phases.size() << "\nset output '" << png << "'\n"
       << "set termoption noenhanced\nset datafile missing '?'\nset logscale xy\nset xlabel 'dispatch delay (us)'\n"
       << "set ylabel 'activations per bucket'\n"
       << "set grid\nset key top right\nset multiplot layout " << phases.size() << ",1\n";
    for (std::size_t i = 0; i < phases.size(); ++i) {
        const std::size_t c = 2 + 3 * i;
        gp << "set title '1 kHz periodic task, " << phases[i].name << "'\n"
           << "plot '" << dat << "' using 1:" << c << " with steps lw 2 title 'rt guest (nk executive)', '' using 1:"
           << c + 1 << " with steps lw 2 title 'cyclictest SCHED_FIFO', '' using 1:" << c + 2
           << " with steps lw 2 title 'SCHED_OTHER process'\n";
    }
    gp << "unset multiplot\n";
    gp.close();
    const std::string command = "gnuplot '" + script + "' 2>/dev/null";
    if (std::system(command.c_str()) == 0) std::fprintf(stderr, "wrote %s and %s\n", png.c_str(), dat.c_str());
    else std::fprintf(stderr, "nk_bench_rt: gnuplot failed (is gnuplot-nox installed?); data in %s\n", dat.c_str());
}

void print_phase(const Phase& ph) {
    std::printf("\n%s: dispatch delay in us (min p50 p99 p99.9 max; activations, overruns)\n", ph.name.c_str());
    auto row = [](const char* who, const Summary& s) {
        std::printf("  %-28s %7.0f %7.0f %7.0f %7.0f %9.0f   %llu, %llu\n", who, s.min, s.p50, s.p99, s.p999, s.max,
                    static_cast<unsigned long long>(s.count), static_cast<unsigned long long>(s.overruns));
    };
    row("rt guest (nk executive)", ph.nk_s);
    row("cyclictest SCHED_FIFO", ph.cyclic_s);
    row("SCHED_OTHER process", ph.other_s);
}

}  // namespace

int main(int argc, char** argv) {
    std::string bin = "build/bench/bin", json;
    std::uint64_t activations = 100'000;
    int rounds = 10, seconds = 3;
    int cpu = -1;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string flag = argv[i];
        if (flag == "--bin") bin = argv[i + 1];
        else if (flag == "--json") json = argv[i + 1];
        else if (flag == "--activations") activations = std::max<std::uint64_t>(1000, std::strtoull(argv[i + 1], nullptr, 10));
        else if (flag == "--rounds") rounds = std::max(1, std::atoi(argv[i + 1]));
        else if (flag == "--overhead-seconds") seconds = std::max(1, std::atoi(argv[i + 1]));
        else if (flag == "--cpu") cpu = std::atoi(argv[i + 1]);
    }
    if (::geteuid() != 0) {
        std::fprintf(stderr, "nk_bench_rt: needs root (namespaces, cgroups, SCHED_FIFO)\n");
        return 77;
    }
    if (cpu < 0) {
        cpu_set_t allowed;
        CPU_ZERO(&allowed);
        sched_getaffinity(0, sizeof allowed, &allowed);
        for (int c = 0; c < CPU_SETSIZE; ++c)
            if (CPU_ISSET(c, &allowed)) cpu = c;  // the last: CPU 0 takes most of the host's own work
    }
    // The programs nkd starts in the guests are found on PATH beside nkd.
    const std::string path = bin + ":" + (std::getenv("PATH") ? std::getenv("PATH") : "/usr/bin:/bin");
    ::setenv("PATH", path.c_str(), 1);
    std::fprintf(stderr, "nk_bench_rt: CPU %d, %llu activations per phase, %d overhead rounds of %d s\n", cpu,
                 static_cast<unsigned long long>(activations), rounds, seconds);

    std::vector<Phase> phases(2);
    {
        Platform p;
        p.bin = bin;
        p.cpu = cpu;
        if (!p.start(0)) {
            std::fprintf(stderr, "nk_bench_rt: the platform did not come up (nkd log in %s)\n", p.dir.c_str());
            return 1;
        }
        for (int i = 0; i < 2; ++i) {
            const bool load = i == 1;
            std::fprintf(stderr, "phase %s: %llu activations...\n", load ? "under load" : "idle",
                         static_cast<unsigned long long>(activations));
            if (!run_phase(p, load ? "load" : "idle", load, activations, phases[i])) {
                std::fprintf(stderr, "nk_bench_rt: phase %s failed; the rt guest and nkd's log:\n", load ? "load" : "idle");
                if (auto rt = p.observer->guest("rt"))
                    std::fprintf(stderr, "  rt guest: state %u, incarnation %u, restarts %u\n", static_cast<unsigned>(rt->state),
                                 rt->incarnation, rt->restarts);
                std::ifstream log(p.dir + "/nkd.log");
                for (std::string line; std::getline(log, line);) std::fprintf(stderr, "  nkd: %s\n", line.c_str());
                return 1;
            }
            print_phase(phases[i]);
        }
    }

    // This VM's speed drifts by tens of percent over minutes (its neighbours): each round pairs
    // a host run with a guest run next to it, and the overhead is the median of the rounds' ratios.
    // Two more runs per round tell the overhead's parts apart (peers, not the goal): the host with
    // a 1 kHz cyclictest at SCHED_FIFO on the same CPU (what any 1 kHz real-time task costs this
    // machine), and the host's workload beside the running platform, outside the guest (what the
    // rt guest's 1 kHz path costs, without the guest's namespaces and cgroup).
    enum Side { InGuest, BareHost, HostWithCyclictest, HostBesidePlatform, kSides };
    std::vector<double> rates[kSides];
    std::vector<double> slowdown, slowdown_ticking, slowdown_beside, containment;
    auto side_name = [](int side) {
        switch (side) {
            case InGuest: return "linux guest, platform running";
            case BareHost: return "bare host";
            case HostWithCyclictest: return "host + 1 kHz cyclictest";
            default: return "host beside the platform";
        }
    };
    for (int r = 0; r < rounds; ++r) {
        for (int i = 0; i < kSides; ++i) {
            // Alternate which of the guest and the bare host goes first.
            const int side = i >= 2 ? i : (i == 0) == (r % 2 == 1) ? InGuest : BareHost;
            char pattern[] = "/tmp/nk-rtbench-ovh-XXXXXX";
            const std::string scratch = std::string(::mkdtemp(pattern)) + "/stress.txt";
            std::vector<std::string> on_host = {"taskset", "-c", std::to_string(cpu)};
            for (const auto& a : workload(seconds)) on_host.push_back(a);
            std::optional<double> rate;
            if (side == InGuest || side == HostBesidePlatform) {
                Platform p;
                p.bin = bin;
                p.cpu = cpu;
                if (!p.start(100 + r)) {
                    std::fprintf(stderr, "nk_bench_rt: the platform did not come up for overhead round %d\n", r);
                    return 1;
                }
                nk::bench::rt::wait_child(side == InGuest ? p.exec_in_linux(workload(seconds), scratch)
                                                          : Platform::spawn(on_host, scratch));
                rate = stress_rate(scratch);
            } else {
                pid_t cyclic = -1;
                if (side == HostWithCyclictest) {
                    const std::string out = std::filesystem::path(scratch).parent_path() / "cyclictest.txt";
                    cyclic = nk::bench::rt::start_cyclictest(cpu, kRtPriority, static_cast<std::uint64_t>(seconds) * 1000 + 2000, out);
                    std::this_thread::sleep_for(300ms);
                }
                nk::bench::rt::wait_child(Platform::spawn(on_host, scratch));
                if (cyclic > 0) {
                    ::kill(cyclic, SIGTERM);
                    nk::bench::rt::wait_child(cyclic);
                }
                rate = stress_rate(scratch);
            }
            std::filesystem::remove_all(std::filesystem::path(scratch).parent_path());
            if (!rate) {
                std::fprintf(stderr, "nk_bench_rt: no stress-ng metrics in round %d (%s)\n", r, side_name(side));
                return 1;
            }
            rates[side].push_back(*rate);
            std::fprintf(stderr, "overhead round %d, %s: %.1f bogo-ops/s\n", r, side_name(side), *rate);
        }
        const double guest = rates[InGuest].back();
        slowdown.push_back(rates[BareHost].back() / guest);
        slowdown_ticking.push_back(rates[HostWithCyclictest].back() / guest);
        slowdown_beside.push_back(rates[BareHost].back() / rates[HostBesidePlatform].back());
        containment.push_back(rates[HostBesidePlatform].back() / guest);
    }

    const Phase& load = phases[1];
    const Phase& idle = phases[0];
    std::vector<nk::bench::Record> records;
    auto vs = [](double nk_value, double peer) { return peer > 0 ? nk_value / peer : (nk_value > 0 ? 1e9 : 1.0); };
    const std::string cyc = "cyclictest SCHED_FIFO", other = "SCHED_OTHER process";
    records.push_back(nk::bench::make_record("p99", "us", load.nk_s.p99, cyc, load.cyclic_s.p99, vs(load.nk_s.p99, load.cyclic_s.p99), "<= 1.2"));
    records.push_back(nk::bench::make_record("p99.9", "us", load.nk_s.p999, cyc, load.cyclic_s.p999,
                                             vs(load.nk_s.p999, load.cyclic_s.p999), "<= 1.2"));
    records.push_back(nk::bench::make_record("p99.9", "us", load.nk_s.p999, other, load.other_s.p999,
                                             vs(load.nk_s.p999, load.other_s.p999), "<= 0.1"));
    records.push_back(nk::bench::make_record("worst", "us", load.nk_s.max, cyc, load.cyclic_s.max, vs(load.nk_s.max, load.cyclic_s.max), "<= 1.2"));
    records.push_back(nk::bench::make_record("idle_p99", "us", idle.nk_s.p99, cyc, idle.cyclic_s.p99, vs(idle.nk_s.p99, idle.cyclic_s.p99), "<= 1.2"));
    records.push_back(nk::bench::make_record("idle_p99.9", "us", idle.nk_s.p999, cyc, idle.cyclic_s.p999,
                                             vs(idle.nk_s.p999, idle.cyclic_s.p999), "<= 1.2"));
    records.push_back(nk::bench::make_record("idle_worst", "us", idle.nk_s.max, cyc, idle.cyclic_s.max, vs(idle.nk_s.max, idle.cyclic_s.max), "<= 1.2"));
    const double nk_rate = nk::bench::median(rates[InGuest]), host_rate = nk::bench::median(rates[BareHost]);
    const double beside_rate = nk::bench::median(rates[HostBesidePlatform]);
    const double ratio = nk::bench::median(slowdown);
    records.push_back(nk::bench::make_record("overhead", "bogo-ops/s", nk_rate, "bare host", host_rate, ratio, "<= 1.02"));
    records.push_back(nk::bench::make_record("overhead", "bogo-ops/s", nk_rate, "host + 1 kHz cyclictest",
                                             nk::bench::median(rates[HostWithCyclictest]), nk::bench::median(slowdown_ticking),
                                             "<= 1.02"));
    // The parts: the 1 kHz path alone (the host's workload beside the platform, against the bare
    // host), and the guest alone (in the guest, against the host's workload beside the platform).
    records.push_back(nk::bench::make_record("overhead_ticking", "bogo-ops/s", beside_rate, "bare host", host_rate,
                                             nk::bench::median(slowdown_beside), "reported"));
    records.push_back(nk::bench::make_record("overhead_guest", "bogo-ops/s", nk_rate, "host beside the platform",
                                             beside_rate, nk::bench::median(containment), "reported"));
    std::printf("\noverhead: stress-ng --cpu 1 --get 1, %d s x %d rounds, median geomean bogo-ops/s: linux guest %.1f, bare host %.1f; "
                "median of the rounds' host/guest ratios %.3f (%.2f%% slower)\n\n", seconds, rounds, nk_rate, host_rate, ratio,
                (ratio - 1) * 100);
    try {
        nk::bench::publish(records, json);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "nk_bench_rt: %s\n", e.what());
        return 1;
    }
    if (!json.empty()) write_plot(phases, json);
    return 0;
}
