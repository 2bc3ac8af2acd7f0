// nkd and nkctl as an operator runs them: a real daemon, a real socket, real guest processes
// that attach by the platform's name.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "test_platform.hpp"

namespace nk {
namespace {

using test::CommandResult;

CommandResult run(const std::string& run_dir, const std::string& command) { return test::run_command(run_dir, command); }

class Nkd : public ::testing::Test {
protected:
    void SetUp() override {
        NK_REQUIRE_ROOT();
        char pattern[] = "/tmp/nk-run-XXXXXX";
        run_dir = ::mkdtemp(pattern);
        config = std::string(NK_SOURCE_DIR) + "/examples/platforms/two-guests.toml";
        nkd = start_nkd(config);
        ASSERT_GT(nkd, 0);
        ASSERT_TRUE(wait_for(run_dir + "/two-guests.sock")) << "nkd did not come up";
    }
    void TearDown() override {
        if (nkd > 0) {
            ::kill(nkd, SIGTERM);
            int status = 0;
            ::waitpid(nkd, &status, 0);
        }
        if (!run_dir.empty()) std::filesystem::remove_all(run_dir);
    }
    pid_t start_nkd(const std::string& config_path) const {
        const pid_t pid = ::fork();
        if (pid == 0) {
            ::setenv("NK_RUN_DIR", run_dir.c_str(), 1);
            const std::string bin = test::binary("nkd");
            ::execl(bin.c_str(), bin.c_str(), "--config", config_path.c_str(), static_cast<char*>(nullptr));
            ::_exit(127);
        }
        return pid;
    }
    static bool wait_for(const std::string& path) {
        for (int i = 0; i < 500; ++i) {
            struct stat st {};
            if (::stat(path.c_str(), &st) == 0) return true;
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        return false;
    }
    std::string nkctl(const std::string& args) const { return test::binary("nkctl") + " " + args; }

    std::string run_dir;
    std::string config;
    pid_t nkd = -1;
};

TEST_F(Nkd, NkctlMapPrintsThePartitionOfTheRunningPlatform) {
    auto text = run(run_dir, nkctl("map"));
    ASSERT_EQ(text.status, 0) << text.output;
    EXPECT_NE(text.output.find("platform two-guests"), std::string::npos) << text.output;
    EXPECT_NE(text.output.find("link.linux-rt"), std::string::npos) << text.output;

    auto json = run(run_dir, nkctl("map --json --platform two-guests"));
    ASSERT_EQ(json.status, 0) << json.output;
    auto map = nlohmann::json::parse(json.output);
    EXPECT_EQ(map["platform"], "two-guests");
    ASSERT_EQ(map["guests"].size(), 2U);
    EXPECT_EQ(map["guests"][0]["name"], "linux");
    EXPECT_EQ(map["guests"][1]["kind"], "rt");
    std::uint64_t end = 0;
    for (const auto& area : map["areas"]) {
        EXPECT_EQ(area["offset"].get<std::uint64_t>(), end);
        end += area["size"].get<std::uint64_t>();
    }
    EXPECT_EQ(map["region_size"].get<std::uint64_t>(), end);

    auto by_config = run(run_dir, nkctl("map --json --config " + config));
    ASSERT_EQ(by_config.status, 0) << by_config.output;
}

TEST_F(Nkd, GuestAttachedByNameSharesPnvAndTheOperatorSeesAndFreesIt) {
    auto writer = test::spawn_with_env({"NK_RUN_DIR=" + run_dir, "NK_PLATFORM=two-guests", "NK_GUEST=rt"},
                                       {"pnv-write", "rt.log", "4096", "boot=1"});
    const std::string line = writer.read_line();
    ASSERT_EQ(line.rfind("offset ", 0), 0U) << line;
    ::kill(writer.pid, SIGKILL);
    (void)writer.wait();

    auto listed = run(run_dir, nkctl("pnv --json"));
    ASSERT_EQ(listed.status, 0) << listed.output;
    // Beside it: nkd's console ring of each guest (nk.console), also PNV memory.
    auto named = [](const nlohmann::json& list, const std::string& guest, const std::string& name) {
        for (const auto& item : list)
            if (item["guest"] == guest && item["name"] == name) return item;
        return nlohmann::json();
    };
    auto pnv = nlohmann::json::parse(listed.output);
    const auto log = named(pnv, "rt", "rt.log");
    ASSERT_TRUE(log.is_object()) << listed.output;
    EXPECT_EQ(line, "offset " + std::to_string(log["offset"].get<std::uint64_t>()) + " fresh 1");
    EXPECT_TRUE(named(pnv, "rt", "nk.console").is_object()) << listed.output;

    auto freed = run(run_dir, nkctl("pnv free rt rt.log"));
    ASSERT_EQ(freed.status, 0) << freed.output;
    EXPECT_TRUE(named(nlohmann::json::parse(run(run_dir, nkctl("pnv --json")).output), "rt", "rt.log").is_null());
}

TEST_F(Nkd, SegmentsCreatedByAGuestAreListed) {
    auto writer = test::spawn_with_env({"NK_RUN_DIR=" + run_dir, "NK_PLATFORM=two-guests", "NK_GUEST=linux"},
                                       {"segment-create", "telemetry", "65536", "rt", "x"});
    EXPECT_EQ(writer.read_all(), "created link.linux-rt\n");
    (void)writer.wait();
    auto listed = run(run_dir, nkctl("segments --json"));
    ASSERT_EQ(listed.status, 0) << listed.output;
    // The shipped platform's rt guest publishes "rt.status" beside it (examples/rt_ticker.cpp).
    nlohmann::json telemetry;
    for (const auto& segment : nlohmann::json::parse(listed.output))
        if (segment["name"] == "telemetry") telemetry = segment;
    ASSERT_TRUE(telemetry.is_object()) << listed.output;
    EXPECT_EQ(telemetry["owner"], "linux");
    EXPECT_EQ(telemetry["area"], "link.linux-rt");
    EXPECT_EQ(telemetry["size"], 65536);
}

TEST_F(Nkd, SecondNkdForTheSamePlatformIsRefused) {
    const pid_t second = start_nkd(config);
    int status = 0;
    ::waitpid(second, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << status;
    EXPECT_EQ(run(run_dir, nkctl("map")).status, 0);  // the first still serves
}

TEST_F(Nkd, SigtermStopsCleanlyAndRemovesTheSocket) {
    ::kill(nkd, SIGTERM);
    int status = 0;
    ::waitpid(nkd, &status, 0);
    nkd = -1;
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
    struct stat st {};
    EXPECT_NE(::stat((run_dir + "/two-guests.sock").c_str(), &st), 0);
    auto after = run(run_dir, nkctl("map"));
    EXPECT_NE(after.status, 0);
    EXPECT_NE(after.output.find("no platform is running"), std::string::npos) << after.output;
}

TEST_F(Nkd, MalformedConfigIsRefusedWithFileAndLine) {
    const std::string bad = run_dir + "/bad.toml";
    std::ofstream(bad) << "[platform]\nname = \"bad\"\n[areas]\nlink_size = \"4 MiB\"\ncommon_size = 12\n";
    auto result = run(run_dir, test::binary("nkd") + " --config " + bad);
    EXPECT_EQ(result.status, 2) << result.output;
    EXPECT_NE(result.output.find("bad.toml:"), std::string::npos) << result.output;
}

}  // namespace
}  // namespace nk
