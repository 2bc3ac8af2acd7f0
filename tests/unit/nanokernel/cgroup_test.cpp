// GuestCgroup (cgroup.hpp) against the kernel's own files, on whichever hierarchy the host has:
// cgroup v1 on the development machines, cgroup v2 inside tests/vm/run-in-vm.sh's VM (ctest's
// CgroupV2.InAVirtualMachine). NK_EXPECT_CGROUP=v1|v2 makes a run on the other hierarchy fail, so
// the VM run cannot quietly test v1. Needs root.
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "nk/nanokernel/cgroup.hpp"
#include "test_platform.hpp"

namespace nk {
namespace {


bool exists(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0;
}

CgroupLimits limits_of(std::uint32_t cpu, std::uint32_t weight, std::uint64_t memory) {
    CgroupLimits limits;
    limits.cpus = {cpu};
    limits.cpu_weight = weight;
    limits.memory_limit = memory;
    return limits;
}

// A child that only waits to be killed.
pid_t spawn_sleeper() {
    const pid_t pid = ::fork();
    if (pid == 0) {
        for (;;) ::pause();
    }
    return pid;
}

// The directory of `group` in the hierarchy holding `controller` (v2: the one directory).
std::string dir_of(const GuestCgroup& group, const std::string& controller) {
    if (group.v2()) return group.paths().front();
    const std::string file = controller == "cpuset" ? "cpuset.cpus" : controller == "cpu" ? "cpu.shares" : "memory.limit_in_bytes";
    for (const auto& path : group.paths())
        if (exists(path + "/" + file)) return path;
    return {};
}

// /proc/PID/cgroup has a line "ID:CONTROLLERS:PATH" whose list holds `controller` ("" for v2's
// "0::PATH") and whose path is `path`.
bool listed(const std::string& proc_cgroup, const std::string& controller, const std::string& path) {
    std::stringstream lines(proc_cgroup);
    for (std::string line; std::getline(lines, line);) {
        const auto first = line.find(':'), second = line.find(':', first + 1);
        if (second == std::string::npos || line.substr(second + 1) != path) continue;
        const std::string controllers = "," + line.substr(first + 1, second - first - 1) + ",";
        if (controller.empty() ? controllers == ",," : controllers.find("," + controller + ",") != std::string::npos) return true;
    }
    return false;
}

class GuestCgroupTest : public ::testing::Test {
protected:
    void SetUp() override {
        NK_REQUIRE_ROOT();
        platform_ = "cgt" + std::to_string(::getpid()) + "-" +
                    ::testing::UnitTest::GetInstance()->current_test_info()->name();
    }
    void TearDown() override {
        // A test that failed half-way leaves nothing behind for the next one.
        for (const auto& group : groups_) {
            (void)group.kill_all();
            (void)group.remove();
        }
        for (pid_t pid : children_) ::waitpid(pid, nullptr, 0);
    }

    // create(), checked, with the hierarchy NK_EXPECT_CGROUP names.
    GuestCgroup make(const std::string& guest, const CgroupLimits& limits) {
        auto group = GuestCgroup::create(platform_, guest, limits);
        EXPECT_TRUE(group) << (group ? "" : group.error().message);
        if (!group) return {};
        groups_.push_back(*group);
        if (const char* expected = std::getenv("NK_EXPECT_CGROUP")) {
            EXPECT_EQ(group->v2() ? "v2" : "v1", std::string(expected)) << "GuestCgroup chose the other cgroup hierarchy";
        }
        return *group;
    }

