#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "nk/nanokernel/area_lock.hpp"
#include "nk/nanokernel/directory.hpp"
#include "test_platform.hpp"

namespace nk {
namespace {

using layout::ObjectKind;

class DirectoryTest : public ::testing::Test {
protected:
    void SetUp() override {
        auto created = Region::create(test::small_platform());
        ASSERT_TRUE(created) << created.error().message;
        region.emplace(std::move(*created));
        common = region->common_area();
    }
    Directory directory() const { return Directory(*region, common->index); }
    layout::AreaHeader& header() const {
        return *reinterpret_cast<layout::AreaHeader*>(region->base() + common->offset);
    }

    std::optional<Region> region;
    const AreaInfo* common = nullptr;
};

TEST_F(DirectoryTest, CreatedObjectIsFoundListedAndRemoved) {
    auto made = directory().create("frames", ObjectKind::Segment, 10000, 1, 7);
    ASSERT_TRUE(made) << made.error().message;
    EXPECT_EQ(made->size, 12288U);  // rounded up to pages
    EXPECT_EQ(made->area_offset % 4096, 0U);
    EXPECT_TRUE(made->created_now);
    auto found = directory().find("frames");
    ASSERT_TRUE(found);
    EXPECT_EQ(found->area_offset, made->area_offset);
    EXPECT_EQ(found->owner_guest, 1);
    EXPECT_EQ(found->owner_incarnation, 7U);
    auto listed = directory().list();
    ASSERT_TRUE(listed);
    ASSERT_EQ(listed->size(), 1U);
    EXPECT_EQ(listed->front().name, "frames");
    ASSERT_TRUE(directory().remove("frames"));
    EXPECT_EQ(directory().find("frames").error().code, make_error_code(RegionError::NotFound));
}

TEST_F(DirectoryTest, SecondObjectWithTheSameNameIsRefused) {
    ASSERT_TRUE(directory().create("x", ObjectKind::Segment, 4096, 1, 0));
    auto again = directory().create("x", ObjectKind::Segment, 4096, 1, 0);
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().code, make_error_code(RegionError::Exists));
}

TEST_F(DirectoryTest, BadNamesAndZeroSizeAreRefused) {
    for (const std::string& name : {std::string(), std::string("a/b"), std::string("with space"), std::string(48, 'n')}) {
        auto made = directory().create(name, ObjectKind::Segment, 4096, 1, 0);
        ASSERT_FALSE(made) << name;
        EXPECT_EQ(made.error().code, make_error_code(RegionError::InvalidArgument));
    }
    EXPECT_EQ(directory().create("zero", ObjectKind::Segment, 0, 1, 0).error().code,
              make_error_code(RegionError::InvalidArgument));
}

TEST_F(DirectoryTest, FullAreaReportsNoSpaceAndFreedSpaceIsReused) {
    auto usage = directory().usage();
    ASSERT_TRUE(usage);
    const std::uint64_t data = usage->data_bytes;
    ASSERT_TRUE(directory().create("a", ObjectKind::Segment, 4096, 1, 0));
    auto b = directory().create("b", ObjectKind::Segment, 8192, 1, 0);
    ASSERT_TRUE(b);
    ASSERT_TRUE(directory().create("rest", ObjectKind::Segment, data - 4096 - 8192, 1, 0));
    auto full = directory().create("more", ObjectKind::Segment, 4096, 1, 0);
    ASSERT_FALSE(full);
    EXPECT_EQ(full.error().code, make_error_code(RegionError::NoSpace));
    ASSERT_TRUE(directory().remove("b"));
    auto reused = directory().create("c", ObjectKind::Segment, 8192, 1, 0);
    ASSERT_TRUE(reused) << reused.error().message;
    EXPECT_EQ(reused->area_offset, b->area_offset);
}

TEST_F(DirectoryTest, DirectoryWithEveryEntryTakenReportsDirectoryFull) {
    // Shrink nothing: the common area of the small platform has 60 pages, fewer than entries, so
    // fill the entries of a bigger area instead.
    auto text = test::small_platform_toml("dirfull" + std::to_string(::getpid()));
    text.replace(text.find("common_size = \"256 KiB\""), 23, "common_size = \"1 MiB\"");
    auto config = parse_platform_config(text, "dirfull.toml");
    ASSERT_TRUE(config) << config.error().message;
    auto big = Region::create(*config);
    ASSERT_TRUE(big) << big.error().message;
    Directory dir(*big, big->common_area()->index);
    for (std::uint32_t i = 0; i < layout::kDirectoryEntries; ++i)
        ASSERT_TRUE(dir.create("o" + std::to_string(i), ObjectKind::Segment, 4096, 1, 0)) << i;
    auto full = dir.create("one-more", ObjectKind::Segment, 4096, 1, 0);
    ASSERT_FALSE(full);
    EXPECT_EQ(full.error().code, make_error_code(RegionError::DirectoryFull));
}

TEST_F(DirectoryTest, HolderThatDiedMidChangeIsRolledBackByTheNextHolder) {
    ASSERT_TRUE(directory().create("kept", ObjectKind::Segment, 4096, 1, 0));
    // A holder reserves an entry and stops before publishing it, as if killed there.
    ASSERT_TRUE(directory().with_exclusive([](AreaDirectory& d) { return d.reserve_and_abandon_for_test("half", 4096); }));
    EXPECT_EQ(layout::atomic(header().dirty).load(), 1U);
    auto next = directory().create("next", ObjectKind::Segment, 4096, 1, 0);
    ASSERT_TRUE(next) << next.error().message;
    EXPECT_EQ(layout::atomic(header().dirty).load(), 0U);
    EXPECT_EQ(layout::atomic(header().recoveries).load(), 1U);
    EXPECT_EQ(directory().find("half").error().code, make_error_code(RegionError::NotFound));
    EXPECT_TRUE(directory().find("kept"));
    // The abandoned extent is free again.
    auto usage = directory().usage();
    ASSERT_TRUE(usage);
    EXPECT_EQ(usage->used_bytes, 8192U);
}

TEST_F(DirectoryTest, ScribbledEntryIsNeverFollowedAndIsQuarantinedOnRecovery) {
    ASSERT_TRUE(directory().create("good", ObjectKind::Segment, 4096, 1, 0));
    ASSERT_TRUE(directory().create("victim", ObjectKind::Segment, 4096, 1, 0));
    for (auto& entry : header().entries) {
        if (std::string(entry.name) == "victim") entry.offset = common->size * 4;  // points far outside
    }
    EXPECT_EQ(directory().find("victim").error().code, make_error_code(RegionError::NotFound));
    auto listed = directory().list();
    ASSERT_TRUE(listed);
    ASSERT_EQ(listed->size(), 2U);
    EXPECT_EQ(listed->at(1).state, layout::EntryState::Quarantined);
    // A crash window later, recovery marks it quarantined for good.
    layout::atomic(header().dirty).store(1);
    ASSERT_TRUE(directory().create("after", ObjectKind::Segment, 4096, 1, 0));
    EXPECT_EQ(layout::atomic(header().quarantined).load(), 1U);
    EXPECT_TRUE(directory().find("good"));
}

TEST_F(DirectoryTest, ScribbledAreaHeaderIsReportedNotFollowed) {
    header().magic = 0;
    auto found = directory().find("anything");
    ASSERT_FALSE(found);
    EXPECT_EQ(found.error().code, make_error_code(RegionError::BadMagic));
    EXPECT_NE(found.error().message.find("common"), std::string::npos) << found.error().message;
    header().magic = layout::kAreaMagic;
    header().data_offset = common->size + 4096;
    EXPECT_EQ(directory().find("anything").error().code, make_error_code(RegionError::Corrupt));
}

TEST_F(DirectoryTest, LockHeldByAnotherDescriptionTimesOutAsBusy) {
    // Another open file description of the same memfd stands for another process.
    UniqueFd other(::open(("/proc/self/fd/" + std::to_string(region->area_fd(common->index))).c_str(), O_RDWR));
    ASSERT_TRUE(other);
    auto held = AreaLock::acquire(other.get(), AreaLock::Mode::Exclusive, std::chrono::milliseconds(100));
    ASSERT_TRUE(held);
    Directory impatient(*region, common->index, std::chrono::milliseconds(50));
    auto refused = impatient.create("x", ObjectKind::Segment, 4096, 1, 0);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code, make_error_code(RegionError::Busy));
}

