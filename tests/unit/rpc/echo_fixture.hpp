// The Echo service (protos/nk/test/echo.proto) and the fixture that runs it in a forked process
// attached as guest "rt", shared by the rpc tests (rpc_test.cpp, rpc_stream_test.cpp). The test
// process calls it as guest "linux".
#pragma once

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <span>
#include <string_view>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "nk/rpc/frame.hpp"
#include "nk/test/echo.nk.h"
#include "test_platform.hpp"

namespace nk::rpc {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr int kScale = 5;
#else
constexpr int kScale = 1;
#endif
// "At once": well under the calls' deadlines (seconds), with room for a loaded or sanitized machine.
constexpr int kPromptMs = 200 * kScale;

int ms_since(Clock::time_point start) {
    return static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count());
}

class EchoImpl final : public nk::test::EchoService {
public:
    Status Say(ServerContext&, const nk::test::EchoRequest& request, nk::test::EchoReply& response) override {
        response.set_text(request.text());
        response.set_server_pid(::getpid());
        return {};
    }
    Status Count(ServerContext& context, const nk::test::CountRequest& request,
                 ServerWriter<nk::test::CountReply>& writer) override {
        const auto start = Clock::now();
        nk::test::CountReply item;
        item.set_padding(std::string(static_cast<std::size_t>(request.item_bytes()), 'p'));
        for (int n = 0; request.count() == 0 || n < request.count(); ++n) {
            item.set_n(n);
            if (!writer.write(item)) {
                record(context.cancelled(), start);
                return {StatusCode::Cancelled, "the client went away"};
            }
            if (request.interval_ms() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(request.interval_ms()));
        }
        record(false, start);
        return {};
    }
    Status Slow(ServerContext& context, const nk::test::SlowRequest& request, nk::test::EchoReply& response) override {
        const auto start = Clock::now();
        while (ms_since(start) < request.delay_ms()) {
            if (context.cancelled()) {
                record(true, start);
                return {StatusCode::Cancelled, "gave up"};
            }
            std::this_thread::sleep_for(1ms);
        }
        record(false, start);
        response.set_text("slept");
        return {};
    }
    Status Big(ServerContext&, const nk::test::BigRequest& request, nk::test::EchoReply& response) override {
        response.set_text(std::string(static_cast<std::size_t>(request.bytes()), 'b'));
        return {};
    }
    Status Collect(ServerContext& context, ServerReader<nk::test::Chunk>& reader, nk::test::Summary& response) override {
        const auto start = Clock::now();
        nk::test::Chunk chunk;
        bool in_order = true;
        std::int64_t sum = 0;
        int count = 0;
        while (reader.read(chunk)) {
            in_order = in_order && chunk.n() == count;
            sum += chunk.n();
            ++count;
            if (chunk.delay_ms() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(chunk.delay_ms()));
        }
        record(context.cancelled(), start);
        if (context.cancelled()) return {StatusCode::Cancelled, "the client went away"};
        response.set_count(count);
        response.set_sum(sum);
        response.set_in_order(in_order);
        return {};
    }
    Status Chat(ServerContext& context, ServerReaderWriter<nk::test::Chunk, nk::test::Chunk>& stream) override {
        const auto start = Clock::now();
        nk::test::Chunk in, out;
        while (stream.read(in)) {
            if (in.delay_ms() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(in.delay_ms()));
            out.set_data(std::string(static_cast<std::size_t>(in.reply_bytes()), 'r'));
            for (int r = 0; r < std::max(1, in.repeat()); ++r) {
                out.set_n(in.repeat() > 0 ? r : in.n());
                if (!stream.write(out)) {
                    record(context.cancelled(), start);
                    return {StatusCode::Cancelled, "the client went away"};
                }
            }
        }
        record(context.cancelled(), start);
        if (context.cancelled()) return {StatusCode::Cancelled, "the client went away"};
        return {};
    }
    Status Stuck(ServerContext&, const nk::test::SlowRequest& request, nk::test::EchoReply&) override {
        std::this_thread::sleep_for(std::chrono::milliseconds(request.delay_ms()));
        return {};
    }
    Status Throw(ServerContext&, const nk::test::Empty&, nk::test::Empty&) override {
        throw std::runtime_error("sensor bus on fire");
    }
    Status LastCancelled(ServerContext&, const nk::test::Empty&, nk::test::LastSlow& response) override {
        // relaxed: test bookkeeping; the client reads it after the handler it describes has returned.
        response.set_cancelled(last_cancelled_.load(std::memory_order_relaxed));
        response.set_after_ms(last_after_ms_.load(std::memory_order_relaxed));
        return {};
    }

private:
    void record(bool cancelled, Clock::time_point start) {
        last_cancelled_.store(cancelled, std::memory_order_relaxed);
        last_after_ms_.store(ms_since(start), std::memory_order_relaxed);
    }
    std::atomic<bool> last_cancelled_{false};
    std::atomic<int> last_after_ms_{-1};
};

constexpr const char* kPort = "rt.echo";

class RpcTest : public test::SmallPlatformTest {
protected:
    void TearDown() override {
        for (pid_t pid : servers_) stop_server(pid);
    }

    // Forks a process serving Echo on kPort as guest rt; returns once it serves.
    pid_t start_server(ServerOptions options = {.threads = 4}) {
        int ready[2];
        EXPECT_EQ(::pipe(ready), 0);
        const pid_t pid = ::fork();
        if (pid == 0) {
            ::close(ready[0]);
            EchoImpl impl;
            Server server(*rt_guest, kPort, options);
            if (!server.add(impl) || !server.start()) ::_exit(3);
            const char c = 'r';
            if (::write(ready[1], &c, 1) != 1) ::_exit(4);
            for (;;) ::pause();  // until the test kills it
        }
        ::close(ready[1]);
        pollfd fd{ready[0], POLLIN, 0};
        char c = 0;
        const bool up = ::poll(&fd, 1, 10'000) == 1 && ::read(ready[0], &c, 1) == 1;
        ::close(ready[0]);
        EXPECT_TRUE(up) << "the server process did not start";
        servers_.push_back(pid);
        return pid;
    }
    static void stop_server(pid_t pid) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
    }
    std::shared_ptr<Channel> open_channel(const ChannelOptions& options = {}) {
        auto channel = Channel::open(*linux_guest, kPort, options);
        EXPECT_TRUE(channel) << channel.error().message;
        return channel ? *channel : nullptr;
    }

    std::vector<pid_t> servers_;
};

// A frame as a peer that writes nonsense would build it: `header` with the lengths filled in.
std::vector<std::byte> frame_bytes(FrameHeader header, std::string_view reply_to, std::string_view payload) {
    header.reply_to_length = static_cast<std::uint16_t>(reply_to.size());
    header.payload_length = static_cast<std::uint32_t>(payload.size());
    std::vector<std::byte> bytes(sizeof header + reply_to.size() + payload.size());
    write_frame_head(bytes, header, reply_to);
    std::memcpy(bytes.data() + sizeof header + reply_to.size(), payload.data(), payload.size());
    return bytes;
}

}  // namespace
}  // namespace nk::rpc