    std::string platform_;
    std::vector<GuestCgroup> groups_;
    std::vector<pid_t> children_;
};

TEST_F(GuestCgroupTest, CreatedGroupHoldsTheGuestsLimits) {
    const std::uint32_t cpu = test::highest_allowed_cpu();
    const auto group = make("linux", limits_of(cpu, 250, 64ULL << 20));
    ASSERT_FALSE(HasFailure());
    const std::string tail = "/nk/" + platform_ + "/linux";
    for (const auto& path : group.paths()) EXPECT_TRUE(path.ends_with(tail)) << path;
    EXPECT_EQ(test::read_trimmed(dir_of(group, "cpuset") + "/cpuset.cpus"), std::to_string(cpu));
    if (group.v2()) {
        ASSERT_EQ(group.paths().size(), 1u);
        const std::string dir = group.paths().front();
        // The three controllers reach the guest's group: each parent hands them down.
        EXPECT_EQ(test::read_trimmed(dir + "/cgroup.controllers").find("cpuset cpu"), 0u) << test::read_trimmed(dir + "/cgroup.controllers");
        EXPECT_NE(test::read_trimmed(dir + "/cgroup.controllers").find("memory"), std::string::npos);
        EXPECT_EQ(test::read_trimmed(dir + "/cpu.weight"), "250");
        EXPECT_EQ(test::read_trimmed(dir + "/memory.max"), std::to_string(64ULL << 20));
    } else {
        ASSERT_EQ(group.paths().size(), 3u);
        EXPECT_EQ(test::read_trimmed(dir_of(group, "cpu") + "/cpu.shares"), "2560");  // 1024 is weight 100
        EXPECT_EQ(test::read_trimmed(dir_of(group, "memory") + "/memory.limit_in_bytes"), std::to_string(64ULL << 20));
    }
}

TEST_F(GuestCgroupTest, NoMemoryLimitMeansUnlimited) {
    const auto group = make("linux", limits_of(test::highest_allowed_cpu(), 100, 0));
    ASSERT_FALSE(HasFailure());
    if (group.v2()) {
        EXPECT_EQ(test::read_trimmed(group.paths().front() + "/memory.max"), "max");
        EXPECT_EQ(test::read_trimmed(group.paths().front() + "/cpu.weight"), "100");
    } else {
        // v1 shows "unlimited" as the largest page-aligned value.
        EXPECT_GT(std::stoull(test::read_trimmed(dir_of(group, "memory") + "/memory.limit_in_bytes")), 1ULL << 60);
    }
}

TEST_F(GuestCgroupTest, AddedProcessRunsInTheGroupOnItsCpusUntilKillAll) {
    const std::uint32_t cpu = test::highest_allowed_cpu();
    const auto group = make("linux", limits_of(cpu, 100, 64ULL << 20));
    ASSERT_FALSE(HasFailure());
    const pid_t child = spawn_sleeper();
    ASSERT_GT(child, 0);
    children_.push_back(child);
    auto added = group.add(child);
    ASSERT_TRUE(added) << added.error().message;

    // The kernel's view: every hierarchy of the group names it for the child...
    const std::string membership = test::read_trimmed("/proc/" + std::to_string(child) + "/cgroup");
    const std::string tail = "/nk/" + platform_ + "/linux";
    if (group.v2()) {
        EXPECT_TRUE(listed(membership, "", tail)) << membership;
    } else {
        for (const char* controller : {"cpuset", "cpu", "memory"}) EXPECT_TRUE(listed(membership, controller, tail)) << membership;
    }
    // ...and the cpuset took: the child may run on the guest's CPU only.
    cpu_set_t set;
    CPU_ZERO(&set);
    ASSERT_EQ(::sched_getaffinity(child, sizeof set, &set), 0);
    EXPECT_EQ(CPU_COUNT(&set), 1);
    EXPECT_TRUE(CPU_ISSET(static_cast<int>(cpu), &set));

    // nk's view: the group lists it, the platform holds it, and its cgroups are the group.
    EXPECT_EQ(group.pids(), std::vector<pid_t>{child});
    EXPECT_EQ(GuestCgroup::platform_pids(platform_), std::vector<pid_t>{child});
    auto found = GuestCgroup::of_process(child);
    ASSERT_TRUE(found) << found.error().message;
    EXPECT_EQ(found->v2(), group.v2());
    // v1: of_process also names the hierarchies where the child sits in the root (devices here,
    // as this group denies none); those are not the group's.
    auto want = group.paths(), got = found->paths();
    std::erase_if(got, [](const std::string& path) { return path.find("/nk/") == std::string::npos; });
    std::sort(want.begin(), want.end());
    std::sort(got.begin(), got.end());
    EXPECT_EQ(got, want);

    auto killed = group.kill_all();
    ASSERT_TRUE(killed) << killed.error().message;
    EXPECT_TRUE(group.pids().empty());
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    children_.clear();
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
    EXPECT_TRUE(GuestCgroup::platform_pids(platform_).empty());
}

TEST_F(GuestCgroupTest, KillAllTakesProcessesForkedInsideTheGroup) {
    const auto group = make("linux", limits_of(test::highest_allowed_cpu(), 100, 0));
    ASSERT_FALSE(HasFailure());
    int ready[2];
    ASSERT_EQ(::pipe(ready), 0);
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        // Waits to be in the group, then forks a grandchild there, which the test never sees.
        char byte;
        if (::read(ready[0], &byte, 1) != 1) ::_exit(1);
        if (::fork() == 0)
            for (;;) ::pause();
        for (;;) ::pause();
    }
    children_.push_back(child);
    ASSERT_TRUE(group.add(child));
    ASSERT_EQ(::write(ready[1], "x", 1), 1);
    ::close(ready[0]);
    ::close(ready[1]);
    ASSERT_TRUE(test::wait_until([&] { return group.pids().size() == 2; }, std::chrono::seconds(5)));

