// nk::rpc across real processes: unary and server-streaming calls, Asio, the C ABI. The Echo
// service runs in a forked process attached as guest "rt" (echo_fixture.hpp); the test process
// calls it as guest "linux". Client and bidirectional streams: rpc_stream_test.cpp.
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <chrono>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>

#include "echo_fixture.hpp"
#include "nk/rpc/asio_channel.hpp"
#include "nk/rpc/duplex_call.hpp"
#include "nk/rpc/frame.hpp"

namespace nk::rpc {
namespace {

TEST_F(RpcTest, UnaryCallCrossesProcessesAndUnservedMethodsAreUnimplemented) {
    const pid_t server = start_server();
    nk::test::EchoClient client(open_channel());
    nk::test::EchoRequest request;
    request.set_text("hello rt");
    nk::test::EchoReply reply;
    Status status = client.Say(request, reply, 1s);
    ASSERT_TRUE(status.ok()) << status.to_string();
    EXPECT_EQ(reply.text(), "hello rt");
    EXPECT_EQ(reply.server_pid(), server);
    EXPECT_NE(reply.server_pid(), ::getpid());

    nk::test::Empty empty;
    status = client.Unserved(empty, empty, 1s);
    EXPECT_EQ(status.code(), StatusCode::Unimplemented) << status.to_string();
    EXPECT_NE(status.message().find("nk.test.Echo.Unserved is not implemented"), std::string::npos) << status.message();
}

TEST_F(RpcTest, AHandlerThatThrowsEndsItsCallWithInternalAndTheServerGoesOn) {
    start_server();
    nk::test::EchoClient client(open_channel());
    nk::test::Empty empty;
    const Status thrown = client.Throw(empty, empty, 1s);
    EXPECT_EQ(thrown.code(), StatusCode::Internal) << thrown.to_string();
    EXPECT_NE(thrown.message().find("sensor bus on fire"), std::string::npos) << thrown.message();
    nk::test::EchoRequest request;
    request.set_text("after");
    nk::test::EchoReply reply;
    EXPECT_TRUE(client.Say(request, reply, 1s).ok());
}

TEST_F(RpcTest, AServerThatFallsBehindIsBackPressureThenResourceExhausted) {
    // One handler, one queue slot, a request port of 4 KiB: a handler deaf to cancellation fills it.
    start_server({.threads = 1, .queue_limit = 1, .port = {4096, 1024, {}}});
    nk::test::EchoClient client(open_channel());
    nk::test::SlowRequest stuck;
    stuck.set_delay_ms(3000);
    nk::test::EchoReply reply;
    EXPECT_EQ(client.Stuck(stuck, reply, 20ms).code(), StatusCode::DeadlineExceeded);  // the handler stays busy
    nk::test::EchoRequest request;
    request.set_text("queued");
    Status status;
    int calls = 0;
    for (; calls < 500; ++calls) {
        status = client.Say(request, reply, 2ms);
        if (status.code() != StatusCode::DeadlineExceeded) break;
    }
    EXPECT_EQ(status.code(), StatusCode::ResourceExhausted) << status.to_string() << " after " << calls << " calls";
    EXPECT_NE(status.message().find("back-pressure"), std::string::npos) << status.message();
    EXPECT_GT(calls, 5);  // the port took some before it filled
}

TEST_F(RpcTest, ServerStreamDeliversEveryItemInOrderThenOk) {
    start_server();
    nk::test::EchoClient client(open_channel());
    nk::test::CountRequest request;
    request.set_count(500);
    request.set_item_bytes(100);
    CallContext context(5s);
    auto reader = client.Count(request, context);
    nk::test::CountReply item;
    int expected = 0;
    while (reader.read(item)) {
        ASSERT_EQ(item.n(), expected++);
        ASSERT_EQ(item.padding().size(), 100U);
    }
    EXPECT_EQ(expected, 500);
    const Status status = reader.finish();
    EXPECT_TRUE(status.ok()) << status.to_string();
}

TEST_F(RpcTest, AStreamToASlowReaderWaitsForRoomAndLosesNothing) {
    // Reply port of 8 KiB: 30 items of 1 KiB cannot all wait in it, so the server must wait for
    // the reader (back-pressure) rather than drop or fail.
    start_server({.threads = 2, .queue_limit = 8, .port = {16 * 1024, 2048, {}}});
    nk::test::EchoClient client(open_channel({.reply_capacity = 8 * 1024}));
    nk::test::CountRequest request;
    request.set_count(30);
    request.set_item_bytes(1024);
    auto reader = client.Count(request, 10s);
    nk::test::CountReply item;
    int expected = 0;
    while (reader.read(item)) {
        ASSERT_EQ(item.n(), expected++);
        std::this_thread::sleep_for(5ms);
    }
    EXPECT_EQ(expected, 30);
    EXPECT_TRUE(reader.finish().ok());
}

TEST_F(RpcTest, DeadlineEndsTheCallOnTimeAndTheHandlerSeesIt) {
    start_server();
    nk::test::EchoClient client(open_channel());
    nk::test::SlowRequest request;
    request.set_delay_ms(3000);
    nk::test::EchoReply reply;
    const auto start = Clock::now();
    const Status status = client.Slow(request, reply, 100ms);
    const int took = ms_since(start);
    EXPECT_EQ(status.code(), StatusCode::DeadlineExceeded) << status.to_string();
    EXPECT_GE(took, 100);
    EXPECT_LT(took, 500 + kPromptMs);
    // The handler stopped near the deadline, not after its 3 s.
    std::this_thread::sleep_for(50ms);
    nk::test::Empty empty;
    nk::test::LastSlow last;
    ASSERT_TRUE(client.LastCancelled(empty, last, 1s).ok());
    EXPECT_TRUE(last.cancelled());
    EXPECT_LT(last.after_ms(), 1000);
}

TEST_F(RpcTest, CancellingFromAnotherThreadEndsUnaryAndStreamingCalls) {
    start_server();
    nk::test::EchoClient client(open_channel());
    nk::test::SlowRequest slow;
    slow.set_delay_ms(5000);
    nk::test::EchoReply reply;
    CallContext context(10s);
    std::thread canceller([&] {
        std::this_thread::sleep_for(50ms);
        context.cancel();
    });
    const auto start = Clock::now();
    Status status = client.Slow(slow, reply, context);
    canceller.join();
    EXPECT_EQ(status.code(), StatusCode::Cancelled) << status.to_string();
    EXPECT_LT(ms_since(start), 1000);
    nk::test::Empty empty;
    nk::test::LastSlow last;
    for (int i = 0; i < 100 && !last.cancelled(); ++i) {  // the server learns of it by a Cancel frame
        std::this_thread::sleep_for(10ms);
        ASSERT_TRUE(client.LastCancelled(empty, last, 1s).ok());
    }
    EXPECT_TRUE(last.cancelled());
    EXPECT_LT(last.after_ms(), 1500);

    // An endless stream: read a few, cancel; the server's writes start failing and its handler ends.
    nk::test::CountRequest forever;
    forever.set_interval_ms(2);
    auto reader = client.Count(forever, 10s);
    nk::test::CountReply item;
    for (int n = 0; n < 5; ++n) ASSERT_TRUE(reader.read(item));
    reader.cancel();
    EXPECT_FALSE(reader.read(item));
    EXPECT_EQ(reader.finish().code(), StatusCode::Cancelled);
    last.Clear();
    for (int i = 0; i < 100 && !last.cancelled(); ++i) {
        std::this_thread::sleep_for(10ms);
        ASSERT_TRUE(client.LastCancelled(empty, last, 1s).ok());
    }
    EXPECT_TRUE(last.cancelled()) << "the streaming handler never saw the cancellation";
}

TEST_F(RpcTest, KilledServerEndsPendingCallsWithUnavailableAtOnceAndARestartedOneServesTheSameChannel) {
    const pid_t first = start_server();
    auto channel = open_channel();
    nk::test::EchoClient client(channel);
    Status unary, stream;
    Clock::time_point marked_down, ended;  // ended: written by the caller, read after join()
    std::thread caller([&] {
        nk::test::SlowRequest slow;
        slow.set_delay_ms(10'000);
        nk::test::EchoReply reply;
        unary = client.Slow(slow, reply, 20s);
        ended = Clock::now();
    });
    std::thread streamer([&] {
        nk::test::CountRequest forever;
        forever.set_interval_ms(5);
        auto reader = client.Count(forever, 20s);
        nk::test::CountReply item;
        while (reader.read(item)) {
        }
        stream = reader.finish();
    });
    std::this_thread::sleep_for(100ms);
    // What nkd does when a guest dies: its processes are gone and the guest table says down.
    stop_server(first);
    marked_down = Clock::now();
    creator->set_guest_state(2, layout::GuestState::Down, false);
    caller.join();
    streamer.join();
    EXPECT_EQ(unary.code(), StatusCode::Unavailable) << unary.to_string();
    EXPECT_EQ(stream.code(), StatusCode::Unavailable) << stream.to_string();
    EXPECT_GE(ended, marked_down);
    EXPECT_LT(ended - marked_down, std::chrono::milliseconds(kPromptMs)) << "pending calls must end at once, not at their deadline";

    nk::test::EchoRequest hello;
    hello.set_text("anyone?");
    nk::test::EchoReply reply;
    const auto start = Clock::now();
    Status down = client.Say(hello, reply, 2s);
    EXPECT_EQ(down.code(), StatusCode::Unavailable) << down.to_string();
    EXPECT_LT(ms_since(start), kPromptMs);

    // The guest comes back (a new incarnation; nkd reclaims what the old one owned) and serves again.
    ASSERT_TRUE(ipc::Port::remove(*creator, kPort));
    creator->set_guest_state(2, layout::GuestState::Running, true);
    const pid_t second = start_server();
    Status again = client.Say(hello, reply, 2s);
    ASSERT_TRUE(again.ok()) << again.to_string();
    EXPECT_EQ(reply.server_pid(), second);
}

TEST_F(RpcTest, OversizedMessagesAreResourceExhaustedWithBothSizes) {
    start_server();  // request port frames of at most 8 KiB
    auto channel = open_channel();
    nk::test::EchoClient client(channel);
    nk::test::EchoRequest request;
    request.set_text(std::string(20'000, 'x'));
    nk::test::EchoReply reply;
    Status status = client.Say(request, reply, 1s);
    EXPECT_EQ(status.code(), StatusCode::ResourceExhausted) << status.to_string();
    EXPECT_NE(status.message().find("a request of 20004 bytes is larger than the maximum of " +
                                    std::to_string(channel->max_message()) + " bytes"),
              std::string::npos)
        << status.message();

    nk::test::BigRequest big;
    big.set_bytes(20'000);
    status = client.Big(big, reply, 1s);
    EXPECT_EQ(status.code(), StatusCode::ResourceExhausted) << status.to_string();
    EXPECT_NE(status.message().find("a response of 20004 bytes is larger than the maximum of"), std::string::npos)
        << status.message();
    // Just under the limit passes both ways.
    request.set_text(std::string(channel->max_message() - 3, 'y'));
    status = client.Say(request, reply, 1s);
    EXPECT_TRUE(status.ok()) << status.to_string();
    EXPECT_EQ(reply.text().size(), channel->max_message() - 3);
}

TEST_F(RpcTest, MalformedRequestsAreRefusedAndTheServerGoesOn) {
    start_server();
    auto to_server = ipc::PortSender::open(*linux_guest, kPort);
    ASSERT_TRUE(to_server);
    auto replies = ipc::Port::create(*linux_guest, "t.replies", {32 * 1024, 8 * 1024, "rt"});
    ASSERT_TRUE(replies) << replies.error().message;
    const std::uint32_t say = nk::test::EchoService().methods()[0].id;
    // Garbage, a truncated header, a length that lies, an unknown kind: dropped.
    const std::string garbage(100, '\xa5');
    ASSERT_TRUE(to_server->send(std::as_bytes(std::span(garbage)), 1s));
    ASSERT_TRUE(to_server->send(std::as_bytes(std::span(garbage).first(10)), 1s));
    auto lying = frame_bytes({kFrameMagic, kFrameVersion, 1, say, 0, 7, 0, 0, 0, 0}, "t.replies", "abc");
    lying[32] = std::byte{200};  // payload_length
    ASSERT_TRUE(to_server->send(lying, 1s));
    ASSERT_TRUE(to_server->send(frame_bytes({kFrameMagic, kFrameVersion, 99, say, 0, 8, 0, 0, 0, 0}, "t.replies", ""), 1s));
    // A good frame whose payload is not an EchoRequest: that call ends with INVALID_ARGUMENT.
    ASSERT_TRUE(to_server->send(frame_bytes({kFrameMagic, kFrameVersion, 1, say, 0, 9, 0, 0, 0, 0}, "t.replies",
                                            "\xff\xff\xff\xff\xff"),
                                1s));
    std::array<std::byte, 8192> buffer{};
    auto got = replies->receive(buffer, 2s);
    ASSERT_TRUE(got && *got);
    auto frame = parse_frame(std::span(buffer).first(**got));
    ASSERT_TRUE(frame) << frame.error();
    EXPECT_EQ(frame->kind, FrameKind::Reply);
    EXPECT_EQ(frame->header.request_id, 9U);  // nothing was answered for the malformed ones
    EXPECT_EQ(static_cast<StatusCode>(frame->header.status), StatusCode::InvalidArgument);

    nk::test::EchoClient client(open_channel());
    nk::test::EchoRequest request;
    request.set_text("still here");
    nk::test::EchoReply reply;
    ASSERT_TRUE(client.Say(request, reply, 1s).ok());
    EXPECT_EQ(reply.text(), "still here");
}

TEST_F(RpcTest, MalformedRepliesEndOnlyTheCallTheyName) {
    start_server();
    auto channel = open_channel();
    nk::test::EchoClient client(channel);
    auto scribbler = ipc::PortSender::open(*rt_guest, channel->reply_port());  // a peer that writes nonsense
    ASSERT_TRUE(scribbler);
    const std::uint32_t slow_id = nk::test::EchoService().methods()[2].id;
    // Request ids start at 1 per channel: the first call here is 1, the second 2.
    Status first;
    std::thread caller([&] {
        nk::test::SlowRequest slow;
        slow.set_delay_ms(3000);
        nk::test::EchoReply reply;
        first = client.Slow(slow, reply, 10s);
    });
    std::this_thread::sleep_for(50ms);
    auto lying = frame_bytes({kFrameMagic, kFrameVersion, 2, slow_id, 0, 1, 0, 0, 0, 0}, {}, "abc");
    lying[32] = std::byte{99};  // payload_length that disagrees with the bytes
    const auto start = Clock::now();
    ASSERT_TRUE(scribbler->send(lying, 1s));
    caller.join();
    EXPECT_EQ(first.code(), StatusCode::Internal) << first.to_string();
    EXPECT_NE(first.message().find("malformed reply"), std::string::npos) << first.message();
    EXPECT_LT(ms_since(start), 300 + kPromptMs);

    Status second;
    std::thread caller2([&] {
        nk::test::SlowRequest slow;
        slow.set_delay_ms(3000);
        nk::test::EchoReply reply;
        second = client.Slow(slow, reply, 10s);
    });
    std::this_thread::sleep_for(50ms);
    // A well-formed frame whose payload is not an EchoReply.
    ASSERT_TRUE(scribbler->send(frame_bytes({kFrameMagic, kFrameVersion, 2, slow_id, 0, 2, 0, 0, 0, 0}, {}, "\xff\xff\xff"), 1s));
    caller2.join();
    EXPECT_EQ(second.code(), StatusCode::Internal) << second.to_string();
    EXPECT_NE(second.message().find("does not parse as nk.test.EchoReply"), std::string::npos) << second.message();
    // Pure garbage names no call; the channel goes on.
    const std::string garbage(64, '\x5a');
    ASSERT_TRUE(scribbler->send(std::as_bytes(std::span(garbage)), 1s));
    nk::test::EchoRequest request;
    request.set_text("fine");
    nk::test::EchoReply reply;
    Status ok = client.Say(request, reply, 2s);
    EXPECT_TRUE(ok.ok()) << ok.to_string();
    EXPECT_EQ(reply.text(), "fine");
    EXPECT_GE(channel->stats().malformed, 2U);
}

TEST_F(RpcTest, ManyConcurrentCallersInThreadsAndProcessesEachGetTheirOwnAnswers) {
    start_server({.threads = 4});
    const int per_caller = 300 / kScale;
    std::vector<pid_t> children;
    for (int p = 0; p < 2; ++p) {
        const pid_t pid = ::fork();
        if (pid == 0) {
            // Its own attach, as a guest's process has: a forked child shares the parent's descriptions
            // of the area files, and with them its directory lock (OFD locks belong to descriptions),
            // so two children making reply ports at once would not exclude each other.
            const Region mine = test::attach_as_guest(*creator, 1);
            auto channel = Channel::open(mine, kPort);
            if (!channel) ::_exit(2);
            nk::test::EchoClient client(*channel);
            for (int i = 0; i < per_caller; ++i) {
                nk::test::EchoRequest request;
                request.set_text("p" + std::to_string(p) + "-" + std::to_string(i));
                nk::test::EchoReply reply;
                const Status status = client.Say(request, reply, 5s);
                if (!status.ok() || reply.text() != request.text()) {
                    std::fprintf(stderr, "calling process %d, call %d: %s, reply '%s'\n", p, i, status.to_string().c_str(),
                                 reply.text().c_str());
                    ::_exit(1);
                }
            }
            ::_exit(0);
        }
        children.push_back(pid);
    }
    nk::test::EchoClient client(open_channel());
    std::atomic<int> wrong{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < per_caller; ++i) {
                nk::test::EchoRequest request;
                request.set_text("t" + std::to_string(t) + "-" + std::to_string(i));
                nk::test::EchoReply reply;
                const Status status = client.Say(request, reply, 5s);
                if (!status.ok() || reply.text() != request.text()) wrong.fetch_add(1, std::memory_order_relaxed);
            }
        });
    }
    for (auto& thread : threads) thread.join();
    EXPECT_EQ(wrong.load(std::memory_order_relaxed), 0);  // after join()
    for (pid_t pid : children) {
        int status = 0;
        ::waitpid(pid, &status, 0);
        EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "a calling process failed: wait status " << status;
    }
}

// Starts `calls` asynchronous Say calls whose handlers check the echo and count into `answered`.
void say_async(nk::test::EchoAsyncClient& client, int calls, const std::string& prefix, int& answered) {
    for (int i = 0; i < calls; ++i) {
        nk::test::EchoRequest request;
        request.set_text(prefix + std::to_string(i));
        client.Say(request, 2s, [&answered, text = request.text()](Status status, nk::test::EchoReply reply) {
            EXPECT_TRUE(status.ok()) << status.to_string();
            EXPECT_EQ(reply.text(), text);
            ++answered;
        });
    }
}

TEST_F(RpcTest, AsioCallsCompleteOnTheIoContextWithDeadlinesAndCancellation) {
    start_server({.threads = 4});
    asio::io_context io;
    auto channel = AsioChannel::open(io, *linux_guest, kPort);
    ASSERT_TRUE(channel) << channel.error().message;
    nk::test::EchoAsyncClient client(**channel);
    int answered = 0;
    say_async(client, 50, "async ", answered);
    nk::test::SlowRequest slow;
    slow.set_delay_ms(5000);
    Status late, cancelled;
    client.Slow(slow, 100ms, [&](Status status, nk::test::EchoReply) { late = std::move(status); });
    const std::uint64_t id = client.Slow(slow, 5s, [&](Status status, nk::test::EchoReply) { cancelled = std::move(status); });
    ASSERT_NE(id, 0U);
    asio::steady_timer timer(io, 50ms);
    timer.async_wait([&](const std::error_code&) { (*channel)->cancel(id); });
    const auto start = Clock::now();
    io.run();  // returns once every call has ended
    EXPECT_LT(ms_since(start), 1000);
    EXPECT_EQ(answered, 50);
    EXPECT_EQ(late.code(), StatusCode::DeadlineExceeded) << late.to_string();
    EXPECT_EQ(cancelled.code(), StatusCode::Cancelled) << cancelled.to_string();
    EXPECT_EQ((*channel)->pending(), 0U);
}

// Server streams on the io_context: every message in order, then the end, beside unary calls on
// the same channel; cancel() and the deadline end a stream that goes on forever.
TEST_F(RpcTest, AsioStreamsDeliverEveryMessageInOrderThenTheirEnd) {
    start_server({.threads = 4});
    asio::io_context io;
    auto channel = AsioChannel::open(io, *linux_guest, kPort);
    ASSERT_TRUE(channel) << channel.error().message;
    nk::test::EchoAsyncClient client(**channel);

    nk::test::CountRequest count;
    count.set_count(500);
    count.set_item_bytes(64);
    int next = 0;
    bool in_order = true;
    std::optional<Status> counted;
    client.Count(count, 5s, [&](const nk::test::CountReply& item) {
        in_order = in_order && item.n() == next && item.padding().size() == 64;
        ++next;
    }, [&](Status status) { counted = std::move(status); });

    int answered = 0;
    say_async(client, 20, "beside the stream ", answered);

    nk::test::CountRequest endless;
    endless.set_interval_ms(5);
    int before_cancel = 0, before_deadline = 0;
    std::optional<Status> cancelled, late;
    const std::uint64_t id = client.Count(endless, 10s, [&](const nk::test::CountReply&) { ++before_cancel; },
                                          [&](Status status) { cancelled = std::move(status); });
    ASSERT_NE(id, 0U);
    client.Count(endless, 150ms, [&](const nk::test::CountReply&) { ++before_deadline; },
                 [&](Status status) { late = std::move(status); });
    asio::steady_timer timer(io, 100ms);
    timer.async_wait([&](const std::error_code&) { (*channel)->cancel(id); });

    const auto start = Clock::now();
    io.run();  // returns once every call has ended
    EXPECT_LT(ms_since(start), 2000);
    ASSERT_TRUE(counted);
    EXPECT_TRUE(counted->ok()) << counted->to_string();
    EXPECT_EQ(next, 500);
    EXPECT_TRUE(in_order);
    EXPECT_EQ(answered, 20);
    ASSERT_TRUE(cancelled && late);
    EXPECT_EQ(cancelled->code(), StatusCode::Cancelled) << cancelled->to_string();
    EXPECT_EQ(late->code(), StatusCode::DeadlineExceeded) << late->to_string();
    EXPECT_GT(before_cancel, 3);  // it was streaming when it was cancelled
    EXPECT_GT(before_deadline, 3);
    EXPECT_EQ((*channel)->pending(), 0U);

    // The server heard the cancel: its handler stopped, seeing the call cancelled.
    auto sync = Channel::open(*linux_guest, kPort);
    ASSERT_TRUE(sync) << sync.error().message;
    nk::test::EchoClient checker(*sync);
    nk::test::LastSlow last;
    ASSERT_TRUE(test::wait_until([&] {
        return checker.LastCancelled(nk::test::Empty(), last, 1s).ok() && last.cancelled();
    }, 2s, 10ms));
}

// A unary call and a stream pending on the io_context both end with UNAVAILABLE at once when
// the server guest dies.
TEST_F(RpcTest, AsioCallsAndStreamsEndWithUnavailableWhenTheServerGuestDies) {
    const pid_t server = start_server();
    asio::io_context io;
    auto channel = AsioChannel::open(io, *linux_guest, kPort);
    ASSERT_TRUE(channel) << channel.error().message;
    nk::test::EchoAsyncClient client(**channel);
    nk::test::SlowRequest slow;
    slow.set_delay_ms(10'000);
    std::optional<Status> unary, stream;
    client.Slow(slow, 20s, [&](Status s, nk::test::EchoReply) { unary = std::move(s); });
    nk::test::CountRequest endless;
    endless.set_interval_ms(5);
    int items = 0;
    client.Count(endless, 20s, [&](const nk::test::CountReply&) { ++items; }, [&](Status s) { stream = std::move(s); });
    Clock::time_point marked_down;
    asio::steady_timer timer(io, 100ms);
    timer.async_wait([&](const std::error_code&) {
        stop_server(server);
        marked_down = Clock::now();
        creator->set_guest_state(2, layout::GuestState::Down, false);
    });
    io.run();
    ASSERT_TRUE(unary && stream);
    EXPECT_EQ(unary->code(), StatusCode::Unavailable) << unary->to_string();
    EXPECT_EQ(stream->code(), StatusCode::Unavailable) << stream->to_string();
    EXPECT_LT(ms_since(marked_down), kPromptMs);
    EXPECT_GT(items, 3);  // it was streaming when the server went
}

TEST_F(RpcTest, CProgramsServeAndCallThroughTheCAbiWithSerializedBytes) {
    test::GuestProcess server = test::spawn_program(*creator, Identity::guest(2), "nk_rpc_c_peer", {"serve", "rt.c"});
    ASSERT_EQ(server.read_line(), "ready");
    const auto call = [&](const std::string& method, const std::string& text) {
        test::GuestProcess client =
            test::spawn_program(*creator, Identity::guest(1), "nk_rpc_c_peer", {"call", "rt.c", method, text});
        std::string out = client.read_all();
        (void)client.wait();
        return out;
    };
    EXPECT_EQ(call("/c.Text/Upper", "hello from c"), "OK HELLO FROM C\n");
    EXPECT_EQ(call("/c.Text/Refuse", "x").rfind("PERMISSION_DENIED the handler of /c.Text/Refuse returned PERMISSION_DENIED", 0), 0U);
    EXPECT_EQ(call("/c.Text/Missing", "x").rfind("UNIMPLEMENTED", 0), 0U);
    EXPECT_EQ(call("/c.Text/Upper", std::string(100, 'a')),
              "RESOURCE_EXHAUSTED the response of 100 bytes does not fit the buffer of 64\n");
    EXPECT_EQ(call("no-slash", "x").rfind("INVALID_ARGUMENT", 0), 0U);
    // Server streams: a C handler writes, a C client reads, each message as it was written.
    const auto stream = [&](const std::string& text, const std::string& capacity) {
        test::GuestProcess client = test::spawn_program(*creator, Identity::guest(1), "nk_rpc_c_peer",
                                                        {"stream", "rt.c", "/c.Text/Spell", text, capacity});
        std::string out = client.read_all();
        (void)client.wait();
        return out;
    };
    EXPECT_EQ(stream("abc", "64"), "a\nb\nc\nEND OK \n");
    EXPECT_EQ(stream("deny", "64").rfind("d\nEND PERMISSION_DENIED the handler of /c.Text/Spell returned PERMISSION_DENIED", 0), 0U)
        << stream("deny", "64");
    EXPECT_EQ(stream("long", "64"),
              "END RESOURCE_EXHAUSTED a stream message of 100 bytes does not fit the buffer of 64; the stream is cancelled\n");
    // Client streams: C writes, a C handler reads them all and answers once.
    const auto run = [&](std::vector<std::string> args) {
        test::GuestProcess client = test::spawn_program(*creator, Identity::guest(1), "nk_rpc_c_peer", args);
        std::string out = client.read_all();
        (void)client.wait();
        return out;
    };
    EXPECT_EQ(run({"upload", "rt.c", "/c.Text/Join", "one", "two", "three"}), "OK one+two+three\n");
    EXPECT_EQ(run({"upload", "rt.c", "/c.Text/Join"}), "OK \n");  // an empty stream
    EXPECT_EQ(run({"upload", "rt.c", "/c.Text/Join", "a", "deny", "b"}).rfind("PERMISSION_DENIED the handler of /c.Text/Join", 0), 0U);
    EXPECT_EQ(run({"upload", "rt.c", "/c.Text/Join", std::string(30, 'x'), std::string(30, 'y'), "zzzz"})
                  .rfind("RESOURCE_EXHAUSTED the handler of /c.Text/Join returned RESOURCE_EXHAUSTED", 0), 0U);
    // A word longer than the handler's 32-byte buffer is kept, and the handler ends the call.
    EXPECT_EQ(run({"upload", "rt.c", "/c.Text/Join", std::string(40, 'w')}).rfind("RESOURCE_EXHAUSTED", 0), 0U);
    EXPECT_EQ(run({"upload", "rt.c", "/c.Text/Nobody", "x"}).rfind("UNIMPLEMENTED", 0), 0U);
    // Bidi streams: each word answered before the next goes; a reply too big for the buffer is kept.
    EXPECT_EQ(run({"chat", "rt.c", "/c.Text/Shout", "64", "hi", "there"}), "HI\nTHERE\nEND OK \n");
    EXPECT_EQ(run({"chat", "rt.c", "/c.Text/Shout", "6", "twice", "ok"}), "TOO-BIG 10\nTWICETWICE\nOK\nEND OK \n");
    EXPECT_EQ(run({"chat", "rt.c", "/c.Text/Shout", "64", "a", "stop", "b"}).rfind("A\nEND ABORTED the handler of /c.Text/Shout returned ABORTED", 0), 0U)
        << run({"chat", "rt.c", "/c.Text/Shout", "64", "a", "stop", "b"});
    // An Asio stream whose messages do not parse as the type it expects ends with INTERNAL (the
    // C handler spells the request's bytes 08 05 one per message: 08 alone is a varint field
    // with no value).
    {
        asio::io_context io;
        auto asio_channel = AsioChannel::open(io, *linux_guest, "rt.c");
        ASSERT_TRUE(asio_channel) << asio_channel.error().message;
        nk::test::CountRequest spelled_request;
        spelled_request.set_count(5);
        int parsed = 0;
        std::optional<Status> spelled_as_counts;
        (*asio_channel)->async_stream<nk::test::CountReply>(
            method_id("/c.Text/Spell"), spelled_request, 2s, [&](const nk::test::CountReply&) { ++parsed; },
            [&](Status status) { spelled_as_counts = std::move(status); });
        io.run();
        ASSERT_TRUE(spelled_as_counts);
        EXPECT_EQ(spelled_as_counts->code(), StatusCode::Internal) << spelled_as_counts->to_string();
        EXPECT_NE(spelled_as_counts->message().find("does not parse as nk.test.CountReply"), std::string::npos)
            << spelled_as_counts->to_string();
        EXPECT_EQ(parsed, 0);
    }
    // A C++ client calls the C server with the same bytes.
    auto cpp = Channel::open(*linux_guest, "rt.c");
    ASSERT_TRUE(cpp) << cpp.error().message;
    const std::string text = "c++ too";
    std::vector<std::byte> reply;
    CallContext context(1s);
    ASSERT_TRUE((*cpp)->call_bytes(method_id("/c.Text/Upper"), std::as_bytes(std::span(text)), reply, context).ok());
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(reply.data()), reply.size()), "C++ TOO");
    // And reads the C handler's stream.
    CallContext stream_context(1s);
    StreamCall spelled = (*cpp)->start_stream_bytes(method_id("/c.Text/Spell"), std::as_bytes(std::span(text)), stream_context);
    std::string letters;
    std::vector<std::byte> letter;
    while (spelled.read_bytes(letter)) letters.append(reinterpret_cast<const char*>(letter.data()), letter.size());
    EXPECT_TRUE(spelled.finish().ok());
    EXPECT_EQ(letters, text);
    // Its client and bidi handlers, through DuplexCall's byte calls.
    CallContext upload_context(1s);
    DuplexCall joined = (*cpp)->start_duplex(method_id("/c.Text/Join"), RpcKind::ClientStreaming, upload_context);
    for (const std::string word : {"c", "plus", "plus"}) ASSERT_TRUE(joined.write_bytes(std::as_bytes(std::span(word))));
    ASSERT_TRUE(joined.finish_bytes(reply).ok());
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(reply.data()), reply.size()), "c+plus+plus");
    CallContext chat_context(1s);
    DuplexCall shouted = (*cpp)->start_duplex(method_id("/c.Text/Shout"), RpcKind::BidiStreaming, chat_context);
    ASSERT_TRUE(shouted.write_bytes(std::as_bytes(std::span(text))));
    ASSERT_TRUE(shouted.read_bytes(letter));
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(letter.data()), letter.size()), "C++ TOO");
    EXPECT_TRUE(shouted.finish_bytes(reply).ok());
    stop_server(server.pid);
    (void)server.wait();
}

}  // namespace
}  // namespace nk::rpc
