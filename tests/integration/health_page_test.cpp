// nk-watchdog's health page end to end: two linux guests on the netbridge, the page served by
// alpha's watchdog on alpha's address and fetched from beta with Python's urllib, through both
// guests' routers; a hang of beta found by alpha's watchdog shows in the failure history with its
// detector; the HTML page; bad requests and an idle client answered or cut off without holding
// the server (or the heartbeat) up.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "test_platform.hpp"

namespace nk {
namespace {

using namespace std::chrono_literals;
using test::CommandResult;

using test::read_file;

// alpha serves the page and watches beta; both beat at 20 ms x 3.
std::string health_toml(const std::string& name) {
    return "[platform]\nname = \"" + name + "\"\nlock_memory = false\n"
           "[areas]\nlink_size = \"4 MiB\"\ncommon_size = \"64 KiB\"\npnv_size = \"64 KiB\"\n"
           "[[guests]]\nid = 1\nname = \"alpha\"\nkind = \"linux\"\nmemory = \"64 KiB\"\ncpus = [0]\n"
           "services = [[\"sleep\", \"infinity\"]]\n"
           "net = { address = \"10.77.1.1/24\" }\n"
           "watchdog = { period_ms = 20, misses = 3, watch = [\"beta\"], http_port = 8080 }\n"
           "[[guests]]\nid = 2\nname = \"beta\"\nkind = \"linux\"\nmemory = \"64 KiB\"\ncpus = [0]\n"
           "services = [[\"sleep\", \"infinity\"]]\n"
           "net = { address = \"10.77.2.1/24\" }\n"
           "watchdog = { period_ms = 20, misses = 3 }\n"
           "[[links]]\nguests = [\"alpha\", \"beta\"]\n"
           "[[access]]\nobjects = \"*\"\nguests = [\"*\"]\nrights = \"rw\"\n";
}

// The client, run inside a guest: `get URL` prints "STATUS CONTENT-TYPE" then the body; `raw
// NAME` sends one of the requests below by hand and prints the status line; `idle-then-get URL`
// holds a connection that never finishes its request while it fetches URL.
constexpr const char* kClient = R"py(
import socket, sys, urllib.request, urllib.error
HOST, PORT = "10.77.1.1", 8080
RAW = {
    "garbage": b"GARBAGE\r\n\r\n",
    "no-version": b"GET /health.json\r\n\r\n",
    "not-found": b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n",
    "post": b"POST /health.json HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
    "huge": b"GET / HTTP/1.1\r\nX-Filler: " + b"a" * 20000 + b"\r\n\r\n",
}
def get(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            print(r.status, r.headers.get("Content-Type"))
            print(r.read().decode())
    except urllib.error.HTTPError as e:
        print(e.code, e.headers.get("Content-Type"))
        print(e.read().decode())
def raw(name):
    s = socket.create_connection((HOST, PORT), timeout=5)
    try:
        s.sendall(RAW[name])
    except OSError:
        pass  # the server may close on a huge head before it is all sent; its answer is still there
    out = b""
    while True:
        try:
            chunk = s.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        out += chunk
    print(out.split(b"\r\n")[0].decode())
if sys.argv[1] == "get":
    get(sys.argv[2])
elif sys.argv[1] == "raw":
    raw(sys.argv[2])
elif sys.argv[1] == "idle-then-get":
    idle = socket.create_connection((HOST, PORT), timeout=5)
    idle.sendall(b"GET / HT")
    get(sys.argv[2])
    idle.close()
)py";

class HealthPage : public ::testing::Test {
protected:
    void SetUp() override {
        NK_REQUIRE_ROOT();
        char pattern[] = "/tmp/nk-health-XXXXXX";
        dir = ::mkdtemp(pattern);
        ::chmod(dir.c_str(), 0755);
        // nkd hides its run directory from the guests: the client script lives beside it.
        run_dir = dir + "/run";
        std::filesystem::create_directory(run_dir);
        client = dir + "/client.py";
        std::ofstream(client) << kClient;
        platform = "hp" + std::to_string(::getpid()) + "x" + std::to_string(counter++);
    }
    void TearDown() override {
        (void)test::stop_nkd(nkd);
        if (!dir.empty()) std::filesystem::remove_all(dir);
    }

