// Typed topics (bindings/include/nk/rpc/topic.hpp): one publisher, subscribers in several
// processes and guests, drops for a slow subscriber only, slots, a down publisher, bad bytes.
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "nk/rpc/topic.hpp"
#include "nk/test/echo.pb.h"
#include "test_platform.hpp"

namespace nk::rpc {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using Item = nk::test::CountReply;

Item item(int n) {
    Item m;
    m.set_n(n);
    m.set_padding("reading " + std::to_string(n));
    return m;
}

class TopicTest : public test::SmallPlatformTest {
protected:
    Publisher<Item> publisher(const TopicOptions& options = {.slots = 8, .max_message = 512, .where = {}}) {
        auto made = Publisher<Item>::create(*rt_guest, "topic.items", options);
        EXPECT_TRUE(made) << made.error().message;
        return std::move(*made);
    }
    static TopicSubscriber::Options inbox(std::uint32_t capacity) { return {.inbox_capacity = capacity, .inbox_prefix = "topic.in"}; }
};

TEST_F(TopicTest, EverySubscriberInAnyProcessAndGuestGetsEveryMessageInOrder) {
    auto topic = publisher();
    constexpr int kMessages = 1000;
    int ready[2];
    ASSERT_EQ(::pipe(ready), 0);
    const pid_t child = ::fork();
    if (child == 0) {
        ::close(ready[0]);
        auto sub = Subscriber<Item>::open(*linux_guest, "topic.items", inbox(64 * 1024));
        if (!sub) ::_exit(2);
        if (::write(ready[1], "r", 1) != 1) ::_exit(3);
        Item got;
        for (int n = 0; n < kMessages; ++n) {
            if (!sub->next(got, 5s).ok() || got.n() != n || got.padding() != "reading " + std::to_string(n)) ::_exit(1);
        }
        ::_exit(sub->lost() == 0 ? 0 : 4);
    }
    ::close(ready[1]);
    pollfd fd{ready[0], POLLIN, 0};
    char c = 0;
    ASSERT_TRUE(::poll(&fd, 1, 5000) == 1 && ::read(ready[0], &c, 1) == 1);
    ::close(ready[0]);
    auto same_guest = Subscriber<Item>::open(*rt_guest, "topic.items", inbox(64 * 1024));   // the publisher's guest
    auto other_guest = Subscriber<Item>::open(*mon_guest, "topic.items", inbox(64 * 1024));  // no link to rt: common area
    ASSERT_TRUE(same_guest) << same_guest.error().message;
    ASSERT_TRUE(other_guest) << other_guest.error().message;
    std::vector<int> seen_same, seen_other;
    std::thread reader([&] {
        Item got;
        for (int n = 0; n < kMessages; ++n) {
            if (same_guest->next(got, 5s).ok()) seen_same.push_back(got.n());
            if (other_guest->next(got, 5s).ok()) seen_other.push_back(got.n());
        }
    });
    for (int n = 0; n < kMessages; ++n) {
        ASSERT_TRUE(topic.publish(item(n)).ok());
        if (n % 50 == 49) std::this_thread::sleep_for(2ms);  // the inboxes hold ~1000 of these; stay well below
    }
    reader.join();
    EXPECT_EQ(topic.subscribers(), 3U);
    EXPECT_EQ(topic.stats().dropped, 0U);
    ASSERT_EQ(seen_same.size(), static_cast<std::size_t>(kMessages));
    ASSERT_EQ(seen_other.size(), static_cast<std::size_t>(kMessages));
    for (int n = 0; n < kMessages; ++n) {
        ASSERT_EQ(seen_same[static_cast<std::size_t>(n)], n);
        ASSERT_EQ(seen_other[static_cast<std::size_t>(n)], n);
    }
    int status = 0;
    ::waitpid(child, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the subscriber process saw a gap or a wrong message";
}

TEST_F(TopicTest, ASlowSubscriberLosesMessagesAndSeesTheGapWhileOthersLoseNothing) {
    auto topic = publisher();
    auto slow = Subscriber<Item>::open(*linux_guest, "topic.items", inbox(4 * 1024));
    auto fast = Subscriber<Item>::open(*linux_guest, "topic.items", inbox(32 * 1024));
    ASSERT_TRUE(slow && fast);
    for (int n = 0; n < 200; ++n) ASSERT_TRUE(topic.publish(item(n)).ok());  // never blocks
    EXPECT_GT(topic.stats().dropped, 0U);
    Item got;
    for (int n = 0; n < 200; ++n) {
        ASSERT_TRUE(fast->next(got, 1s).ok());
        ASSERT_EQ(got.n(), n);
    }
    int read = 0;
    while (slow->next(got, 10ms).ok()) ++read;
    EXPECT_LT(read, 200);
    ASSERT_TRUE(topic.publish(item(200)).ok());
    ASSERT_TRUE(slow->next(got, 1s).ok());
    EXPECT_EQ(got.n(), 200);
    EXPECT_EQ(slow->lost(), 200U - static_cast<unsigned>(read));
    EXPECT_EQ(slow->lost(), topic.stats().dropped);
    EXPECT_EQ(fast->lost(), 0U);
}

TEST_F(TopicTest, SlotsAreReusedTypesMustMatchAndADownPublisherIsUnavailable) {
    auto topic = publisher({.slots = 2, .max_message = 256, .where = {}});
    auto wrong = Subscriber<nk::test::EchoReply>::open(*linux_guest, "topic.items");
    ASSERT_FALSE(wrong);
    EXPECT_NE(wrong.error().message.find("carries nk.test.CountReply, not nk.test.EchoReply"), std::string::npos)
        << wrong.error().message;
    std::optional<Subscriber<Item>> a(*Subscriber<Item>::open(*linux_guest, "topic.items", inbox(8192)));
    auto b = Subscriber<Item>::open(*linux_guest, "topic.items", inbox(8192));
    ASSERT_TRUE(b);
    auto c = Subscriber<Item>::open(*linux_guest, "topic.items", inbox(8192));
    ASSERT_FALSE(c);
    EXPECT_EQ(c.error().code, make_error_code(RegionError::NoSpace));
    a.reset();  // frees its slot
    auto d = Subscriber<Item>::open(*linux_guest, "topic.items", inbox(8192));
    ASSERT_TRUE(d) << d.error().message;
    ASSERT_TRUE(topic.publish(item(1)).ok());
    EXPECT_EQ(topic.subscribers(), 2U);
    Item got;
    EXPECT_TRUE(d->next(got, 1s).ok());
    Item big;
    big.set_padding(std::string(300, 'x'));
    const Status too_big = topic.publish(big);
    EXPECT_EQ(too_big.code(), StatusCode::ResourceExhausted);
    EXPECT_NE(too_big.message().find("is larger than topic 'topic.items''s maximum of 256"), std::string::npos)
        << too_big.message();

    creator->set_guest_state(2, layout::GuestState::Down, false);
    const auto start = Clock::now();
    const Status down = b->next(got, 5s);
    EXPECT_EQ(down.code(), StatusCode::Unavailable) << down.to_string();
    EXPECT_LT(Clock::now() - start, 500ms);  // at once: the timeout is 5 s
}

TEST_F(TopicTest, AScribbledSlotIsSkippedAndMalformedMessagesAreAnErrorForThatRead) {
    auto topic = publisher();
    auto good = Subscriber<Item>::open(*linux_guest, "topic.items", inbox(8192));
    auto victim = Subscriber<Item>::open(*linux_guest, "topic.items", inbox(8192));
    ASSERT_TRUE(good && victim);
    // A peer scribbles over the second slot's inbox name: no NUL, not printable.
    auto view = ipc::Segment::open(*linux_guest, "topic.items");
    ASSERT_TRUE(view);
    auto* slots = reinterpret_cast<TopicSlot*>(view->bytes().data() + kTopicSlotsOffset);
    std::memset(slots[1].inbox, 0xee, sizeof slots[1].inbox);
    ASSERT_TRUE(topic.publish(item(7)).ok());
    Item got;
    ASSERT_TRUE(good->next(got, 1s).ok());
    EXPECT_EQ(got.n(), 7);
    EXPECT_EQ(victim->next(got, 20ms).code(), StatusCode::DeadlineExceeded);
    // Bytes that are not a topic message, straight into an inbox: that read fails, the next works.
    std::string name;
    for (std::uint32_t i = 0; i < 8; ++i) {
        if (slots[i].inbox[0] == 't') {
            name = std::string(slots[i].inbox);
            break;
        }
    }
    ASSERT_FALSE(name.empty());
    auto scribbler = ipc::PortSender::open(*rt_guest, name);
    ASSERT_TRUE(scribbler) << scribbler.error().message;
    const std::string garbage(40, '\x11');
    ASSERT_TRUE(scribbler->send(std::as_bytes(std::span(garbage)), 1s));
    EXPECT_EQ(good->next(got, 1s).code(), StatusCode::Internal);
    ASSERT_TRUE(topic.publish(item(8)).ok());
    ASSERT_TRUE(good->next(got, 1s).ok());
    EXPECT_EQ(got.n(), 8);
}

}  // namespace
}  // namespace nk::rpc
