#include <cstring>

#include <gtest/gtest.h>

#include "nk/ipc/segment.hpp"
#include "test_platform.hpp"

namespace nk::ipc {
namespace {

using SegmentTest = test::SmallPlatformTest;

TEST_F(SegmentTest, SegmentInTheLinkIsSharedByItsTwoGuestsOnly) {
    auto made = Segment::create(*linux_guest, "greeting", 100, "rt");
    ASSERT_TRUE(made) << made.error().message;
    EXPECT_EQ(made->info().area_label, "link.linux-rt");
    std::memcpy(made->bytes().data(), "hi rt", 6);
    auto seen = Segment::open(*rt_guest, "greeting", Rights::Read);
    ASSERT_TRUE(seen) << seen.error().message;
    EXPECT_STREQ(reinterpret_cast<const char*>(seen->bytes().data()), "hi rt");
    EXPECT_FALSE(seen->writable());
    auto outsider = Segment::open(*mon_guest, "greeting", Rights::Read);
    ASSERT_FALSE(outsider);
    EXPECT_EQ(outsider.error().code, make_error_code(RegionError::NotFound));
}

TEST_F(SegmentTest, SegmentInTheCommonAreaIsSharedByEveryGuest) {
    auto made = Segment::create(*mon_guest, "status", 4096);
    ASSERT_TRUE(made) << made.error().message;
    EXPECT_EQ(made->info().area_label, "common");
    EXPECT_TRUE(Segment::open(*linux_guest, "status"));
    EXPECT_TRUE(Segment::open(*rt_guest, "status"));
}

TEST_F(SegmentTest, CreatingTowardAGuestWithoutALinkIsRefused) {
    auto made = Segment::create(*mon_guest, "x", 4096, "rt");
    ASSERT_FALSE(made);
    EXPECT_EQ(made.error().code, make_error_code(RegionError::AccessDenied));
    EXPECT_NE(made.error().message.find("no link"), std::string::npos) << made.error().message;
}

TEST_F(SegmentTest, AccessRuleRefusalNamesTheRuleAndItsLine) {
    ASSERT_TRUE(Segment::create(*linux_guest, "secret.key", 4096, "rt"));
    auto refused = Segment::open(*rt_guest, "secret.key", Rights::Read);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code, make_error_code(RegionError::AccessDenied));
    EXPECT_NE(refused.error().message.find("access rule 1"), std::string::npos) << refused.error().message;
    EXPECT_NE(refused.error().message.find("test.toml:"), std::string::npos) << refused.error().message;

    ASSERT_TRUE(Segment::create(*linux_guest, "ro.table", 4096, "rt"));
    EXPECT_TRUE(Segment::open(*rt_guest, "ro.table", Rights::Read));
    auto write = Segment::open(*rt_guest, "ro.table", Rights::ReadWrite);
    ASSERT_FALSE(write);
    EXPECT_NE(write.error().message.find("access rule 2"), std::string::npos) << write.error().message;
    EXPECT_FALSE(Segment::create(*rt_guest, "ro.mine", 4096, "linux"));
}

TEST_F(SegmentTest, OnlyTheOwnerOrTheOperatorRemovesASegment) {
    ASSERT_TRUE(Segment::create(*linux_guest, "owned", 4096, "rt"));
    auto by_peer = Segment::remove(*rt_guest, "owned");
    ASSERT_FALSE(by_peer);
    EXPECT_EQ(by_peer.error().code, make_error_code(RegionError::AccessDenied));
    ASSERT_TRUE(Segment::remove(*linux_guest, "owned"));
    EXPECT_FALSE(Segment::open(*rt_guest, "owned"));
}

TEST_F(SegmentTest, ListShowsSegmentsOfEveryHeldArea) {
    ASSERT_TRUE(Segment::create(*linux_guest, "one", 4096, "rt"));
    ASSERT_TRUE(Segment::create(*linux_guest, "two", 4096));
    auto listed = Segment::list(*creator);
    ASSERT_TRUE(listed);
    ASSERT_EQ(listed->size(), 2U);
    auto mon_view = Segment::list(*mon_guest);
    ASSERT_TRUE(mon_view);
    ASSERT_EQ(mon_view->size(), 1U);
    EXPECT_EQ(mon_view->front().object.name, "two");
}

}  // namespace
}  // namespace nk::ipc
