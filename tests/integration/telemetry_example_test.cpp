// examples/telemetry run as its README says: nkd on examples/platforms/telemetry.toml (the server
// is the rt guest's program), the client inside the linux guest through `nkctl exec`: a read, a
// set-point, a subscription, the topic, asynchronous subscriptions to several sensors at once, a
// bad sensor, and calls that work again after the rt guest is restarted.
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "test_platform.hpp"

namespace nk {
namespace {

using namespace std::chrono_literals;
using test::CommandResult;
using test::read_file;

class TelemetryExample : public ::testing::Test {
protected:
    void SetUp() override {
        NK_REQUIRE_ROOT();
        char pattern[] = "/tmp/nk-telemetry-XXXXXX";
        dir = ::mkdtemp(pattern);
        ::chmod(dir.c_str(), 0755);
        run_dir = dir + "/run";
        std::filesystem::create_directory(run_dir);
        // The example's config with a name of this test's own (tests may run beside a real platform).
        platform = "tel" + std::to_string(::getpid());
        std::string config_text = read_file(std::string(NK_SOURCE_DIR) + "/examples/platforms/telemetry.toml");
        config_text = std::regex_replace(config_text, std::regex("name = \"telemetry\""), "name = \"" + platform + "\"");
        ASSERT_NE(config_text.find(platform), std::string::npos);
        config = run_dir + "/" + platform + ".toml";
        std::ofstream(config) << config_text;
        log = run_dir + "/nkd.log";
        nkd = test::start_nkd(run_dir, config, log);
        ASSERT_TRUE(test::wait_until([&] { return client("read 1").status == 0; }, 15s, 50ms)) << read_file(log);
    }
    void TearDown() override {
        (void)test::stop_nkd(nkd);
        if (!dir.empty()) std::filesystem::remove_all(dir);
    }
    CommandResult client(const std::string& args) const {
        return test::run_command(run_dir, test::binary("nkctl") + " exec --platform " + platform +
                                              " linux -- nk_example_telemetry_client " + args);
    }
    // The rt guest's incarnation from `nkctl map --json`; 0 when it cannot be read.
    std::uint64_t rt_incarnation() const {
        auto out = test::run_command(run_dir, test::binary("nkctl") + " map --json --platform " + platform);
        const auto map = nlohmann::json::parse(out.output, nullptr, false);
        if (out.status != 0 || !map.is_object() || !map["guests"].is_array()) return 0;
        for (const auto& g : map["guests"])
            if (g["name"] == "rt") return g["incarnation"].get<std::uint64_t>();
        return 0;
    }
    static int count_of(const std::string& text, const std::string& what) {
        int n = 0;
        for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
        return n;
    }

    std::string dir, run_dir, platform, config, log;
    pid_t nkd = -1;
};

TEST_F(TelemetryExample, TheReadmeSessionWorksFromTheLinuxGuest) {
    auto read = client("read 1");
    EXPECT_EQ(read.status, 0) << read.output;
    EXPECT_TRUE(std::regex_search(read.output, std::regex(R"(^sensor 1: -?[0-9.]+ \(set-point 20\.000\) tick [0-9]+)")))
        << read.output;

    auto set = client("set 1 30");
    EXPECT_EQ(set.status, 0) << set.output;
    EXPECT_NE(set.output.find("sensor 1: set-point 30.000 (was 20.000)"), std::string::npos) << set.output;

    auto subscribed = client("subscribe 1 5 20");
    EXPECT_EQ(subscribed.status, 0) << subscribed.output;
    EXPECT_EQ(count_of(subscribed.output, "sensor 1: "), 5) << subscribed.output;
    EXPECT_EQ(count_of(subscribed.output, "(set-point 30.000)"), 5) << subscribed.output;

    auto watched = client("watch 8");
    EXPECT_EQ(watched.status, 0) << watched.output;
    EXPECT_EQ(count_of(watched.output, "sensor "), 8) << watched.output;
    EXPECT_NE(watched.output.find("readings lost (inbox full)"), std::string::npos) << watched.output;

    // Three asynchronous subscriptions on one io_context, interleaved, each complete.
    auto monitored = client("monitor 4 0 2 3");
    EXPECT_EQ(monitored.status, 0) << monitored.output;
    for (const char* sensor : {"sensor 0: ", "sensor 2: ", "sensor 3: "}) EXPECT_EQ(count_of(monitored.output, sensor), 4) << monitored.output;
    EXPECT_NE(monitored.output.find("3 subscriptions ended OK"), std::string::npos) << monitored.output;

    auto unknown = client("read 9");
    EXPECT_EQ(unknown.status, 1) << unknown.output;
    EXPECT_NE(unknown.output.find("INVALID_ARGUMENT: sensor 9 does not exist (0..3)"), std::string::npos) << unknown.output;
    auto unknown_stream = client("monitor 2 1 9");
    EXPECT_EQ(unknown_stream.status, 1) << unknown_stream.output;
    EXPECT_NE(unknown_stream.output.find("monitor sensor 9: INVALID_ARGUMENT"), std::string::npos) << unknown_stream.output;
    EXPECT_EQ(count_of(unknown_stream.output, "sensor 1: "), 2) << unknown_stream.output;  // the good one still ran
}

TEST_F(TelemetryExample, CallsWorkAgainAfterTheRtGuestRestarts) {
    const std::uint64_t before = rt_incarnation();
    ASSERT_GT(before, 0U);
    auto restarted = test::run_command(run_dir, test::binary("nkctl") + " restart rt --platform " + platform);
    ASSERT_EQ(restarted.status, 0) << restarted.output;
    // A new incarnation makes its port again; the client needs nothing but to call.
    CommandResult read;
    EXPECT_TRUE(test::wait_until([&] {
        read = client("read 2");
        return rt_incarnation() > before && read.status == 0;
    }, 10s, 50ms)) << read.output << read_file(log);
    EXPECT_NE(read.output.find("sensor 2: "), std::string::npos) << read.output;
}

}  // namespace
}  // namespace nk