    void start_nkd() {
        const std::string config = run_dir + "/" + platform + ".toml";
        std::ofstream(config) << health_toml(platform);
        log = run_dir + "/nkd.log";
        nkd = test::start_nkd(run_dir, config, log);
        ASSERT_TRUE(test::wait_until([&] {
            return read_file(log).find("[alpha] nk-watchdog: health page on http://10.77.1.1:8080/") != std::string::npos &&
                   guest("beta")["state"] == "running";
        }, 15s, 20ms)) << read_file(log);
    }

    nlohmann::json guest(const std::string& name) const {
        auto out = test::run_command(run_dir, test::binary("nkctl") + " guests --json --platform " + platform);
        if (out.status != 0) return nullptr;
        for (const auto& g : nlohmann::json::parse(out.output, nullptr, false))
            if (g.is_object() && g["name"] == name) return g;
        return nullptr;
    }
    CommandResult client_in(const std::string& guest_name, const std::string& args) const {
        return test::run_command(run_dir, test::binary("nkctl") + " exec --platform " + platform + " " + guest_name +
                                              " -- python3 " + client + " " + args);
    }
    // GET from beta, retried while beta's network comes up (after a start or a restart).
    CommandResult fetch(const std::string& path) const {
        CommandResult out;
        (void)test::wait_until([&] {
            out = client_in("beta", "get http://10.77.1.1:8080" + path);
            return out.status == 0;
        }, 15s, 100ms);
        return out;
    }
    static nlohmann::json body_json(const CommandResult& out) {
        const auto newline = out.output.find('\n');
        return newline == std::string::npos ? nlohmann::json(nullptr)
                                            : nlohmann::json::parse(out.output.substr(newline + 1), nullptr, false);
    }
    static nlohmann::json entry(const nlohmann::json& health, const std::string& name) {
        if (health.is_object() && health["guests"].is_array())
            for (const auto& g : health["guests"])
                if (g["name"] == name) return g;
        return nullptr;
    }

