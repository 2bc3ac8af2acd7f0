// Client-streaming and bidirectional calls across real processes: the Echo service's Collect and
// Chat (echo_fixture.hpp) in a forked process attached as guest "rt", called from guest "linux".
// Timing checks are floors or generous ceilings only: this runs on loaded machines.
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "echo_fixture.hpp"
#include "nk/rpc/frame.hpp"

namespace nk::rpc {
namespace {

class RpcStreamTest : public RpcTest {
protected:
    // What the last Collect or Chat handler recorded, once it has returned (it records on its way out).
    nk::test::LastSlow last_handler(nk::test::EchoClient& client) {
        nk::test::Empty empty;
        nk::test::LastSlow last;
        EXPECT_TRUE(client.LastCancelled(empty, last, 2s).ok());
        return last;
    }
    // Polls until the last handler says it saw a cancellation (the server learns by a Cancel frame).
    bool handler_saw_cancel(nk::test::EchoClient& client) {
        return test::wait_until([&] { return last_handler(client).cancelled(); }, 5s, 20ms);
    }
};

nk::test::Chunk chunk(int n, int delay_ms = 0) {
    nk::test::Chunk c;
    c.set_n(n);
    c.set_delay_ms(delay_ms);
    return c;
}

TEST_F(RpcStreamTest, ClientStreamDeliversManyMessagesInOrderThenTheReply) {
    start_server();
    nk::test::EchoClient client(open_channel());
    CallContext context(20s);
    auto upload = client.Collect(context);
    constexpr int kCount = 3000;
    for (int n = 0; n < kCount; ++n) ASSERT_TRUE(upload.write(chunk(n))) << "at message " << n;
    nk::test::Summary summary;
    const Status status = upload.finish(summary);
    ASSERT_TRUE(status.ok()) << status.to_string();
    EXPECT_EQ(summary.count(), kCount);
    EXPECT_EQ(summary.sum(), std::int64_t{kCount} * (kCount - 1) / 2);
    EXPECT_TRUE(summary.in_order());
}

TEST_F(RpcStreamTest, AClientStreamToASlowHandlerWaitsForCreditAndLosesNothing) {
    start_server();
    nk::test::EchoClient client(open_channel());
    auto upload = client.Collect(20s);
    // The handler sleeps 400 ms after the first message: the writer may run at most the window
    // ahead of it, so writing 5 windows' worth takes at least that long, and nothing is dropped.
    const auto start = Clock::now();
    ASSERT_TRUE(upload.write(chunk(0, 400)));
    const int count = 5 * static_cast<int>(kStreamWindow);
    for (int n = 1; n < count; ++n) ASSERT_TRUE(upload.write(chunk(n)));
    EXPECT_GE(ms_since(start), 350) << "the writer did not wait for the handler: the window is not enforced";
    nk::test::Summary summary;
    const Status status = upload.finish(summary);
    ASSERT_TRUE(status.ok()) << status.to_string();
    EXPECT_EQ(summary.count(), count);
    EXPECT_TRUE(summary.in_order());
}

TEST_F(RpcStreamTest, BidiStreamAnswersManyMessagesInOrder) {
    start_server();
    nk::test::EchoClient client(open_channel());
    CallContext context(20s);
    auto chat = client.Chat(context);
    // Batches of 10 out, then their 10 answers back: within the window both ways.
    constexpr int kBatches = 200;
    nk::test::Chunk answer;
    int received = 0;
    for (int b = 0; b < kBatches; ++b) {
        for (int i = 0; i < 10; ++i) ASSERT_TRUE(chat.write(chunk(b * 10 + i)));
        for (int i = 0; i < 10; ++i) {
            ASSERT_TRUE(chat.read(answer)) << "answer " << received;
            ASSERT_EQ(answer.n(), received++);
        }
    }
    ASSERT_TRUE(chat.writes_done());
    EXPECT_FALSE(chat.read(answer));  // the handler returns once our stream ends
    const Status status = chat.finish();
    EXPECT_TRUE(status.ok()) << status.to_string();
    EXPECT_EQ(received, kBatches * 10);
}

TEST_F(RpcStreamTest, ABidiHandlerWritingToASlowReaderWaitsForCreditAndLosesNothing) {
    // A reply port of 64 KiB holds far more than the window of 1 KiB answers: only credit stops the handler.
    start_server();
    auto channel = open_channel();
    nk::test::EchoClient client(channel);
    auto chat = client.Chat(20s);
    nk::test::Chunk many = chunk(0);
    many.set_repeat(300);
    many.set_reply_bytes(1024);
    ASSERT_TRUE(chat.write(many));
    ASSERT_TRUE(chat.writes_done());
    nk::test::Chunk answer;
    int expected = 0;
    while (chat.read(answer)) {
        ASSERT_EQ(answer.n(), expected++);
        ASSERT_EQ(answer.data().size(), 1024U);
        if (expected % 16 == 0) std::this_thread::sleep_for(5ms);
    }
    EXPECT_EQ(expected, 300);
    const Status status = chat.finish();
    EXPECT_TRUE(status.ok()) << status.to_string();
    EXPECT_EQ(channel->stats().malformed, 0U);
}

TEST_F(RpcStreamTest, DeadlineEndsAClientStreamMidwayAndTheHandlerSeesIt) {
    start_server();
    nk::test::EchoClient client(open_channel());
    CallContext context(300ms);
    auto upload = client.Collect(context);
    const auto start = Clock::now();
    int n = 0;
    while (upload.write(chunk(n++, 20)) && ms_since(start) < 10'000) {
    }
    nk::test::Summary summary;
    const Status status = upload.finish(summary);
    EXPECT_EQ(status.code(), StatusCode::DeadlineExceeded) << status.to_string();
    EXPECT_GE(ms_since(start), 250);
    EXPECT_LT(ms_since(start), 5000);
    EXPECT_TRUE(handler_saw_cancel(client)) << "the handler never saw the deadline";
}

TEST_F(RpcStreamTest, ClientCancelEndsABidiStreamAndTheHandlerSeesIt) {
    start_server();
    nk::test::EchoClient client(open_channel());
    CallContext context(20s);
    auto chat = client.Chat(context);
    nk::test::Chunk answer;
    for (int n = 0; n < 5; ++n) {
        ASSERT_TRUE(chat.write(chunk(n)));
        ASSERT_TRUE(chat.read(answer));
    }
    std::thread canceller([&] {
        std::this_thread::sleep_for(50ms);
        context.cancel();
    });
    const auto start = Clock::now();
    EXPECT_FALSE(chat.read(answer));  // nothing comes: the handler waits for our next message
    canceller.join();
    EXPECT_LT(ms_since(start), 5000);
    EXPECT_EQ(chat.finish().code(), StatusCode::Cancelled);
    EXPECT_TRUE(handler_saw_cancel(client)) << "the handler never saw the cancellation";

    // A call that ends well, so that the last handler's record says "not cancelled" again.
    auto clean = client.Collect(5s);
    ASSERT_TRUE(clean.write(chunk(0)));
    nk::test::Summary summary;
    ASSERT_TRUE(clean.finish(summary).ok());
    ASSERT_FALSE(last_handler(client).cancelled());

    // cancel() on the call itself, while the handler is busy writing to us.
    auto second = client.Chat(20s);
    nk::test::Chunk endless = chunk(0);
    endless.set_repeat(1'000'000);
    ASSERT_TRUE(second.write(endless));
    for (int n = 0; n < 50; ++n) ASSERT_TRUE(second.read(answer));
    second.cancel();
    EXPECT_FALSE(second.read(answer));
    EXPECT_EQ(second.finish().code(), StatusCode::Cancelled);
    EXPECT_TRUE(handler_saw_cancel(client));
}

TEST_F(RpcStreamTest, KilledServerEndsClientAndBidiStreamsWithUnavailableAtOnce) {
    const pid_t server = start_server();
    auto channel = open_channel();
    nk::test::EchoClient client(channel);
    Status upload_status, chat_status;
    Clock::time_point upload_ended, chat_ended;  // written by the threads, read after join()
    std::atomic<int> streaming{0};
    std::thread uploader([&] {
        auto upload = client.Collect(30s);
        for (int n = 0; upload.write(chunk(n, 1)); ++n)
            if (n == 10) streaming.fetch_add(1, std::memory_order_relaxed);  // relaxed: a test's progress flag
        nk::test::Summary summary;
        upload_status = upload.finish(summary);
        upload_ended = Clock::now();
    });
    std::thread chatter([&] {
        auto chat = client.Chat(30s);
        nk::test::Chunk endless = chunk(0, 0);
        endless.set_repeat(1'000'000);
        nk::test::Chunk answer;
        bool counted = false;
        if (chat.write(endless)) {
            while (chat.read(answer)) {
                if (!counted && answer.n() == 10) {
                    streaming.fetch_add(1, std::memory_order_relaxed);
                    counted = true;
                }
                std::this_thread::sleep_for(1ms);
            }
        }
        chat_status = chat.finish();
        chat_ended = Clock::now();
    });
    ASSERT_TRUE(test::wait_until([&] { return streaming.load(std::memory_order_relaxed) == 2; }, 10s));
    // What nkd does when a guest dies: its processes are gone and the guest table says down.
    stop_server(server);
    const auto marked_down = Clock::now();
    creator->set_guest_state(2, layout::GuestState::Down, false);
    uploader.join();
    chatter.join();
    EXPECT_EQ(upload_status.code(), StatusCode::Unavailable) << upload_status.to_string();
    EXPECT_EQ(chat_status.code(), StatusCode::Unavailable) << chat_status.to_string();
    EXPECT_LT(upload_ended - marked_down, std::chrono::milliseconds(kPromptMs)) << "must end at once, not at the deadline";
    EXPECT_LT(chat_ended - marked_down, std::chrono::milliseconds(kPromptMs)) << "must end at once, not at the deadline";
}

TEST_F(RpcStreamTest, OversizedStreamMessagesAreResourceExhaustedWithBothSizes) {
    start_server();  // request port frames of at most 8 KiB; the reply port's the same
    auto channel = open_channel();
    nk::test::EchoClient client(channel);
    auto upload = client.Collect(5s);
    ASSERT_TRUE(upload.write(chunk(0)));
    nk::test::Chunk big = chunk(1);
    big.set_data(std::string(20'000, 'x'));
    EXPECT_FALSE(upload.write(big));
    nk::test::Summary summary;
    Status status = upload.finish(summary);
    EXPECT_EQ(status.code(), StatusCode::ResourceExhausted) << status.to_string();
    EXPECT_NE(status.message().find("a stream message of 20006 bytes is larger than the maximum of " +
                                    std::to_string(channel->max_message()) + " bytes"),
              std::string::npos)
        << status.message();

    auto chat = client.Chat(5s);
    nk::test::Chunk wants_big = chunk(0);
    wants_big.set_reply_bytes(20'000);
    ASSERT_TRUE(chat.write(wants_big));
    nk::test::Chunk answer;
    EXPECT_FALSE(chat.read(answer));
    status = chat.finish();
    EXPECT_EQ(status.code(), StatusCode::ResourceExhausted) << status.to_string();
    EXPECT_NE(status.message().find("a response of 20004 bytes is larger than the maximum of"), std::string::npos)
        << status.message();
    // The channel goes on.
    auto again = client.Collect(5s);
    ASSERT_TRUE(again.write(chunk(0)));
    EXPECT_TRUE(again.finish(summary).ok());
    EXPECT_EQ(summary.count(), 1);
}

TEST_F(RpcStreamTest, MalformedStreamFramesEndTheirCallWithAnError) {
    start_server();
    auto to_server = ipc::PortSender::open(*linux_guest, kPort);
    ASSERT_TRUE(to_server);
    auto replies = ipc::Port::create(*linux_guest, "t.replies", {32 * 1024, 8 * 1024, "rt"});
    ASSERT_TRUE(replies) << replies.error().message;
    const std::uint32_t collect = nk::test::EchoService().methods()[8].id;
    ASSERT_EQ(nk::test::EchoService().methods()[8].kind, RpcKind::ClientStreaming);
    const auto kind = [](FrameKind k) { return static_cast<std::uint16_t>(k); };
    std::array<std::byte, 8192> buffer{};
    const auto next_reply = [&]() -> Frame {
        auto got = replies->receive(buffer, 5s);
        EXPECT_TRUE(got && *got);
        if (!got || !*got) return {};
        auto frame = parse_frame(std::span(buffer).first(**got));
        EXPECT_TRUE(frame) << frame.error();
        return frame ? *frame : Frame{};
    };
    // A stream message that is not a Chunk: the call ends with INVALID_ARGUMENT.
    ASSERT_TRUE(to_server->send(frame_bytes({kFrameMagic, kFrameVersion, kind(FrameKind::Request), collect, 0, 1, 0, 0, 0, 0},
                                            "t.replies", ""),
                                1s));
    ASSERT_TRUE(to_server->send(frame_bytes({kFrameMagic, kFrameVersion, kind(FrameKind::ClientItem), collect, 0, 1, 0, 0, 0, 0},
                                            "t.replies", "\xff\xff\xff"),
                                1s));
    Frame reply = next_reply();
    EXPECT_EQ(reply.kind, FrameKind::Reply);
    EXPECT_EQ(reply.header.request_id, 1U);
    EXPECT_EQ(static_cast<StatusCode>(reply.header.status), StatusCode::InvalidArgument);
    EXPECT_NE(std::string(reinterpret_cast<const char*>(reply.payload.data()), reply.payload.size()).find("does not parse"),
              std::string::npos);

    // More messages than the window without waiting for credit, to a handler that sleeps on the
    // first: the call ends with INVALID_ARGUMENT, and the server holds no more than the window.
    ASSERT_TRUE(to_server->send(frame_bytes({kFrameMagic, kFrameVersion, kind(FrameKind::Request), collect, 0, 2, 0, 0, 0, 0},
                                            "t.replies", ""),
                                1s));
    std::string first;
    ASSERT_TRUE(chunk(0, 300).SerializeToString(&first));
    ASSERT_TRUE(to_server->send(frame_bytes({kFrameMagic, kFrameVersion, kind(FrameKind::ClientItem), collect, 0, 2, 0, 0, 0, 0},
                                            "t.replies", first),
                                1s));
    for (std::uint32_t n = 1; n <= kStreamWindow + 4; ++n) {
        std::string item;
        ASSERT_TRUE(chunk(static_cast<int>(n)).SerializeToString(&item));
        ASSERT_TRUE(to_server->send(frame_bytes({kFrameMagic, kFrameVersion, kind(FrameKind::ClientItem), collect, 0, 2, 0, 0, 0, 0},
                                                "t.replies", item),
                                    1s));
    }
    do reply = next_reply();
    while (reply.kind == FrameKind::ServerCredit);  // the handler may have credited a batch before it broke
    EXPECT_EQ(reply.kind, FrameKind::Reply);
    EXPECT_EQ(reply.header.request_id, 2U);
    EXPECT_EQ(static_cast<StatusCode>(reply.header.status), StatusCode::InvalidArgument);
    EXPECT_NE(std::string(reinterpret_cast<const char*>(reply.payload.data()), reply.payload.size()).find("beyond its credit"),
              std::string::npos);

    // A malformed frame naming a running bidi call on its reply port: that call ends with INTERNAL.
    auto channel = open_channel();
    nk::test::EchoClient client(channel);
    auto chat = client.Chat(10s);
    nk::test::Chunk answer;
    ASSERT_TRUE(chat.write(chunk(0)));
    ASSERT_TRUE(chat.read(answer));
    auto scribbler = ipc::PortSender::open(*rt_guest, channel->reply_port());
    ASSERT_TRUE(scribbler);
    const std::uint32_t chat_id = nk::test::EchoService().methods()[9].id;
    // Request ids start at 1 per channel: this chat is call 1. A credit of 0 is not a credit.
    std::array<std::byte, kCreditPayload> zero{};
    ASSERT_TRUE(scribbler->send(frame_bytes({kFrameMagic, kFrameVersion, kind(FrameKind::ServerCredit), chat_id, 0, 1, 0, 0, 0, 0},
                                            {}, std::string_view(reinterpret_cast<const char*>(zero.data()), zero.size())),
                                1s));
    EXPECT_FALSE(chat.read(answer));
    const Status status = chat.finish();
    EXPECT_EQ(status.code(), StatusCode::Internal) << status.to_string();
    EXPECT_NE(status.message().find("malformed reply"), std::string::npos) << status.message();
    // The channel and the server go on.
    auto upload = client.Collect(5s);
    ASSERT_TRUE(upload.write(chunk(0)));
    nk::test::Summary summary;
    EXPECT_TRUE(upload.finish(summary).ok());
}

TEST_F(RpcStreamTest, ManyConcurrentStreamsInThreadsAndProcessesEachGetTheirOwnMessages) {
    start_server({.threads = 2, .stream_threads = 10});
    const int per_stream = 400 / kScale;
    std::vector<pid_t> children;
    for (int p = 0; p < 2; ++p) {
        const pid_t pid = ::fork();
        if (pid == 0) {
            // Its own attach (a forked child shares the parent's area descriptions and so its
            // directory lock: see RpcTest.ManyConcurrentCallers...).
            const Region mine = test::attach_as_guest(*creator, 1);
            auto channel = Channel::open(mine, kPort);
            if (!channel) ::_exit(2);
            nk::test::EchoClient client(*channel);
            auto upload = client.Collect(60s);
            for (int n = 0; n < per_stream; ++n)
                if (!upload.write(chunk(n))) ::_exit(3);
            nk::test::Summary summary;
            if (!upload.finish(summary).ok() || summary.count() != per_stream || !summary.in_order()) ::_exit(1);
            ::_exit(0);
        }
        children.push_back(pid);
    }
    auto channel = open_channel();
    std::atomic<int> wrong{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
        threads.emplace_back([&, t] {
            nk::test::EchoClient client(channel);  // one channel, eight streams at once
            auto chat = client.Chat(60s);
            nk::test::Chunk answer;
            for (int n = 0; n < per_stream; ++n) {
                nk::test::Chunk mine = chunk(t * 100'000 + n);
                if (!chat.write(mine) || !chat.read(answer) || answer.n() != mine.n()) {
                    wrong.fetch_add(1, std::memory_order_relaxed);  // relaxed: read after join()
                    return;
                }
            }
            if (!chat.writes_done() || !chat.finish().ok()) wrong.fetch_add(1, std::memory_order_relaxed);
        });
    }
    for (auto& thread : threads) thread.join();
    EXPECT_EQ(wrong.load(std::memory_order_relaxed), 0);
    for (pid_t pid : children) {
        int status = 0;
        ::waitpid(pid, &status, 0);
        EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "a streaming process failed: " << status;
    }
}

TEST_F(RpcStreamTest, AStreamBeyondTheServersStreamThreadsIsRefusedAtOnce) {
    start_server({.threads = 1, .stream_threads = 1});
    nk::test::EchoClient client(open_channel());
    auto first = client.Chat(10s);
    nk::test::Chunk answer;
    ASSERT_TRUE(first.write(chunk(0)));
    ASSERT_TRUE(first.read(answer));  // it holds the one stream thread now
    auto second = client.Collect(10s);
    const auto start = Clock::now();
    (void)second.write(chunk(0));
    nk::test::Summary summary;
    const Status refused = second.finish(summary);
    EXPECT_EQ(refused.code(), StatusCode::ResourceExhausted) << refused.to_string();
    EXPECT_NE(refused.message().find("stream threads"), std::string::npos) << refused.message();
    EXPECT_LT(ms_since(start), 5000);
    // Unary calls run on their own threads meanwhile.
    nk::test::EchoRequest request;
    request.set_text("still served");
    nk::test::EchoReply reply;
    EXPECT_TRUE(client.Say(request, reply, 5s).ok());
    ASSERT_TRUE(first.writes_done());
    EXPECT_TRUE(first.finish().ok());
}

}  // namespace
}  // namespace nk::rpc
