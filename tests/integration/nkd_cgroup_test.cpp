// nkd puts each guest into a cgroup that holds the guest's configured CPU set, CPU weight and memory
// limit, on whichever hierarchy the host has (v1 here; v2 in ctest's CgroupV2.InAVirtualMachine,
// which sets NK_EXPECT_CGROUP=v2 so that a run on the other hierarchy fails). Needs root.
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "nk/nanokernel/cgroup.hpp"
#include "test_platform.hpp"

namespace nk {
namespace {

using namespace std::chrono_literals;


// The file of `group` that holds `v2_file`'s setting, and the v1 file and directory that hold it.
std::string setting(const GuestCgroup& group, const std::string& v2_file, const std::string& v1_file) {
    if (group.v2()) return test::read_trimmed(group.paths().front() + "/" + v2_file);
    for (const auto& path : group.paths())
        if (std::filesystem::exists(path + "/" + v1_file)) return test::read_trimmed(path + "/" + v1_file);
    return "<no " + v1_file + " in the guest's groups>";
}

class NkdCgroup : public ::testing::Test {
protected:
    void SetUp() override {
        NK_REQUIRE_ROOT();
        char pattern[] = "/tmp/nk-cg-XXXXXX";
        dir_ = ::mkdtemp(pattern);
        platform_ = "cg" + std::to_string(::getpid());
    }
    void TearDown() override {
        stop_nkd();
        pid_t keeper = -1;
        if (std::ifstream(dir_ + "/" + platform_ + ".keeper") >> keeper && keeper > 0) ::kill(keeper, SIGKILL);
        if (!dir_.empty()) std::filesystem::remove_all(dir_);
    }