    static inline int counter = 0;
    std::string dir, run_dir, platform, client, log;
    pid_t nkd = -1;
};

TEST_F(HealthPage, OtherGuestReadsBothGuestsAndAHangInTheFailureHistory) {
    start_nkd();
    auto first = fetch("/health.json");
    ASSERT_EQ(first.status, 0) << first.output << read_file(log);
    EXPECT_EQ(first.output.rfind("200 application/json\n", 0), 0U) << first.output;
    auto health = body_json(first);
    ASSERT_TRUE(health.is_object()) << first.output;
    EXPECT_EQ(health["platform"], platform);
    EXPECT_EQ(health["served_by"], "alpha");
    for (const char* name : {"alpha", "beta"}) {
        auto g = entry(health, name);
        ASSERT_TRUE(g.is_object()) << name << ": " << health.dump(2);
        EXPECT_EQ(g["state"], "running") << g.dump();
        EXPECT_EQ(g["incarnation"], 1) << g.dump();
        EXPECT_EQ(g["restarts"], 0) << g.dump();
        ASSERT_TRUE(g["heartbeat"].is_object()) << g.dump();  // both watchdogs beat
        EXPECT_EQ(g["heartbeat"]["period_ms"], 20);
        EXPECT_EQ(g["heartbeat"]["health"], 0);
        EXPECT_FALSE(g["heartbeat"]["stale"].get<bool>()) << g.dump();
        EXPECT_LT(g["heartbeat"]["age_ms"].get<double>(), 60'000.0) << g.dump();
    }
    // No failure yet (beta's start may be there: it can come up after alpha's watchdog).
    ASSERT_TRUE(health["history"].is_array()) << health.dump(2);
    for (const auto& e : health["history"]) EXPECT_NE(e["event"], "failure") << health.dump(2);

    // beta's init stops: beta's watchdog stops beating, alpha's finds the stale beat.
    ASSERT_EQ(::kill(guest("beta")["pid"].get<pid_t>(), SIGSTOP), 0);
    ASSERT_TRUE(test::wait_until([&] {
        auto g = guest("beta");
        return g.is_object() && g["incarnation"] == 2 && g["state"] == "running";
    }, 20s, 20ms)) << read_file(log);
    nlohmann::json failure, restart;
    auto after = fetch("/health.json");
    ASSERT_TRUE(test::wait_until([&] {  // the history polls the table every 20 ms: give it a moment
        after = fetch("/health.json");
        health = body_json(after);
        failure = restart = nullptr;
        if (!health.is_object() || !health["history"].is_array()) return false;
        for (const auto& e : health["history"]) {
            if (e["guest"] == "beta" && e["event"] == "failure") failure = e;
            if (e["guest"] == "beta" && e["event"] == "restarted") restart = e;
        }
        return failure.is_object() && restart.is_object();
    }, 10s, 100ms)) << after.output << read_file(log);
    std::printf("[ history ] %s\n[ history ] %s\n", failure.dump().c_str(), restart.dump().c_str());
    EXPECT_EQ(failure["failure"]["kind"], "heartbeat") << failure.dump();
    EXPECT_EQ(failure["failure"]["detector"], "heartbeat") << failure.dump();
    EXPECT_EQ(failure["failure"]["reported_by"], "alpha") << failure.dump();
    EXPECT_GE(failure["failure"]["missed_heartbeats"].get<int>(), 3) << failure.dump();
    EXPECT_NE(failure["failure"]["reason"].get<std::string>().find("no heartbeat for"), std::string::npos) << failure.dump();
    EXPECT_FALSE(failure["failure"]["time"].get<std::string>().empty());
    EXPECT_EQ(restart["incarnation"], 2) << restart.dump();
    EXPECT_EQ(entry(health, "beta")["restarts"], 1);
    EXPECT_EQ(entry(health, "beta")["last_failure"]["detector"], "heartbeat");
    EXPECT_EQ(entry(health, "alpha")["incarnation"], 1) << "the serving guest was restarted\n" << read_file(log);
}

TEST_F(HealthPage, ServesHtmlAndRefusesBadRequestsWithoutHoldingUp) {
    start_nkd();
    auto page = fetch("/");
    ASSERT_EQ(page.status, 0) << page.output << read_file(log);
    EXPECT_EQ(page.output.rfind("200 text/html; charset=utf-8\n", 0), 0U) << page.output;
    EXPECT_NE(page.output.find("<!DOCTYPE html>"), std::string::npos);
    EXPECT_NE(page.output.find("fetch(\"/health.json\""), std::string::npos);
    EXPECT_EQ(page.output.find("http://"), std::string::npos) << "the page must not load anything from elsewhere";

    const std::pair<const char*, const char*> refusals[] = {{"garbage", "HTTP/1.1 400 Bad Request"},
                                                            {"no-version", "HTTP/1.1 400 Bad Request"},
                                                            {"not-found", "HTTP/1.1 404 Not Found"},
                                                            {"post", "HTTP/1.1 405 Method Not Allowed"},
                                                            {"huge", "HTTP/1.1 431 Request Header Fields Too Large"}};
    for (const auto& [name, status] : refusals) {
        auto out = client_in("beta", std::string("raw ") + name);
        EXPECT_EQ(out.status, 0) << name << ": " << out.output;
        EXPECT_EQ(out.output, std::string(status) + "\n") << name << "\n" << read_file(log);
    }
    // A client that never finishes its request does not keep the next one waiting.
    // (Retried only on "No route to host": once, on a loaded machine, beta's router answered a SYN
    // unreachable for a moment, a netbridge matter this test is not about; a held-up server
    // still fails, by the client's 5 s timeout.)
    CommandResult beside_idle;
    (void)test::wait_until([&] {
        beside_idle = client_in("beta", "idle-then-get http://10.77.1.1:8080/health.json");
        return beside_idle.output.find("No route to host") == std::string::npos;
    }, 3s, 200ms);
    EXPECT_EQ(beside_idle.output.rfind("200 application/json\n", 0), 0U) << beside_idle.output << read_file(log);
    // Nor did any of it touch the heartbeats.
    EXPECT_EQ(guest("alpha")["incarnation"], 1) << read_file(log);
    EXPECT_EQ(guest("beta")["incarnation"], 1) << read_file(log);
}

}  // namespace
}  // namespace nk
