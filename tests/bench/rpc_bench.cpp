// nk_bench_rpc: nk::rpc against gRPC C++ over a Unix domain socket, the same bench.proto.
//
//   nk_bench_rpc [--rounds N] [--json FILE]
//
// Each round runs, for small (16 B) and 4 KiB payloads, nk then gRPC: the server in a child pinned
// to CPU 1 and the client in another child pinned to CPU 0 (the parent only collects results,
// so no process forks after gRPC started its threads). A client first makes kCalls sequential
// calls (round-trip p50, p99), then one thread and then kThreads threads, each with its own
// channel or stub, call for kRunTime (calls per second). Streams: one bidi stream echoes
// kStreamMessages messages with kInFlight of them on the way at any time, and one client stream
// uploads kStreamMessages (messages per second).
// Ratios are medians over rounds of nk / gRPC within a round (docs/BENCHMARKS.md).
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstring>
#include <map>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "bench.grpc.pb.h"
#include "bench.nk.h"
#include "bench_util.hpp"
#include "nk/nanokernel/platform_config.hpp"
#include "nk/nanokernel/region.hpp"

namespace nk::bench {
namespace {

constexpr int kWarmup = 1000;
constexpr int kCalls = 10000;
constexpr int kThreads = 4;
constexpr auto kRunTime = std::chrono::milliseconds(1000);
constexpr int kStreamMessages = 20000;
constexpr int kInFlight = 16;  // under nk's window of 32 (rpc::kStreamWindow)

struct Results {
    std::array<double, kCalls> rtt_ns;
    double calls_per_s_1;  // one calling thread
    double calls_per_s_n;  // kThreads calling threads
    double bidi_per_s;     // messages echoed per second on one bidi stream
    double upload_per_s;   // messages per second on one client stream
    std::atomic<int> ready;  // the server serves
};

// ---- nk: a region with a server guest and a client guest linked to each other.
std::string platform_toml() {
    static std::atomic<int> counter{0};
    return "[platform]\nname = \"rpcb-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) +
           "\"\n[areas]\nlink_size = \"2 MiB\"\ncommon_size = \"64 KiB\"\npnv_size = \"64 KiB\"\n"
           "[[guests]]\nid = 1\nname = \"client\"\nkind = \"linux\"\nmemory = \"64 KiB\"\ncpus = [0]\n"
           "[[guests]]\nid = 2\nname = \"server\"\nkind = \"linux\"\nmemory = \"64 KiB\"\ncpus = [0]\n"
           "[[links]]\nguests = [\"client\", \"server\"]\n"
           "[[access]]\nobjects = \"*\"\nguests = [\"*\"]\nrights = \"rw\"\n";
}

template <class T>
T check(Result<T> r) {
    if (!r) throw std::runtime_error(r.error().message);
    return std::move(*r);
}

void check(Result<void> r) {
    if (!r) throw std::runtime_error(r.error().message);
}

Region attach(const Region& creator, std::uint16_t id) {
    return check(Region::attach(check(creator.export_fds(Identity::guest(id))), Identity::guest(id)));
}

class NkEcho final : public nk::bench::BenchService {
    rpc::Status Echo(rpc::ServerContext&, const Payload& request, Payload& response) override {
        response.set_data(request.data());
        return {};
    }
    rpc::Status Chat(rpc::ServerContext&, rpc::ServerReaderWriter<Payload, Payload>& stream) override {
        Payload item;
        while (stream.read(item))
            if (!stream.write(item)) break;
        return {};
    }
    rpc::Status Upload(rpc::ServerContext&, rpc::ServerReader<Payload>& reader, Payload& response) override {
        Payload item;
        std::size_t count = 0;
        while (reader.read(item)) ++count;
        response.set_data(std::to_string(count));
        return {};
    }
};

class GrpcEcho final : public nk::bench::Bench::Service {
    grpc::Status Echo(grpc::ServerContext*, const Payload* request, Payload* response) override {
        response->set_data(request->data());
        return grpc::Status::OK;
    }
    grpc::Status Chat(grpc::ServerContext*, grpc::ServerReaderWriter<Payload, Payload>* stream) override {
        Payload item;
        while (stream->Read(&item))
            if (!stream->Write(item)) break;
        return grpc::Status::OK;
    }
    grpc::Status Upload(grpc::ServerContext*, grpc::ServerReader<Payload>* reader, Payload* response) override {
        Payload item;
        std::size_t count = 0;
        while (reader->Read(&item)) ++count;
        response->set_data(std::to_string(count));
        return grpc::Status::OK;
    }
};

// One bidi stream with kInFlight messages on the way, then one client stream: messages per second.
// `stream` has write/read/done/finish as both systems' bidi calls do.
template <class Bidi>
double time_bidi(Bidi& stream, const Payload& request) {
    Payload echo;
    const auto start = now_ns();
    int read = 0;
    for (int sent = 0; sent < kStreamMessages; ++sent) {
        if (!stream.write(request)) throw std::runtime_error("bidi write failed");
        if (sent >= kInFlight - 1) {
            if (!stream.read(echo) || echo.data().size() != request.data().size()) throw std::runtime_error("bidi read failed");
            ++read;
        }
    }
    if (!stream.done()) throw std::runtime_error("bidi writes_done failed");
    while (stream.read(echo)) ++read;
    const auto took = now_ns() - start;
    if (read != kStreamMessages || !stream.finish()) throw std::runtime_error("bidi stream lost messages or failed");
    return static_cast<double>(kStreamMessages) * 1e9 / static_cast<double>(took);
}

// `reply`: where the stream's one reply lands (gRPC's stub was given it when the call began).
template <class Upload>
double time_upload(Upload& stream, const Payload& request, Payload& reply) {
    const auto start = now_ns();
    for (int sent = 0; sent < kStreamMessages; ++sent)
        if (!stream.write(request)) throw std::runtime_error("client stream write failed");
    if (!stream.finish(reply) || reply.data() != std::to_string(kStreamMessages))
        throw std::runtime_error("client stream failed or lost messages");
    return static_cast<double>(kStreamMessages) * 1e9 / static_cast<double>(now_ns() - start);
}

// Runs the calls of one client: sequential round trips, then kThreads threads for kRunTime.
template <class Call>
void run_client(Results& out, std::size_t payload, const std::function<Call()>& make_caller) {
    Payload request;
    request.set_data(std::string(payload, 'x'));
    Call call = make_caller();
    for (int i = 0; i < kWarmup; ++i) call(request);
    for (int i = 0; i < kCalls; ++i) {
        const auto start = now_ns();
        call(request);
        out.rtt_ns[static_cast<std::size_t>(i)] = static_cast<double>(now_ns() - start);
    }
    const auto rate = [&](int thread_count) {
        std::atomic<bool> stop{false};
        std::atomic<std::uint64_t> calls{0};  // summed after join(): relaxed suffices
        std::vector<std::thread> threads;
        for (int t = 0; t < thread_count; ++t) {
            threads.emplace_back([&] {
                Call mine = make_caller();
                std::uint64_t n = 0;
                while (!stop.load(std::memory_order_relaxed)) {  // relaxed: a stop flag
                    mine(request);
                    ++n;
                }
                calls.fetch_add(n, std::memory_order_relaxed);
            });
        }
        const auto start = now_ns();
        std::this_thread::sleep_for(kRunTime);
        stop.store(true, std::memory_order_relaxed);  // relaxed: a stop flag; join() publishes the counts
        for (auto& t : threads) t.join();
        return static_cast<double>(calls.load(std::memory_order_relaxed)) * 1e9 / static_cast<double>(now_ns() - start);
    };
    out.calls_per_s_1 = rate(1);
    out.calls_per_s_n = rate(kThreads);
}

void reap(pid_t pid) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) throw std::runtime_error("bench child failed");
}

