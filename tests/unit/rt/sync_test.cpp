// Event flags and mailboxes between the executive's tasks (threads of the rt guest here).
#include <atomic>
#include <chrono>
#include <thread>

#include <gtest/gtest.h>

#include "nk/nanokernel/region_error.hpp"
#include "nk/rt/event_flags.hpp"
#include "nk/rt/mailbox.hpp"
#include "test_platform.hpp"

namespace nk::rt {
namespace {

using namespace std::chrono_literals;
using Sync = test::SmallPlatformTest;

TEST_F(Sync, EventFlagsWaitForAnyOrAllAndTakeOnlyWhatWasAskedFor) {
    auto flags = EventFlags::create(*rt_guest, "flags.a");
    ASSERT_TRUE(flags) << flags.error().message;
    auto timed_out = flags->wait_for(0x1, FlagWait::Any, 5ms);
    ASSERT_TRUE(timed_out);
    EXPECT_EQ(*timed_out, 0U);
    ASSERT_TRUE(flags->set(0x1 | 0x4));
    auto any = flags->wait_for(0x1 | 0x2, FlagWait::Any, 1s);
    ASSERT_TRUE(any);
    EXPECT_EQ(*any, 0x1U);
    EXPECT_EQ(flags->peek(), 0x4U) << "a bit not asked for stays";
    std::thread setter([&] {
        auto other = EventFlags::open(*rt_guest, "flags.a");
        ASSERT_TRUE(other);
        std::this_thread::sleep_for(10ms);
        ASSERT_TRUE(other->set(0x2));
        std::this_thread::sleep_for(10ms);
        ASSERT_TRUE(other->set(0x8));
    });
    auto all = flags->wait_for(0x2 | 0x8, FlagWait::All, 2s);
    setter.join();
    ASSERT_TRUE(all);
    EXPECT_EQ(*all, 0xaU) << "All waits for both bits";
    EXPECT_EQ(flags->peek(), 0x4U);
}

TEST_F(Sync, EventFlagsLoseNoWakeUpBetweenTwoThreads) {
    auto flags = EventFlags::create(*rt_guest, "flags.b");
    ASSERT_TRUE(flags);
    constexpr int kRounds = 2000;
    std::atomic<int> acked{0};
    std::thread peer([&] {
        auto other = EventFlags::open(*rt_guest, "flags.b");
        ASSERT_TRUE(other);
        for (int i = 0; i < kRounds; ++i) {
            ASSERT_TRUE(other->set(0x1));
            while (acked.load() <= i) std::this_thread::yield();
        }
    });
    int got = 0;
    for (int i = 0; i < kRounds; ++i) {
        auto bits = flags->wait_for(0x1, FlagWait::Any, 5s);
        ASSERT_TRUE(bits);
        if (*bits == 0x1) ++got;
        acked.store(i + 1);
    }
    peer.join();
    EXPECT_EQ(got, kRounds);
}

TEST_F(Sync, MailboxDeliversInOrderRefusesWhenFullAndTimesOut) {
    struct Message {
        std::uint32_t seq, value;
    };
    auto box = Mailbox::create(*rt_guest, "mbox.a", sizeof(Message), 4);
    ASSERT_TRUE(box) << box.error().message;
    Message m{};
    auto empty = box->receive_value_for(m, 5ms);
    ASSERT_TRUE(empty);
    EXPECT_FALSE(*empty);
    for (std::uint32_t i = 0; i < 4; ++i) ASSERT_TRUE(box->send_value(Message{i, i * 10}));
    auto full = box->send_value(Message{9, 9});
    ASSERT_FALSE(full);
    EXPECT_EQ(full.error().code, make_error_code(RegionError::NoSpace));
    for (std::uint32_t i = 0; i < 4; ++i) {
        auto got = box->receive_value_for(m, 1s);
        ASSERT_TRUE(got && *got);
        EXPECT_EQ(m.seq, i);
        EXPECT_EQ(m.value, i * 10);
    }
    // Many senders, one receiver that sleeps between messages: none is lost.
    constexpr std::uint32_t kPerSender = 500;
    std::vector<std::thread> senders;
    for (std::uint32_t s = 0; s < 3; ++s)
        senders.emplace_back([&, s] {
            auto mine = Mailbox::open(*rt_guest, "mbox.a", sizeof(Message));
            ASSERT_TRUE(mine);
            for (std::uint32_t i = 0; i < kPerSender;) {
                if (mine->send_value(Message{s, i})) ++i;
                else std::this_thread::sleep_for(50us);
            }
        });
    std::uint32_t next[3] = {0, 0, 0};
    for (std::uint32_t n = 0; n < 3 * kPerSender; ++n) {
        auto got = box->receive_value_for(m, 5s);
        ASSERT_TRUE(got && *got) << "after " << n << " messages";
        ASSERT_LT(m.seq, 3U);
        EXPECT_EQ(m.value, next[m.seq]++) << "each sender's messages arrive in order";
    }
    for (auto& t : senders) t.join();
    EXPECT_TRUE(box->send_value(Message{})) << "room again";
}

}  // namespace
}  // namespace nk::rt