    auto killed = group.kill_all();
    ASSERT_TRUE(killed) << killed.error().message;
    EXPECT_TRUE(group.pids().empty());
}

TEST_F(GuestCgroupTest, DeniedDeviceCannotBeOpenedFromTheGroup) {
    // /dev/zero stands for a device another guest owns; /dev/null stays open to this one.
    CgroupLimits limits = limits_of(test::highest_allowed_cpu(), 100, 0);
    limits.denied_devices = {"/dev/zero"};
    // Twice, as nkd re-creates a guest's group on a restart: under v2 the second call replaces the
    // group's device program, which the kernel must accept, and the device stays refused.
    (void)make("linux", limits);
    const auto group = make("linux", limits);
    ASSERT_FALSE(HasFailure());
    int go[2];
    ASSERT_EQ(::pipe(go), 0);
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        // Exit 0: /dev/zero refused with EPERM and /dev/null opened; anything else is a failure.
        char byte;
        if (::read(go[0], &byte, 1) != 1) ::_exit(10);
        const int zero = ::open("/dev/zero", O_RDONLY);
        if (zero >= 0) ::_exit(11);
        if (errno != EPERM) ::_exit(12);
        if (::open("/dev/null", O_WRONLY) < 0) ::_exit(13);
        ::_exit(0);
    }
    children_.push_back(child);
    auto added = group.add(child);
    ASSERT_TRUE(added) << added.error().message;
    ASSERT_EQ(::write(go[1], "x", 1), 1);
    ::close(go[0]);
    ::close(go[1]);
    int status = -1;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    children_.clear();
    EXPECT_TRUE(WIFEXITED(status)) << status;
    EXPECT_EQ(WEXITSTATUS(status), 0) << "11: /dev/zero opened; 12: refused, but not with EPERM; 13: /dev/null refused";
    // This process is outside the group: the rule is the group's alone.
    const int zero = ::open("/dev/zero", O_RDONLY);
    EXPECT_GE(zero, 0);
    if (zero >= 0) ::close(zero);
}

TEST_F(GuestCgroupTest, V2RootHoldingProcessesIsNamedAsTheReason) {
    // As in a container with its own cgroup namespace: /sys/fs/cgroup is a group that holds the
    // container's processes, which v2 does not let hand controllers to children.
    const auto probe = make("probe", limits_of(test::highest_allowed_cpu(), 100, 0));
    ASSERT_FALSE(HasFailure());
    if (!probe.v2()) GTEST_SKIP() << "cgroup v1 has no no-internal-processes rule; CgroupV2.InAVirtualMachine runs this under v2";
    ASSERT_TRUE(probe.remove());
    const std::string container = "/sys/fs/cgroup/" + platform_ + "-container";
    ASSERT_EQ(::mkdir(container.c_str(), 0755), 0) << std::strerror(errno);
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        // Exit 0: create() failed and said why; 1-4: the container could not be set up; 5: no error.
        std::ofstream join(container + "/cgroup.procs");
        join << ::getpid() << std::flush;
        if (!join) ::_exit(1);
        if (::unshare(CLONE_NEWCGROUP | CLONE_NEWNS) != 0) ::_exit(2);
        if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) ::_exit(3);
        // The same hierarchy cannot be mounted twice on one place: the host's goes first.
        if (::umount2("/sys/fs/cgroup", MNT_DETACH) != 0 || ::mount("cgroup2", "/sys/fs/cgroup", "cgroup2", 0, nullptr) != 0)
            ::_exit(4);
        auto group = GuestCgroup::create("inside", "guest", limits_of(0, 100, 0));
        if (group) ::_exit(5);
        std::fprintf(stderr, "create() in the container: %s\n", group.error().message.c_str());
        ::_exit(group.error().message.find("holds processes of its own") != std::string::npos ? 0 : 6);
    }
    int status = -1;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
    EXPECT_EQ(::rmdir(container.c_str()), 0) << std::strerror(errno);
}

TEST_F(GuestCgroupTest, RemoveTakesThePlatformDirectoryWithItsLastGuest) {
    const auto linux_group = make("linux", limits_of(test::highest_allowed_cpu(), 100, 0));
    const auto rt_group = make("mon", limits_of(test::highest_allowed_cpu(), 100, 0));
    ASSERT_FALSE(HasFailure());
    const std::string platform_dir = linux_group.paths().front().substr(0, linux_group.paths().front().rfind('/'));
    ASSERT_TRUE(exists(platform_dir));

    ASSERT_TRUE(linux_group.remove());
    for (const auto& path : linux_group.paths()) EXPECT_FALSE(exists(path)) << path;
    EXPECT_TRUE(exists(platform_dir)) << "the other guest's group is still in it";
    ASSERT_TRUE(rt_group.remove());
    for (const auto& path : rt_group.paths()) EXPECT_FALSE(exists(path)) << path;
    EXPECT_FALSE(exists(platform_dir));
}

TEST_F(GuestCgroupTest, CreatingTheSameGroupAgainReusesIt) {
    // nkd re-creates a guest's group on restart and on adoption; the second call must not fail.
    const auto first = make("linux", limits_of(test::highest_allowed_cpu(), 100, 32ULL << 20));
    const auto second = make("linux", limits_of(test::highest_allowed_cpu(), 300, 48ULL << 20));
    ASSERT_FALSE(HasFailure());
    EXPECT_EQ(first.paths(), second.paths());
    if (second.v2()) EXPECT_EQ(test::read_trimmed(second.paths().front() + "/cpu.weight"), "300");
    else EXPECT_EQ(test::read_trimmed(dir_of(second, "cpu") + "/cpu.shares"), "3072");
}

}  // namespace
}  // namespace nk