void wait_ready(Results& results) {
    // acquire: pairs with the server's release once it serves.
    for (int i = 0; i < 10000 && results.ready.load(std::memory_order_acquire) == 0; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    if (results.ready.load(std::memory_order_acquire) != 1) throw std::runtime_error("bench server did not start");
}

void check_echo(bool ok, const Payload& request, const Payload& response) {
    if (!ok || response.data().size() != request.data().size()) throw std::runtime_error("echo failed");
}

void measure_nk(Results& results, std::size_t payload) {
    auto config = parse_platform_config(platform_toml(), "bench.toml");
    if (!config) throw std::runtime_error(config.error().message);
    Region creator = check(Region::create(*config));
    const pid_t server = fork_pinned(1, [&] {
        Region region = attach(creator, 2);
        NkEcho service;
        rpc::Server rpc_server(region, "bench.echo", {.threads = 2, .queue_limit = 64, .port = {256 * 1024, 8192, "client"}});
        check(rpc_server.add(service));
        check(rpc_server.start());
        results.ready.store(1, std::memory_order_release);  // pairs with the acquire in wait_ready()
        for (;;) ::pause();
    });
    wait_ready(results);
    const pid_t client = fork_pinned(0, [&] {
        Region region = attach(creator, 1);
        using Call = std::function<void(const Payload&)>;
        run_client<Call>(results, payload, [&]() -> Call {
            auto channel = check(rpc::Channel::open(region, "bench.echo", {.reply_capacity = 64 * 1024}));
            auto client_stub = std::make_shared<BenchClient>(channel);
            return [client_stub](const Payload& request) {
                Payload response;
                check_echo(client_stub->Echo(request, response, std::chrono::seconds(5)).ok(), request, response);
            };
        });
        BenchClient streams(check(rpc::Channel::open(region, "bench.echo", {.reply_capacity = 64 * 1024})));
        Payload request;
        request.set_data(std::string(payload, 'x'));
        struct NkBidi {
            rpc::ClientReaderWriter<Payload, Payload> call;
            bool write(const Payload& p) { return call.write(p); }
            bool read(Payload& p) { return call.read(p); }
            bool done() { return call.writes_done(); }
            bool finish() { return call.finish().ok(); }
        } bidi{streams.Chat(std::chrono::seconds(60))};
        results.bidi_per_s = time_bidi(bidi, request);
        struct NkUpload {
            rpc::ClientWriter<Payload, Payload> call;
            bool write(const Payload& p) { return call.write(p); }
            bool finish(Payload& reply) { return call.finish(reply).ok(); }
        } upload{streams.Upload(std::chrono::seconds(60))};
        Payload reply;
        results.upload_per_s = time_upload(upload, request, reply);
    });
    reap(client);
    ::kill(server, SIGKILL);
    ::waitpid(server, nullptr, 0);
}

void measure_grpc(Results& results, std::size_t payload) {
    const std::string address = "unix:/tmp/nk-bench-rpc-" + std::to_string(::getpid()) + ".sock";
    const pid_t server = fork_pinned(1, [&] {
        GrpcEcho service;
        grpc::ServerBuilder builder;
        builder.AddListeningPort(address, grpc::InsecureServerCredentials());
        builder.RegisterService(&service);
        auto grpc_server = builder.BuildAndStart();
        if (!grpc_server) throw std::runtime_error("gRPC server did not start on " + address);
        results.ready.store(1, std::memory_order_release);  // pairs with the acquire in wait_ready()
        for (;;) ::pause();
    });
    wait_ready(results);
    const pid_t client = fork_pinned(0, [&] {
        auto channel = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
        using Call = std::function<void(const Payload&)>;
        run_client<Call>(results, payload, [&]() -> Call {
            auto stub = std::shared_ptr<Bench::Stub>(Bench::NewStub(channel));
            return [stub](const Payload& request) {
                Payload response;
                grpc::ClientContext context;
                context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
                check_echo(stub->Echo(&context, request, &response).ok(), request, response);
            };
        });
        auto stub = Bench::NewStub(channel);
        Payload request;
        request.set_data(std::string(payload, 'x'));
        grpc::ClientContext bidi_context;
        struct GrpcBidi {
            std::unique_ptr<grpc::ClientReaderWriter<Payload, Payload>> call;
            bool write(const Payload& p) { return call->Write(p); }
            bool read(Payload& p) { return call->Read(&p); }
            bool done() { return call->WritesDone(); }
            bool finish() { return call->Finish().ok(); }
        } bidi{stub->Chat(&bidi_context)};
        results.bidi_per_s = time_bidi(bidi, request);
        grpc::ClientContext upload_context;
        Payload reply;
        struct GrpcUpload {
            std::unique_ptr<grpc::ClientWriter<Payload>> call;
            bool write(const Payload& p) { return call->Write(p); }
            bool finish(Payload&) { return call->WritesDone() && call->Finish().ok(); }  // the reply is in `reply`
        } upload{stub->Upload(&upload_context, &reply)};
        results.upload_per_s = time_upload(upload, request, reply);
    });
    reap(client);
    ::kill(server, SIGKILL);
    ::waitpid(server, nullptr, 0);
    ::unlink(address.substr(5).c_str());
}

}  // namespace
}  // namespace nk::bench