    void start_nkd(const std::string& toml) {
        const std::string config = dir_ + "/" + platform_ + ".toml";
        std::ofstream(config) << toml;
        log_ = dir_ + "/nkd.log";
        nkd_ = ::fork();
        if (nkd_ == 0) {
            ::setenv("NK_RUN_DIR", dir_.c_str(), 1);
            const int out = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
            ::dup2(out, 2);
            const std::string bin = test::binary("nkd");
            ::execl(bin.c_str(), bin.c_str(), "--config", config.c_str(), static_cast<char*>(nullptr));
            ::_exit(127);
        }
    }
    int stop_nkd() {
        if (nkd_ <= 0) return -1;
        ::kill(nkd_, SIGTERM);
        int status = 0;
        ::waitpid(nkd_, &status, 0);
        nkd_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    // The guest's init pid while it runs, else 0.
    pid_t init_pid(const std::string& guest) const {
        auto out = test::run_command(dir_, test::binary("nkctl") + " guests --json --platform " + platform_);
        if (out.status != 0) return 0;
        for (const auto& g : nlohmann::json::parse(out.output, nullptr, false))
            if (g.is_object() && g["name"] == guest && g["state"] == "running" && g["pid"].is_number()) return g["pid"].get<pid_t>();
        return 0;
    }

    std::string dir_, platform_, log_;
    pid_t nkd_ = -1;
};

TEST_F(NkdCgroup, GuestsRunInGroupsHoldingTheirConfiguredLimits) {
    const std::string cpu = std::to_string(test::highest_allowed_cpu());
    // A linux guest with every limit set and a device of its own (/dev/zero stands for one), and an rt guest (SCHED_FIFO in its group, which v2 allows
    // only where the kernel has no RT group scheduling, as Debian's has not).
    start_nkd("[platform]\nname = \"" + platform_ + "\"\nlock_memory = false\n"
              "[areas]\nlink_size = \"64 KiB\"\ncommon_size = \"64 KiB\"\npnv_size = \"64 KiB\"\n"
              "[[guests]]\nid = 1\nname = \"linux\"\nkind = \"linux\"\nmemory = \"64 KiB\"\ncpus = [" + cpu + "]\n"
              "memory_limit = \"96 MiB\"\ncpu_weight = 300\nservices = [[\"sleep\", \"infinity\"]]\ndevices = [\"/dev/zero\"]\n"
              "[[guests]]\nid = 2\nname = \"rt\"\nkind = \"rt\"\nmemory = \"64 KiB\"\ncpus = [" + cpu + "]\npriority = 10\n"
              "run = [\"nk_example_rt_ticker\", \"linux\"]\n"
              "[[links]]\nguests = [\"linux\", \"rt\"]\n"
              "[[access]]\nobjects = \"*\"\nguests = [\"*\"]\nrights = \"rw\"\n");
    pid_t linux_pid = 0, rt_pid = 0;
    ASSERT_TRUE(test::wait_until([&] { return (linux_pid = init_pid("linux")) > 0 && (rt_pid = init_pid("rt")) > 0; }, 20s))
        << test::read_trimmed(log_);

    auto linux_group = GuestCgroup::of_process(linux_pid);
    ASSERT_TRUE(linux_group) << linux_group.error().message;
    if (const char* expected = std::getenv("NK_EXPECT_CGROUP")) {
        ASSERT_EQ(linux_group->v2() ? "v2" : "v1", std::string(expected)) << "nkd used the other cgroup hierarchy";
    }
    // v1: hierarchies where the guest sits in the root (devices, for a guest denied none) are named
    // too; only its own groups matter here.
    const auto own_groups = [](const GuestCgroup& group) {
        auto paths = group.paths();
        std::erase_if(paths, [](const std::string& path) { return path.find("/nk/") == std::string::npos; });
        return paths;
    };
    ASSERT_EQ(own_groups(*linux_group).size(), linux_group->v2() ? 1u : 3u);
    for (const auto& path : own_groups(*linux_group)) EXPECT_TRUE(path.ends_with("/nk/" + platform_ + "/linux")) << path;
    EXPECT_EQ(setting(*linux_group, "cpuset.cpus", "cpuset.cpus"), cpu);
    EXPECT_EQ(setting(*linux_group, "cpu.weight", "cpu.shares"), linux_group->v2() ? "300" : "3072");
    EXPECT_EQ(setting(*linux_group, "memory.max", "memory.limit_in_bytes"), std::to_string(96ULL << 20));
    // The guest's processes (its init and the service it started) are all in it.
    EXPECT_GE(linux_group->pids().size(), 2u);

    // `nkctl exec` puts its command into the guest's group too.
    const auto exec = test::run_command(dir_, test::binary("nkctl") + " exec --platform " + platform_ +
                                                  " linux -- cat /proc/self/cgroup");
    EXPECT_EQ(exec.status, 0) << exec.output;
    EXPECT_NE(exec.output.find(":/nk/" + platform_ + "/linux"), std::string::npos) << exec.output;

    // The rt guest arms a heartbeat; in an emulated VM (CgroupV2.InAVirtualMachine without KVM) a
    // beat can come late enough for nkd to restart it, and its pid changes: ask again then.
    std::optional<GuestCgroup> rt_group;
    ASSERT_TRUE(test::wait_until([&] {
        rt_pid = init_pid("rt");
        auto found = rt_pid > 0 ? GuestCgroup::of_process(rt_pid) : Result<GuestCgroup>(tl::unexpected(Error{}));
        if (found) rt_group = *found;
        return found.has_value();
    }, 10s)) << test::read_trimmed(log_);
    EXPECT_EQ(setting(*rt_group, "cpuset.cpus", "cpuset.cpus"), cpu);
    EXPECT_EQ(::sched_getscheduler(rt_pid), SCHED_FIFO);

    // The linux guest's device is closed to the rt guest (and to commands run in it), not to linux.
    // Refused or opened are the answers; anything else is the rt guest restarting (above).
    test::CommandResult in_rt;
    EXPECT_TRUE(test::wait_until([&] {
        in_rt = test::run_command(dir_, test::binary("nkctl") + " exec --platform " + platform_ + " rt -- head -c 1 /dev/zero");
        return in_rt.status == 0 || in_rt.output.find("Operation not permitted") != std::string::npos;
    }, 10s, 200ms)) << in_rt.output;
    EXPECT_NE(in_rt.status, 0) << "the rt guest opened the linux guest's device";
    EXPECT_NE(in_rt.output.find("Operation not permitted"), std::string::npos) << in_rt.output;
    const auto in_linux = test::run_command(dir_, test::binary("nkctl") + " exec --platform " + platform_ +
                                                      " linux -- head -c 1 /dev/zero");
    EXPECT_EQ(in_linux.status, 0) << in_linux.output;

    // A clean stop takes the guests' groups with it.
    EXPECT_EQ(stop_nkd(), 0) << test::read_trimmed(log_);
    for (const auto& path : own_groups(*linux_group)) EXPECT_FALSE(std::filesystem::exists(path)) << path;
    for (const auto& path : own_groups(*rt_group)) EXPECT_FALSE(std::filesystem::exists(path)) << path;
    EXPECT_FALSE(own_groups(*rt_group).empty());
}

}  // namespace
}  // namespace nk
