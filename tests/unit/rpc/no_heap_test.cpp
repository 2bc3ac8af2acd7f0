// nk::rpc::NoHeapServer and NoHeapChannel allocate nothing per call: this executable replaces the
// global operator new and delete with ones that count the calling thread's allocations. The
// server runs in a forked process attached as guest "rt" and serves on its main thread; the
// test process calls it as guest "linux" from its main thread. After a warm-up (first contact
// opens the client's reply port, Protobuf's first use sets itself up) both sides count the
// allocations of N measured calls, which must be zero, and every reply is checked.
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <cstdlib>
#include <new>
#include <string>

#include <gtest/gtest.h>

#include "nk/rpc/no_heap_channel.hpp"
#include "nk/rpc/no_heap_server.hpp"
#include "nk/test/sampler.nk.h"
#include "test_platform.hpp"

namespace {
// Counted per thread: only the thread that serves (or calls) is measured.
thread_local std::uint64_t t_allocations = 0;

void* counted(std::size_t size) {
    ++t_allocations;
    if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
    throw std::bad_alloc();
}
void* counted_aligned(std::size_t size, std::align_val_t align) {
    ++t_allocations;
    const auto a = static_cast<std::size_t>(align);
    if (void* p = std::aligned_alloc(a, (size + a - 1) / a * a)) return p;
    throw std::bad_alloc();
}
}  // namespace

void* operator new(std::size_t size) { return counted(size); }
void* operator new[](std::size_t size) { return counted(size); }
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
    ++t_allocations;
    return std::malloc(size == 0 ? 1 : size);
}
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
    ++t_allocations;
    return std::malloc(size == 0 ? 1 : size);
}
void* operator new(std::size_t size, std::align_val_t align) { return counted_aligned(size, align); }
void* operator new[](std::size_t size, std::align_val_t align) { return counted_aligned(size, align); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }

