#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>

#include <gtest/gtest.h>

#include "nk/nanokernel/region.hpp"
#include "nk/nanokernel/region_plan.hpp"
#include "test_platform.hpp"

namespace nk {
namespace {

using layout::AreaKind;

std::vector<UniqueFd> fds_of(const Region& region, Identity who) {
    auto fds = region.export_fds(who);
    EXPECT_TRUE(fds) << fds.error().message;
    return std::move(*fds);
}

// A memfd named like area `index` of `platform`, holding `bytes`.
UniqueFd fake_area(const std::string& platform, int index, const void* bytes, std::size_t size) {
    const std::string name = "nk:" + platform + ":" + std::to_string(index) + ":management";
    UniqueFd fd(::memfd_create(name.c_str(), MFD_CLOEXEC));
    EXPECT_TRUE(fd);
    EXPECT_EQ(::ftruncate(fd.get(), static_cast<off_t>(size)), 0);
    EXPECT_EQ(::pwrite(fd.get(), bytes, std::min<std::size_t>(size, sizeof(layout::ManagementTables)), 0),
              static_cast<ssize_t>(std::min<std::size_t>(size, sizeof(layout::ManagementTables))));
    return fd;
}

TEST(Region, CreatedRegionHasEveryAreaOfThePartition) {
    const auto config = test::small_platform();
    auto region = Region::create(config);
    ASSERT_TRUE(region) << region.error().message;
    // management + common + 3 per guest + 1 link
    ASSERT_EQ(region->areas().size(), 2U + 3U * 3U + 1U);
    EXPECT_EQ(region->areas()[0].kind, AreaKind::Management);
    EXPECT_EQ(region->areas()[0].offset, 0U);
    std::uint64_t end = 0;
    for (const auto& area : region->areas()) {
        EXPECT_EQ(area.offset, end) << area.label;
        EXPECT_EQ(area.offset % 4096, 0U);
        EXPECT_TRUE(area.mapped && area.writable);
        end = area.offset + area.size;
    }
    EXPECT_EQ(region->size(), end);
    EXPECT_EQ(region->platform_name(), config.name);
    EXPECT_EQ(region->tables().header.magic, layout::kRegionMagic);
    EXPECT_EQ(region->tables().header.layout_version, layout::kLayoutVersion);
    EXPECT_GT(region->created_unix_ns(), 0U);
    ASSERT_NE(region->link_area(1, 2), nullptr);
    EXPECT_EQ(region->link_area(1, 2)->label, "link.linux-rt");
    EXPECT_EQ(region->link_area(1, 3), nullptr);
    auto rt = region->guest("rt");
    ASSERT_TRUE(rt);
    EXPECT_EQ(rt->priority, 50);
    EXPECT_EQ(rt->cpus, std::vector<std::uint32_t>{0});
    EXPECT_EQ(rt->state, layout::GuestState::Configured);
}

// guest_status(): the two live words of guest(), without copying the table; an unknown id has none.
TEST(Region, GuestStatusFollowsTheLiveStateAndIncarnation) {
    auto region = Region::create(test::small_platform());
    ASSERT_TRUE(region) << region.error().message;
    const auto rt = region->guest("rt");
    ASSERT_TRUE(rt);
    auto status = region->guest_status(rt->id);
    ASSERT_TRUE(status);
    EXPECT_EQ(status->state, layout::GuestState::Configured);
    EXPECT_EQ(status->incarnation, rt->incarnation);
    region->set_guest_state(rt->id, layout::GuestState::Running, true);
    status = region->guest_status(rt->id);
    ASSERT_TRUE(status);
    EXPECT_EQ(status->state, layout::GuestState::Running);
    EXPECT_EQ(status->incarnation, rt->incarnation + 1);
    EXPECT_EQ(status->incarnation, region->guest(rt->id)->incarnation);
    EXPECT_FALSE(region->guest_status(999));
}

// A watchdog reads the PNV areas of the guests it watches (a failed peer's console tail), read-only;
// a guest that watches nobody does not.
TEST(Region, AWatcherHoldsTheWatchedGuestsPnvAreaReadOnly) {
    std::string toml = test::small_platform_toml("pnvreaders");
    const std::string linux_cpus = "name = \"linux\"\nkind = \"linux\"\nmemory = \"256 KiB\"\ncpus = [0]\n";
    ASSERT_NE(toml.find(linux_cpus), std::string::npos);
    toml.replace(toml.find(linux_cpus), linux_cpus.size(), linux_cpus + "watchdog = { watch = [\"rt\"] }\n");
    auto config = parse_platform_config(toml, "pnvreaders.toml");
    ASSERT_TRUE(config) << config.error().message;
    auto region = Region::create(*config);
    ASSERT_TRUE(region) << region.error().message;
    const auto rt = region->guest("rt");
    ASSERT_TRUE(rt);
    auto as_linux = Region::attach(fds_of(*region, Identity::guest(1)), Identity::guest(1));
    ASSERT_TRUE(as_linux) << as_linux.error().message;
    const AreaInfo* rt_pnv = as_linux->area(rt->pnv_area);
    ASSERT_NE(rt_pnv, nullptr);
    EXPECT_TRUE(rt_pnv->mapped);
    EXPECT_FALSE(rt_pnv->writable);
    EXPECT_FALSE(as_linux->area(rt->private_area)->mapped);  // its private area stays its own
    auto as_mon = Region::attach(fds_of(*region, Identity::guest(3)), Identity::guest(3));
    ASSERT_TRUE(as_mon) << as_mon.error().message;
    EXPECT_FALSE(as_mon->area(rt->pnv_area)->mapped);
}

TEST(Region, GuestAttachMapsOnlyItsOwnAreasLinksAndCommon) {
    auto region = Region::create(test::small_platform());
    ASSERT_TRUE(region) << region.error().message;
    auto rt = Region::attach(fds_of(*region, Identity::guest(2)), Identity::guest(2));
    ASSERT_TRUE(rt) << rt.error().message;
    for (const auto& area : rt->areas()) {
        const bool mine = area.kind == AreaKind::Management || area.kind == AreaKind::Common ||
                          (area.kind == AreaKind::Link && area.involves(2)) ||
                          (area.owner_guest == 2 && area.kind != AreaKind::Link);
        // Other guests' control pages are read-only views (their heartbeats, for watchdogs).
        const bool peer_control = area.kind == AreaKind::Control && area.owner_guest != 2;
        EXPECT_EQ(area.mapped, mine || peer_control) << area.label;
        EXPECT_EQ(area.writable, mine && area.kind != AreaKind::Management) << area.label;
    }
    const AreaInfo* linux_private = rt->area(region->guest("linux")->private_area);
    auto refused = rt->bytes(linux_private->offset, 16, false);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code, make_error_code(RegionError::NotMapped));
    auto tables = rt->bytes(0, 16, true);
    ASSERT_FALSE(tables);
    EXPECT_EQ(tables.error().code, make_error_code(RegionError::AccessDenied));
    EXPECT_TRUE(rt->bytes(0, 16, false));
}

TEST(Region, AttachSeesTheCreatorsBytes) {
    auto region = Region::create(test::small_platform());
    ASSERT_TRUE(region);
    auto rt = Region::attach(fds_of(*region, Identity::guest(2)), Identity::guest(2));
    ASSERT_TRUE(rt);
    const AreaInfo* common = region->common_area();
    auto mine = region->bytes(common->offset + 20000, 5, true);
    ASSERT_TRUE(mine);
    std::memcpy(*mine, "hello", 5);
    auto theirs = rt->bytes(common->offset + 20000, 5, false);
    ASSERT_TRUE(theirs);
    EXPECT_EQ(std::memcmp(*theirs, "hello", 5), 0);
}

TEST(Region, AttachRefusesADescriptorTheRoleMayNotHold) {
    auto region = Region::create(test::small_platform());
    ASSERT_TRUE(region);
    auto fds = fds_of(*region, Identity::guest(2));
    auto linux_fds = fds_of(*region, Identity::guest(1));
    // Add linux's private area to rt's set.
    for (auto& fd : linux_fds) {
        std::array<char, 256> target{};
        ASSERT_GT(::readlink(("/proc/self/fd/" + std::to_string(fd.get())).c_str(), target.data(), 255), 0);
        if (std::string(target.data()).find("linux.private") != std::string::npos) fds.push_back(std::move(fd));
    }
    auto attached = Region::attach(std::move(fds), Identity::guest(2));
    ASSERT_FALSE(attached);
    EXPECT_EQ(attached.error().code, make_error_code(RegionError::AccessDenied));
    EXPECT_NE(attached.error().message.find("linux.private"), std::string::npos) << attached.error().message;
}

TEST(Region, AttachRefusesMemoryWithoutTheRegionMagic) {
    std::vector<std::byte> junk(64 * 1024, std::byte{0x5a});
    std::vector<UniqueFd> fds;
    fds.push_back(fake_area("junk", 0, junk.data(), junk.size()));
    auto attached = Region::attach(std::move(fds), Identity::observer());
    ASSERT_FALSE(attached);
    EXPECT_EQ(attached.error().code, make_error_code(RegionError::BadMagic)) << attached.error().message;
}

TEST(Region, AttachRefusesAnotherLayoutVersion) {
    auto region = Region::create(test::small_platform());
    ASSERT_TRUE(region);
    layout::ManagementTables tables = region->tables();
    tables.header.layout_version = layout::kLayoutVersion + 1;
    std::vector<UniqueFd> fds;
    fds.push_back(fake_area(std::string(region->platform_name()), 0, &tables, region->areas()[0].size));
    auto attached = Region::attach(std::move(fds), Identity::observer());
    ASSERT_FALSE(attached);
    EXPECT_EQ(attached.error().code, make_error_code(RegionError::VersionMismatch));
    EXPECT_NE(attached.error().message.find("layout version"), std::string::npos);
}

TEST(Region, AttachRefusesASizeThatDisagreesWithTheTables) {
    auto region = Region::create(test::small_platform());
    ASSERT_TRUE(region);
    layout::ManagementTables tables = region->tables();
    std::vector<UniqueFd> fds;
    fds.push_back(fake_area(std::string(region->platform_name()), 0, &tables, region->areas()[0].size + 4096));
    auto attached = Region::attach(std::move(fds), Identity::observer());
    ASSERT_FALSE(attached);
    EXPECT_EQ(attached.error().code, make_error_code(RegionError::SizeMismatch)) << attached.error().message;
}

TEST(Region, AttachWithoutTheManagementAreaIsRefused) {
    auto region = Region::create(test::small_platform());
    ASSERT_TRUE(region);
    auto fds = fds_of(*region, Identity::guest(1));
    fds.erase(fds.begin());  // the management area comes first
    auto attached = Region::attach(std::move(fds), Identity::guest(1));
    ASSERT_FALSE(attached);
    EXPECT_EQ(attached.error().code, make_error_code(RegionError::NotFound));
}

TEST(RegionPlan, AreaTooSmallForItsDirectoryNamesTheConfigLine) {
    auto text = test::small_platform_toml("tiny");
    text.replace(text.find("link_size = \"256 KiB\""), 21, "link_size = \"8 KiB\"");
    auto config = parse_platform_config(text, "tiny.toml");
    ASSERT_TRUE(config) << config.error().message;
    auto plan = plan_region(*config);
    ASSERT_FALSE(plan);
    EXPECT_NE(plan.error().message.find("tiny.toml:"), std::string::npos) << plan.error().message;
    EXPECT_NE(plan.error().message.find("too small"), std::string::npos) << plan.error().message;
}

TEST(RegionPlan, RegionSizeBelowWhatTheAreasNeedIsRefused) {
    auto text = test::small_platform_toml("small-region");
    text.insert(text.find("[areas]"), "region_size = \"64 KiB\"\n");
    auto config = parse_platform_config(text, "small.toml");
    ASSERT_TRUE(config) << config.error().message;
    auto plan = plan_region(*config);
    ASSERT_FALSE(plan);
    EXPECT_NE(plan.error().message.find("platform.region_size"), std::string::npos) << plan.error().message;
}

TEST(Region, HugepagesAreUsedWhenAsked) {
    // Needs free 2 MiB pages; reserve some if this process may.
    if (::access("/proc/sys/vm/nr_hugepages", W_OK) == 0) {
        FILE* f = std::fopen("/proc/sys/vm/nr_hugepages", "r+");
        long pages = 0;
        if (f != nullptr && std::fscanf(f, "%ld", &pages) == 1 && pages < 32) {
            std::rewind(f);
            std::fprintf(f, "%d\n", 32);
        }
        if (f != nullptr) std::fclose(f);
    }
    auto text = test::small_platform_toml("huge" + std::to_string(::getpid()));
    text.insert(text.find("[areas]"), "hugepages = true\n");
    for (const char* field : {"link_size", "common_size", "pnv_size"}) {
        const auto at = text.find(field);
        text.replace(text.find("256 KiB", at), 7, "4 MiB");
    }
    while (text.find("memory = \"256 KiB\"") != std::string::npos)
        text.replace(text.find("memory = \"256 KiB\""), 18, "memory = \"4 MiB\"");
    auto config = parse_platform_config(text, "huge.toml");
    ASSERT_TRUE(config) << config.error().message;
    config->lock_memory = false;
    auto region = Region::create(*config);
    if (!region && region.error().message.find("huge pages") != std::string::npos)
        GTEST_SKIP() << "no huge pages on this machine: " << region.error().message;
    ASSERT_TRUE(region) << region.error().message;
    EXPECT_TRUE(region->hugepages());
    EXPECT_EQ(region->page_size(), layout::kHugePage);
    for (const auto& area : region->areas()) EXPECT_EQ(area.offset % layout::kHugePage, 0U) << area.label;
}

}  // namespace
}  // namespace nk
