#include <cstring>
#include <map>
#include <random>

#include <gtest/gtest.h>

#include "nk/ipc/pnv.hpp"
#include "nk/nanokernel/directory.hpp"
#include "test_platform.hpp"

namespace nk::pnv {
namespace {

class PnvTest : public ::testing::Test {
protected:
    void SetUp() override {
        auto created = Region::create(test::small_platform());
        ASSERT_TRUE(created) << created.error().message;
        creator.emplace(std::move(*created));
        rt.emplace(attach_as(2));
    }
    Region attach_as(std::uint16_t id) { return test::attach_as_guest(*creator, id); }
    std::optional<Region> creator, rt;
};

TEST_F(PnvTest, SameIdGetsTheSameOffsetAndBytesAfterReattach) {
    std::uint64_t offset = 0;
    {
        auto first = attach(*rt, "controller.state", 5000);
        ASSERT_TRUE(first) << first.error().message;
        EXPECT_TRUE(first->fresh);
        offset = first->offset;
        std::memcpy(first->bytes.data(), "kept", 5);
    }
    rt.reset();  // the process's view goes away, as at a restart
    rt.emplace(attach_as(2));
    auto again = attach(*rt, "controller.state", 5000);
    ASSERT_TRUE(again);
    EXPECT_FALSE(again->fresh);
    EXPECT_EQ(again->offset, offset);
    EXPECT_STREQ(reinterpret_cast<const char*>(again->bytes.data()), "kept");
    EXPECT_EQ(again->attach_count, 1U);
}

TEST_F(PnvTest, OnlyAGuestHasPnvMemory) {
    auto refused = attach(*creator, "x", 4096);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code, make_error_code(RegionError::InvalidArgument));
}

TEST_F(PnvTest, OperatorFreesAGuestsAllocation) {
    ASSERT_TRUE(attach(*rt, "log", 4096));
    auto fds = creator->export_fds(Identity::operator_());
    ASSERT_TRUE(fds);
    auto op = Region::attach(std::move(*fds), Identity::operator_());
    ASSERT_TRUE(op) << op.error().message;
    auto listed = list(*op);
    ASSERT_TRUE(listed);
    ASSERT_EQ(listed->size(), 1U);
    EXPECT_EQ(listed->front().guest, "rt");
    ASSERT_TRUE(free(*op, "rt", "log"));
    auto fresh = attach(*rt, "log", 4096);
    ASSERT_TRUE(fresh);
    EXPECT_TRUE(fresh->fresh);
}

TEST_F(PnvTest, ThousandsOfRandomAttachAndFreeCyclesLeakNothing) {
    const auto pnv_area = rt->guest(2)->pnv_area;
    auto before = Directory(*rt, pnv_area).usage();
    ASSERT_TRUE(before);
    std::mt19937 random(12345);
    std::map<std::string, std::uint64_t> live;  // id -> size
    for (int cycle = 0; cycle < 5000; ++cycle) {
        const std::string id = "id" + std::to_string(random() % 24);
        const auto it = live.find(id);
        if (it != live.end() && random() % 2 == 0) {
            ASSERT_TRUE(free(*rt, id)) << cycle;
            live.erase(it);
            continue;
        }
        const std::uint64_t size = it != live.end() ? it->second : 4096 * (1 + random() % 4);
        auto got = attach(*rt, id, size);
        if (!got) {
            // The area is small on purpose: running out is a clean NoSpace, never corruption.
            ASSERT_EQ(got.error().code, make_error_code(RegionError::NoSpace)) << got.error().message;
            continue;
        }
        EXPECT_EQ(got->fresh, it == live.end());
        std::memset(got->bytes.data(), cycle & 0xff, got->bytes.size());
        live[id] = size;
    }
    for (const auto& [id, size] : live) ASSERT_TRUE(free(*rt, id));
    auto after = Directory(*rt, pnv_area).usage();
    ASSERT_TRUE(after);
    EXPECT_EQ(after->entries_used, 0U);
    EXPECT_EQ(after->used_bytes, 0U);
    EXPECT_EQ(after->largest_free, before->largest_free);
    EXPECT_EQ(after->largest_free, after->data_bytes);
}

}  // namespace
}  // namespace nk::pnv