namespace nk::rpc {
namespace {

using namespace std::chrono_literals;

class SamplerImpl final : public nk::test::SamplerService {
public:
    Status Sum(ServerContext&, const nk::test::SampleRequest& request, nk::test::SampleReply& response) override {
        std::int64_t sum = 0;
        for (const std::int32_t v : request.values()) {
            sum += v;
            response.add_doubled(2 * v);
        }
        response.set_seq(request.seq());
        response.set_sum(sum);
        response.set_count(request.values_size());
        response.set_tag(request.tag());
        return {};
    }
};

constexpr const char* kPort = "rt.sampler";
constexpr int kWarmup = 50;
constexpr int kMeasured = 2000;

class NoHeapTest : public test::SmallPlatformTest {};

TEST_F(NoHeapTest, TheCountingHookSeesAllocationsOnThisThread) {
    // Without this the zero below would prove nothing.
    const std::uint64_t before = t_allocations;
    auto* p = new std::string(100, 'x');
    delete p;
    nk::test::SampleRequest heap_message;
    heap_message.set_tag(std::string(64, 't'));  // a long string: Protobuf puts its bytes on the heap
    EXPECT_GE(t_allocations - before, 3U);
}

TEST_F(NoHeapTest, UnaryCallsServedAndCalledWithoutHeapAllocationOnEitherThread) {
    int report[2];
    ASSERT_EQ(::pipe(report), 0);
    const pid_t server_pid = ::fork();
    if (server_pid == 0) {
        ::close(report[0]);
        SamplerImpl impl;
        // The arena's block is the caller's memory here (a static buffer, as an rt task would have it).
        alignas(64) static std::byte arena_memory[32 * 1024];
        NoHeapServer server(*rt_guest, kPort, {.arena_memory = arena_memory});
        if (!server.add(impl) || !server.start()) ::_exit(3);
        const char ready = 'r';
        if (::write(report[1], &ready, 1) != 1) ::_exit(4);
        const auto serve = [&](std::uint64_t until_served) {
            const auto give_up = std::chrono::steady_clock::now() + 60s;
            while (server.stats().served < until_served && std::chrono::steady_clock::now() < give_up)
                if (!server.serve_one(10ms)) ::_exit(5);
        };
        serve(kWarmup);
        const std::uint64_t before = t_allocations;
        serve(kWarmup + kMeasured);
        const std::uint64_t counts[3] = {t_allocations - before, server.stats().served - kWarmup, server.stats().arena_overflows};
        if (::write(report[1], counts, sizeof counts) != sizeof counts) ::_exit(6);
        ::_exit(0);
    }
    ::close(report[1]);
    pollfd fd{report[0], POLLIN, 0};
    char ready = 0;
    ASSERT_TRUE(::poll(&fd, 1, 10'000) == 1 && ::read(report[0], &ready, 1) == 1) << "the server did not start";

    auto channel = NoHeapChannel::open(*linux_guest, kPort);
    ASSERT_TRUE(channel) << channel.error().message;
    nk::test::SamplerNoHeapClient client(**channel);  // generated: typed calls through the NoHeapChannel
    nk::test::SampleRequest request;
    nk::test::SampleReply reply;
    int wrong = 0;
    const auto one_call = [&](int seq) {
        request.set_seq(seq);
        request.clear_values();
        for (int i = 0; i < 16; ++i) request.add_values(seq - i);
        request.set_tag("sensor-7");
        const Status status = client.Sum(request, reply, 10s);
        std::int64_t sum = 0;
        for (int i = 0; i < 16; ++i) sum += seq - i;
        if (!status.ok() || reply.seq() != seq || reply.sum() != sum || reply.count() != 16 || reply.tag() != "sensor-7" ||
            reply.doubled_size() != 16 || reply.doubled(15) != 2 * (seq - 15))
            ++wrong;
    };
    for (int i = 0; i < kWarmup; ++i) one_call(i);
    const std::uint64_t before = t_allocations;
    for (int i = kWarmup; i < kWarmup + kMeasured; ++i) one_call(i);
    const std::uint64_t client_allocations = t_allocations - before;

    std::uint64_t counts[3] = {~0ULL, 0, 0};
    pollfd done{report[0], POLLIN, 0};
    ASSERT_EQ(::poll(&done, 1, 30'000), 1);
    ASSERT_EQ(::read(report[0], counts, sizeof counts), static_cast<ssize_t>(sizeof counts));
    ::close(report[0]);
    int status = 0;
    ::waitpid(server_pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;

    EXPECT_EQ(wrong, 0);
    EXPECT_EQ(counts[1], static_cast<std::uint64_t>(kMeasured)) << "the server served another number of calls";
    EXPECT_EQ(counts[2], 0U) << "the handler's messages outgrew the arena block";
    EXPECT_EQ(counts[0], 0U) << "allocations on the serving thread during " << kMeasured << " calls";
    EXPECT_EQ(client_allocations, 0U) << "allocations on the calling thread during " << kMeasured << " calls";
}

TEST_F(NoHeapTest, MessagesThatOutgrowTheArenaBlockAreCountedAndStillServed) {
    // Without this the arena_overflows == 0 above would prove nothing.
    NoHeapServer server(*rt_guest, kPort, {.arena_block = 2048});
    SamplerImpl impl;
    ASSERT_TRUE(server.add(impl));
    ASSERT_TRUE(server.start());
    std::atomic<bool> stop{false};
    std::thread serving([&] {
        while (!stop.load(std::memory_order_relaxed))  // relaxed: a stop flag
            if (!server.serve_one(5ms)) return;
    });
    auto channel = NoHeapChannel::open(*linux_guest, kPort);
    ASSERT_TRUE(channel) << channel.error().message;
    nk::test::SampleRequest request;
    for (int i = 0; i < 1000; ++i) request.add_values(i);  // 4 KiB of values, twice: past 2 KiB
    nk::test::SampleReply reply;
    const Status status = (*channel)->call(nk::test::SamplerService().methods()[0].id, request, reply, 5s);
    stop.store(true, std::memory_order_relaxed);
    serving.join();
    ASSERT_TRUE(status.ok()) << status.to_string();
    EXPECT_EQ(reply.count(), 1000);
    EXPECT_EQ(reply.sum(), 999 * 1000 / 2);
    EXPECT_EQ(server.stats().arena_overflows, 1U);  // read after join()
}

TEST_F(NoHeapTest, NoHeapChannelCallsAnOrdinaryServerAndSeesItsErrors) {
    // The same wire as nk::rpc::Server: a NoHeapChannel calls it, and an unknown method is UNIMPLEMENTED.
    SamplerImpl impl;
    Server server(*rt_guest, kPort, {.threads = 1});
    ASSERT_TRUE(server.add(impl));
    ASSERT_TRUE(server.start());
    auto channel = NoHeapChannel::open(*linux_guest, kPort);
    ASSERT_TRUE(channel) << channel.error().message;
    nk::test::SampleRequest request;
    request.set_seq(7);
    request.add_values(5);
    nk::test::SampleReply reply;
    const Status ok = (*channel)->call(nk::test::SamplerService().methods()[0].id, request, reply, 5s);
    ASSERT_TRUE(ok.ok()) << ok.to_string();
    EXPECT_EQ(reply.sum(), 5);
    const Status missing = (*channel)->call(method_id("/nk.test.Sampler/Missing"), request, reply, 5s);
    EXPECT_EQ(missing.code(), StatusCode::Unimplemented) << missing.to_string();
    // An oversized request never leaves.
    request.set_tag(std::string(20'000, 'x'));
    EXPECT_EQ((*channel)->call(nk::test::SamplerService().methods()[0].id, request, reply, 5s).code(),
              StatusCode::ResourceExhausted);
}

}  // namespace
}  // namespace nk::rpc
