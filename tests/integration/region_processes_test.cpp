// The region between real processes (fork/exec of nk_test_guest), as guests use it.
#include <signal.h>
#include <sys/wait.h>

#include <gtest/gtest.h>

#include "nk/nanokernel/directory.hpp"
#include "test_platform.hpp"

namespace nk {
namespace {

bool killed_by(int status, int signal) { return WIFSIGNALED(status) && WTERMSIG(status) == signal; }
bool exited_ok(int status) { return WIFEXITED(status) && WEXITSTATUS(status) == 0; }

class RegionProcesses : public ::testing::Test {
protected:
    void SetUp() override {
        auto created = Region::create(test::small_platform());
        ASSERT_TRUE(created) << created.error().message;
        region.emplace(std::move(*created));
    }
    std::optional<Region> region;
};

TEST_F(RegionProcesses, TwoProcessesOfTwoGuestsShareASegmentByName) {
    auto writer = test::spawn_guest(*region, Identity::guest(1), {"segment-create", "greeting", "4096", "rt", "hello from linux"});
    EXPECT_EQ(writer.read_all(), "created link.linux-rt\n");
    ASSERT_TRUE(exited_ok(writer.wait()));
    auto reader = test::spawn_guest(*region, Identity::guest(2), {"segment-read", "greeting"});
    EXPECT_EQ(reader.read_all(), "hello from linux\n");
    EXPECT_TRUE(exited_ok(reader.wait()));
}

TEST_F(RegionProcesses, GuestProcessLearnsWhoItIs) {
    auto child = test::spawn_guest(*region, Identity::guest(2), {"whoami"});
    EXPECT_EQ(child.read_all(), "guest 2\n");
    EXPECT_TRUE(exited_ok(child.wait()));
}

TEST_F(RegionProcesses, GuestCannotMapAnotherGuestsPrivateArea) {
    auto own = test::spawn_guest(*region, Identity::guest(2), {"touch-area", "rt.private"});
    EXPECT_EQ(own.read_line(), "touching");
    EXPECT_TRUE(exited_ok(own.wait()));
    auto other = test::spawn_guest(*region, Identity::guest(2), {"touch-area", "linux.private"});
    EXPECT_EQ(other.read_line(), "touching");
    const int status = other.wait();
    EXPECT_TRUE(killed_by(status, SIGSEGV)) << "status " << status;
}

TEST_F(RegionProcesses, GuestWriteToTheManagementTablesFaults) {
    auto child = test::spawn_guest(*region, Identity::guest(1), {"write-tables"});
    EXPECT_EQ(child.read_line(), "writing");
    const int status = child.wait();
    EXPECT_TRUE(killed_by(status, SIGSEGV)) << "status " << status;
    EXPECT_EQ(region->tables().header.magic, layout::kRegionMagic);
}

TEST_F(RegionProcesses, WriteThroughAReadOnlyOpenFaults) {
    auto make = test::spawn_guest(*region, Identity::guest(1), {"segment-create", "ro.table", "4096", "rt", "v1"});
    ASSERT_TRUE(exited_ok(make.wait()));
    auto child = test::spawn_guest(*region, Identity::guest(2), {"segment-write-readonly", "ro.table"});
    EXPECT_EQ(child.read_line(), "writing");
    EXPECT_TRUE(killed_by(child.wait(), SIGSEGV));
}

TEST_F(RegionProcesses, OpenRefusedByAnAccessRuleSaysWhichRule) {
    auto make = test::spawn_guest(*region, Identity::guest(1), {"segment-create", "secret.key", "4096", "rt", "k"});
    ASSERT_TRUE(exited_ok(make.wait()));
    auto child = test::spawn_guest(*region, Identity::guest(2), {"segment-open", "secret.key", "r"});
    const std::string out = child.read_all();
    EXPECT_NE(out.find("refused by access rule 1 (test.toml:"), std::string::npos) << out;
    EXPECT_FALSE(exited_ok(child.wait()));
}

TEST_F(RegionProcesses, PnvSurvivesSigkillOfItsProcess) {
    auto first = test::spawn_guest(*region, Identity::guest(2), {"pnv-write", "ctl.state", "8192", "setpoint=42"});
    const std::string line = first.read_line();
    ASSERT_EQ(line.rfind("offset ", 0), 0U) << line;
    EXPECT_NE(line.find("fresh 1"), std::string::npos);
    const std::string offset = line.substr(7, line.find(' ', 7) - 7);
    ::kill(first.pid, SIGKILL);
    EXPECT_TRUE(killed_by(first.wait(), SIGKILL));

    auto second = test::spawn_guest(*region, Identity::guest(2), {"pnv-read", "ctl.state", "8192"});
    EXPECT_EQ(second.read_all(), "offset " + offset + " fresh 0 text setpoint=42\n");
    EXPECT_TRUE(exited_ok(second.wait()));
}

TEST_F(RegionProcesses, LockHolderKilledMidChangeIsRecoveredByTheNextHolder) {
    auto holder = test::spawn_guest(*region, Identity::guest(1), {"lock-and-die", "common", "half"});
    ASSERT_EQ(holder.read_line(), "holding");
    ::kill(holder.pid, SIGKILL);
    EXPECT_TRUE(killed_by(holder.wait(), SIGKILL));

    Directory common(*region, region->common_area()->index);
    auto made = common.create("after", layout::ObjectKind::Segment, 4096, 0, 0);
    ASSERT_TRUE(made) << made.error().message;
    EXPECT_EQ(common.find("half").error().code, make_error_code(RegionError::NotFound));
    auto usage = common.usage();
    ASSERT_TRUE(usage);
    EXPECT_EQ(usage->recoveries, 1U);
    EXPECT_EQ(usage->entries_used, 1U);
}

}  // namespace
}  // namespace nk