int main(int argc, char** argv) {
    using namespace nk::bench;
    int rounds = 3;
    std::string json_path;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--rounds" && i + 1 < argc) rounds = std::stoi(argv[++i]);
        else if (arg == "--json" && i + 1 < argc) json_path = argv[++i];
        else {
            std::fprintf(stderr, "usage: nk_bench_rpc [--rounds N] [--json FILE]\n");
            return 2;
        }
    }
    try {
        const std::vector<std::pair<std::string, std::size_t>> sizes{{"small", 16}, {"4KB", 4096}};
        // Per size and system: per-round p50, p99 and calls/s.
        std::map<std::string, std::vector<double>> p50, p99, rate, rate_n, r_p50, r_p99, r_rate, r_rate_n;
        std::map<std::string, std::vector<double>> bidi, upload, r_bidi, r_upload;
        for (int round = 0; round < rounds; ++round) {
            for (const auto& [label, size] : sizes) {
                auto* nk = shared_new<Results>();
                auto* grpc_results = shared_new<Results>();
                measure_nk(*nk, size);
                measure_grpc(*grpc_results, size);
                const auto a = percentiles(std::vector<double>(nk->rtt_ns.begin(), nk->rtt_ns.end()));
                const auto b = percentiles(std::vector<double>(grpc_results->rtt_ns.begin(), grpc_results->rtt_ns.end()));
                p50["nk" + label].push_back(a.p50);
                p50["grpc" + label].push_back(b.p50);
                p99["nk" + label].push_back(a.p99);
                p99["grpc" + label].push_back(b.p99);
                rate["nk" + label].push_back(nk->calls_per_s_1);
                rate["grpc" + label].push_back(grpc_results->calls_per_s_1);
                rate_n["nk" + label].push_back(nk->calls_per_s_n);
                rate_n["grpc" + label].push_back(grpc_results->calls_per_s_n);
                r_rate_n[label].push_back(nk->calls_per_s_n / grpc_results->calls_per_s_n);
                r_p50[label].push_back(a.p50 / b.p50);
                r_p99[label].push_back(a.p99 / b.p99);
                r_rate[label].push_back(nk->calls_per_s_1 / grpc_results->calls_per_s_1);
                bidi["nk" + label].push_back(nk->bidi_per_s);
                bidi["grpc" + label].push_back(grpc_results->bidi_per_s);
                upload["nk" + label].push_back(nk->upload_per_s);
                upload["grpc" + label].push_back(grpc_results->upload_per_s);
                r_bidi[label].push_back(nk->bidi_per_s / grpc_results->bidi_per_s);
                r_upload[label].push_back(nk->upload_per_s / grpc_results->upload_per_s);
                std::fprintf(stderr, "round %d %s streams: nk bidi %.0f upload %.0f msgs/s; gRPC bidi %.0f upload %.0f msgs/s\n",
                             round + 1, label.c_str(), nk->bidi_per_s, nk->upload_per_s, grpc_results->bidi_per_s,
                             grpc_results->upload_per_s);
                std::fprintf(stderr,
                             "round %d %s: nk p50 %.0f ns p99 %.0f ns %.0f / %.0f calls/s; gRPC p50 %.0f ns p99 %.0f ns "
                             "%.0f / %.0f calls/s (1 / %d threads)\n",
                             round + 1, label.c_str(), a.p50, a.p99, nk->calls_per_s_1, nk->calls_per_s_n, b.p50, b.p99,
                             grpc_results->calls_per_s_1, grpc_results->calls_per_s_n, kThreads);
                shared_delete(nk);
                shared_delete(grpc_results);
            }
        }
        std::vector<Record> records;
        for (const auto& [label, size] : sizes) {
            records.push_back(make_record("unary_rtt_p50_" + label, "ns", median(p50["nk" + label]), "grpc-uds",
                                          median(p50["grpc" + label]), median(r_p50[label]), "<= 0.1"));
            records.push_back(make_record("unary_rtt_p99_" + label, "ns", median(p99["nk" + label]), "grpc-uds",
                                          median(p99["grpc" + label]), median(r_p99[label]), "<= 0.1"));
            records.push_back(make_record("unary_calls_per_s_" + label + "_1thread", "calls/s", median(rate["nk" + label]),
                                          "grpc-uds", median(rate["grpc" + label]), median(r_rate[label]), ">= 5.0"));
            records.push_back(make_record("unary_calls_per_s_" + label + "_" + std::to_string(kThreads) + "threads",
                                          "calls/s", median(rate_n["nk" + label]), "grpc-uds", median(rate_n["grpc" + label]),
                                          median(r_rate_n[label]), ">= 5.0"));
            records.push_back(make_record("bidi_msgs_per_s_" + label, "msgs/s", median(bidi["nk" + label]), "grpc-uds",
                                          median(bidi["grpc" + label]), median(r_bidi[label]), ">= 5.0"));
            records.push_back(make_record("client_stream_msgs_per_s_" + label, "msgs/s", median(upload["nk" + label]),
                                          "grpc-uds", median(upload["grpc" + label]), median(r_upload[label]), ">= 5.0"));
        }
        print_table(records);
        if (!json_path.empty()) {
            std::FILE* out = std::fopen(json_path.c_str(), "w");
            if (out == nullptr) throw std::runtime_error("cannot write " + json_path);
            write_json(records, out);
            std::fclose(out);
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "nk_bench_rpc: %s\n", e.what());
        return 1;
    }
    return 0;
}