// A process forked after attaching shares its parent's descriptions of the area: each lock must
// still exclude the other (the rpc callers forked from one attach once created reply ports at
// the same time and got each other's replies).
TEST_F(DirectoryTest, AChildForkedAfterAttachIsExcludedByItsParentsLock) {
    const int fd = region->area_fd(common->index);
    auto held = AreaLock::acquire(fd, AreaLock::Mode::Exclusive, std::chrono::milliseconds(100));
    ASSERT_TRUE(held) << held.error().message;
    const pid_t child = ::fork();
    if (child == 0) {
        auto mine = AreaLock::acquire(fd, AreaLock::Mode::Exclusive, std::chrono::milliseconds(100));
        ::_exit(!mine && mine.error().code == make_error_code(RegionError::Busy) ? 0 : 1);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the child took the lock its parent holds";
}

TEST_F(DirectoryTest, SharedLocksDoNotExcludeEachOther) {
    UniqueFd other(::open(("/proc/self/fd/" + std::to_string(region->area_fd(common->index))).c_str(), O_RDONLY));
    ASSERT_TRUE(other);
    auto reader = AreaLock::acquire(other.get(), AreaLock::Mode::Shared, std::chrono::milliseconds(100));
    ASSERT_TRUE(reader);
    EXPECT_TRUE(directory().list());
}

TEST_F(DirectoryTest, AttachOrCreateReturnsTheSameObjectAndCountsAttaches) {
    auto first = directory().attach_or_create("state", ObjectKind::Pnv, 8192, 2, 1);
    ASSERT_TRUE(first);
    EXPECT_TRUE(first->created_now);
    auto second = directory().attach_or_create("state", ObjectKind::Pnv, 8192, 2, 2);
    ASSERT_TRUE(second);
    EXPECT_FALSE(second->created_now);
    EXPECT_EQ(second->area_offset, first->area_offset);
    EXPECT_EQ(second->attach_count, 1U);
    EXPECT_EQ(second->owner_incarnation, 2U);
    auto other_size = directory().attach_or_create("state", ObjectKind::Pnv, 16384, 2, 2);
    ASSERT_FALSE(other_size);
    EXPECT_EQ(other_size.error().code, make_error_code(RegionError::SizeConflict));
}

}  // namespace
}  // namespace nk
