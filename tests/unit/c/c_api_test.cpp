// The C ABI (bindings/include/nk/nk.h) where a C++ fixture is handier: the C test program run
// against a real platform, C processes talking to C++ ones, faults only the creator can cause,
// attach by name through a serving process, and the library's exported symbols.
#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "nk/ipc/event.hpp"
#include "nk/ipc/port.hpp"
#include "nk/ipc/spsc_ring.hpp"
#include "nk/nanokernel/region_client.hpp"
#include "nk/nanokernel/region_server.hpp"
#include "nk/nk.h"
#include "test_platform.hpp"

namespace nk {
namespace {

using namespace std::chrono_literals;

// A run directory of the test's own, so that attach by name finds only what the test serves.
class RunDirectory {
public:
    RunDirectory() {
        char pattern[] = "/tmp/nk-c-test.XXXXXX";
        const char* made = ::mkdtemp(pattern);
        if (made != nullptr) path_ = made;
    }
    ~RunDirectory() {
        if (!path_.empty()) std::system(("rm -rf '" + path_ + "'").c_str());
    }
    RunDirectory(const RunDirectory&) = delete;
    RunDirectory& operator=(const RunDirectory&) = delete;
    [[nodiscard]] const std::string& path() const { return path_; }

private:
    std::string path_;
};

class CApiTest : public test::SmallPlatformTest {
protected:
    // Attaches through the C ABI as guest `id`, with descriptors the creator hands out.
    nk_region_t* c_attach(std::uint16_t id) {
        auto fds = creator->export_fds(Identity::guest(id));
        EXPECT_TRUE(fds) << fds.error().message;
        if (!fds) return nullptr;
        std::vector<int> raw;
        for (const auto& fd : *fds) raw.push_back(fd.get());
        nk_attach_options_t options;
        nk_attach_options_init(&options);
        options.guest_id = id;
        nk_region_t* region = nullptr;
        EXPECT_EQ(nk_region_attach_fds(raw.data(), raw.size(), &options, &region), NK_OK) << nk_last_error();
        return region;  // the library duplicated the descriptors; *fds closes ours
    }
};

std::string join_fds(const std::vector<UniqueFd>& fds) {
    std::string text;
    for (const auto& fd : fds) text += (text.empty() ? "" : ",") + std::to_string(fd.get());
    return text;
}

// A program run with exactly `env` (plus the sanitizer and path settings of this process),
// inheriting exactly `keep` of the descriptors, its stdout and stderr in one pipe.
struct Program {
    pid_t pid = -1;
    int output_fd = -1;

    // Everything it writes until it exits (or `timeout_ms` of silence: then it is killed).
    std::string read_all(int timeout_ms = 60'000) const {
        std::string output;
        for (;;) {
            pollfd p{output_fd, POLLIN, 0};
            if (::poll(&p, 1, timeout_ms) <= 0) {
                ::kill(pid, SIGKILL);
                return output + "<timeout>";
            }
            char buffer[512];
            const ssize_t n = ::read(output_fd, buffer, sizeof buffer);
            if (n <= 0) return output;
            output.append(buffer, static_cast<std::size_t>(n));
        }
    }
    // Its exit code, or 128 + the signal that ended it.
    int wait() const {
        int status = 0;
        while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        ::close(output_fd);
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
};

Program start(const std::string& path, const std::vector<std::string>& args, std::vector<std::string> env,
              const std::vector<const std::vector<UniqueFd>*>& keep) {
    for (const char* pass : {"PATH", "ASAN_OPTIONS", "UBSAN_OPTIONS", "TSAN_OPTIONS", "LD_LIBRARY_PATH"})
        if (const char* v = std::getenv(pass)) env.push_back(std::string(pass) + "=" + v);
    // Built before fork: after it, only async-signal-safe calls.
    std::vector<std::string> argv_text{path};
    argv_text.insert(argv_text.end(), args.begin(), args.end());
    std::vector<char*> argv, envp;
    for (auto& a : argv_text) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    int out[2];
    if (::pipe2(out, O_CLOEXEC) != 0) return {};
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::dup2(out[1], STDOUT_FILENO);
        ::dup2(out[1], STDERR_FILENO);
        for (const auto* set : keep)
            for (const auto& fd : *set) ::fcntl(fd.get(), F_SETFD, 0);  // inherit exactly these
        ::execve(path.c_str(), argv.data(), envp.data());
        ::_exit(127);
    }
    ::close(out[1]);
    return {pid, out[0]};
}

TEST_F(CApiTest, CProgramPassesEveryCheckAgainstARealPlatform) {
    auto linux_fds = creator->export_fds(Identity::guest(1));
    auto rt_fds = creator->export_fds(Identity::guest(2));
    ASSERT_TRUE(linux_fds && rt_fds);
    RunDirectory run_dir;
    ASSERT_FALSE(run_dir.path().empty());
    std::vector<std::string> env = export_env(*linux_fds, Identity::guest(1));
    env.push_back("NK_C_TEST_RT_FDS=" + join_fds(*rt_fds));
    env.push_back("NK_RUN_DIR=" + run_dir.path());
    const Program program = start(NK_C_API_TEST_PROGRAM, {}, env, {&*linux_fds, &*rt_fds});
    ASSERT_GT(program.pid, 0);
    const std::string output = program.read_all();
    EXPECT_EQ(program.wait(), 0) << output;
    EXPECT_NE(output.find(", 0 failed"), std::string::npos) << output;
}

TEST_F(CApiTest, CExamplePortPairDeliversEveryReading) {
#ifndef NK_C_EXAMPLE_PORT_PAIR
    GTEST_SKIP() << "the examples are not built (NK_BUILD_EXAMPLES=OFF)";
#else
    auto rt_fds = creator->export_fds(Identity::guest(2));
    auto linux_fds = creator->export_fds(Identity::guest(1));
    ASSERT_TRUE(linux_fds && rt_fds);
    const Program receiver =
        start(NK_C_EXAMPLE_PORT_PAIR, {"receive", "linux"}, export_env(*rt_fds, Identity::guest(2)), {&*rt_fds});
    ASSERT_GT(receiver.pid, 0);
    // The sender may only start once the port exists: the receiver says so first.
    std::string first;
    for (char c = 0; c != '\n';) {
        pollfd p{receiver.output_fd, POLLIN, 0};
        ASSERT_EQ(::poll(&p, 1, 10'000), 1) << "the receiver said nothing: " << first;
        ASSERT_EQ(::read(receiver.output_fd, &c, 1), 1) << first;
        first += c;
    }
    ASSERT_EQ(first, "receiving on c.readings\n");
    const Program sender =
        start(NK_C_EXAMPLE_PORT_PAIR, {"send", "2000"}, export_env(*linux_fds, Identity::guest(1)), {&*linux_fds});
    ASSERT_GT(sender.pid, 0);
    const std::string received = receiver.read_all();
    const std::string sent = sender.read_all();
    EXPECT_EQ(sender.wait(), 0) << sent;
    EXPECT_EQ(receiver.wait(), 0) << received;
    EXPECT_NE(sent.find("sent 2000 readings"), std::string::npos) << sent;
    EXPECT_NE(received.find("reading 0: 21.000 C\n"), std::string::npos);
    EXPECT_NE(received.find("reading 1999: 21.990 C\nend after 2000 readings\n"), std::string::npos)
        << received.substr(received.size() > 300 ? received.size() - 300 : 0);
    // The receiver removed its port on the way out.
    EXPECT_FALSE(ipc::PortSender::open(*linux_guest, "c.readings"));
#endif
}

TEST_F(CApiTest, CProcessSendsThroughAPortToACppReceiver) {
    auto inbox = ipc::Port::create(*rt_guest, "c.inbox", {4096, 128, "linux"});
    ASSERT_TRUE(inbox) << inbox.error().message;
    constexpr int kMessages = 500;  // several times what the ring holds: the child waits for room
    const pid_t pid = ::fork();
    if (pid == 0) {
        nk_region_t* region = c_attach(1);
        nk_port_sender_t* sender = nullptr;
        if (region == nullptr || nk_port_sender_open(region, "c.inbox", &sender) != NK_OK) ::_exit(2);
        for (int i = 0; i < kMessages; ++i) {
            const std::string text = "message " + std::to_string(i);
            if (nk_port_send(sender, text.data(), text.size(), 5 * NK_SECOND) != NK_OK) ::_exit(3);
        }
        nk_port_sender_close(sender);
        nk_region_close(region);
        ::_exit(0);
    }
    std::array<std::byte, 128> buffer{};
    for (int i = 0; i < kMessages; ++i) {
        auto got = inbox->receive(buffer, 5s);
        ASSERT_TRUE(got) << got.error().message;
        ASSERT_TRUE(*got) << "timed out at message " << i;
        EXPECT_EQ(std::string(reinterpret_cast<const char*>(buffer.data()), **got), "message " + std::to_string(i));
    }
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

TEST_F(CApiTest, CProcessWaitsOnAnEventAndAnswersThroughAnSpscRing) {
    auto ping = ipc::Event::create(*linux_guest, "c.ping", ipc::EventMode::AutoReset, "rt");
    auto ring = ipc::SpscRing::create(*linux_guest, "c.pong", sizeof(std::uint32_t), 8, "rt");
    ASSERT_TRUE(ping && ring);
    auto rx = ring->consumer();
    ASSERT_TRUE(rx);
    constexpr std::uint32_t kRounds = 1000;
    const pid_t pid = ::fork();
    if (pid == 0) {
        nk_region_t* region = c_attach(2);
        nk_event_t* event = nullptr;
        nk_spsc_t* pong = nullptr;
        if (region == nullptr || nk_event_open(region, "c.ping", &event) != NK_OK ||
            nk_spsc_open(region, "c.pong", sizeof(std::uint32_t), &pong) != NK_OK)
            ::_exit(2);
        for (std::uint32_t i = 0; i < kRounds; ++i) {
            if (nk_event_wait_for(event, 5 * NK_SECOND) != NK_OK) ::_exit(3);
            if (nk_spsc_try_push(pong, &i, sizeof i) != NK_OK) ::_exit(4);
        }
        nk_spsc_close(pong);
        nk_event_close(event);
        nk_region_close(region);
        ::_exit(0);
    }
    for (std::uint32_t i = 0; i < kRounds; ++i) {
        ASSERT_TRUE(ping->signal());
        std::uint32_t answer = ~0U;
        const auto deadline = std::chrono::steady_clock::now() + 5s;
        while (!rx->try_pop(std::as_writable_bytes(std::span(&answer, 1)))) {
            ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "no answer to ping " << i;
            std::this_thread::yield();
        }
        ASSERT_EQ(answer, i);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

TEST_F(CApiTest, SendingToAPortWhoseOwnerIsDownIsNotRunning) {
    nk_region_t* rt = c_attach(2);
    nk_region_t* linux_c = c_attach(1);
    ASSERT_NE(rt, nullptr);
    ASSERT_NE(linux_c, nullptr);
    nk_port_t* inbox = nullptr;
    nk_port_sender_t* out = nullptr;
    ASSERT_EQ(nk_port_create(rt, "c.down", nullptr, &inbox), NK_OK) << nk_last_error();
    ASSERT_EQ(nk_port_sender_open(linux_c, "c.down", &out), NK_OK) << nk_last_error();
    EXPECT_EQ(nk_port_try_send(out, "up", 2), NK_OK);
    creator->set_guest_state(2, layout::GuestState::Down, false);
    EXPECT_EQ(nk_port_try_send(out, "down", 4), NK_E_NOT_RUNNING);
    const auto start = std::chrono::steady_clock::now();
    EXPECT_EQ(nk_port_send(out, "down", 4, NK_SECOND), NK_E_NOT_RUNNING);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 500ms);  // at once, not at the timeout
    EXPECT_NE(std::string(nk_last_error()).find("belongs to guest 'rt', which is down"), std::string::npos)
        << nk_last_error();
    nk_port_sender_close(out);
    nk_port_close(inbox);
    nk_region_close(linux_c);
    nk_region_close(rt);
}

TEST_F(CApiTest, ACorruptRingSlotStopsTheCHandleWithCorrupt) {
    nk_region_t* rt = c_attach(2);
    ASSERT_NE(rt, nullptr);
    nk_spsc_t* ring = nullptr;
    ASSERT_EQ(nk_spsc_create(rt, "c.victim", 4, 8, nullptr, &ring), NK_OK) << nk_last_error();
    std::uint32_t item = 7;
    ASSERT_EQ(nk_spsc_try_push(ring, &item, sizeof item), NK_OK);
    ASSERT_EQ(nk_spsc_try_pop(ring, &item, sizeof item), NK_OK);
    // A wild peer writes a sequence word no protocol allows into the slot the consumer reads next.
    auto seen = ipc::SpscRing::open(*creator, "c.victim");
    ASSERT_TRUE(seen) << seen.error().message;
    auto slots = creator->bytes(seen->region_offset() + sizeof(ipc::SpscRingHeader), ipc::spsc_slot_stride(4) * 8, true);
    ASSERT_TRUE(slots);
    auto* second_slot = reinterpret_cast<ipc::SpscSlot*>(*slots + ipc::spsc_slot_stride(4));
    layout::atomic(second_slot->sequence).store(1000, std::memory_order_release);
    EXPECT_EQ(nk_spsc_try_pop(ring, &item, sizeof item), NK_E_CORRUPT);
    EXPECT_NE(std::string(nk_last_error()).find("c.victim"), std::string::npos) << nk_last_error();
    EXPECT_EQ(nk_spsc_try_pop(ring, &item, sizeof item), NK_E_CORRUPT);  // stays stopped
    nk_spsc_close(ring);
    nk_region_close(rt);
}

TEST_F(CApiTest, AttachByNameAsksTheProcessServingThePlatform) {
    RunDirectory run_dir;
    ASSERT_FALSE(run_dir.path().empty());
    const char* previous = std::getenv("NK_RUN_DIR");
    const std::string saved = previous != nullptr ? previous : "";
    ::setenv("NK_RUN_DIR", run_dir.path().c_str(), 1);
    auto server = RegionServer::listen(*creator);
    ASSERT_TRUE(server) << server.error().message;
    std::atomic<bool> stop{false};
    std::thread serving([&] {
        while (!stop.load(std::memory_order_relaxed)) {
            pollfd p{server->fd(), POLLIN, 0};
            if (::poll(&p, 1, 50) == 1) (void)server->serve_one();
        }
    });
    const std::string platform(creator->platform_name());

    nk_attach_options_t options;
    nk_attach_options_init(&options);
    options.guest_name = "rt";
    nk_region_t* rt = nullptr;
    EXPECT_EQ(nk_region_attach_by_name(platform.c_str(), &options, &rt), NK_OK) << nk_last_error();
    EXPECT_EQ(nk_region_guest_id(rt), 2);
    EXPECT_EQ(nk_region_role(rt), NK_ROLE_GUEST);
    EXPECT_EQ(std::string(nk_region_platform(rt)), platform);

    options.guest_name = "nobody";
    nk_region_t* nobody = nullptr;
    EXPECT_EQ(nk_region_attach_by_name(platform.c_str(), &options, &nobody), NK_E_NOT_FOUND);
    EXPECT_NE(std::string(nk_last_error()).find("no guest 'nobody'"), std::string::npos) << nk_last_error();

    options.guest_name = nullptr;
    options.guest_id = 3;
    nk_region_t* mon = nullptr;
    EXPECT_EQ(nk_region_attach_by_name(platform.c_str(), &options, &mon), NK_OK) << nk_last_error();
    EXPECT_EQ(nk_region_guest_id(mon), 3);

    options.role = NK_ROLE_OBSERVER;
    nk_region_t* observer = nullptr;
    EXPECT_EQ(nk_region_attach_by_name(platform.c_str(), &options, &observer), NK_OK) << nk_last_error();
    EXPECT_EQ(nk_region_role(observer), NK_ROLE_OBSERVER);
    EXPECT_EQ(nk_region_guest_id(observer), 0);
    // An observer maps everything read-only: creating is refused, reading what rt made works.
    nk_segment_t* segment = nullptr;
    EXPECT_NE(nk_segment_create(observer, "c.observed", 4096, nullptr, &segment), NK_OK);
    ASSERT_EQ(nk_segment_create(rt, "c.observed", 4096, nullptr, &segment), NK_OK) << nk_last_error();
    std::memcpy(nk_segment_data(segment), "seen", 5);
    nk_segment_t* view = nullptr;
    ASSERT_EQ(nk_segment_open(observer, "c.observed", NK_RIGHTS_READ, &view), NK_OK) << nk_last_error();
    EXPECT_STREQ(static_cast<const char*>(nk_segment_data(view)), "seen");
    nk_segment_close(view);
    nk_segment_close(segment);

    stop.store(true, std::memory_order_relaxed);
    serving.join();
    nk_region_close(observer);
    nk_region_close(mon);
    nk_region_close(rt);
    if (previous != nullptr) ::setenv("NK_RUN_DIR", saved.c_str(), 1);
    else ::unsetenv("NK_RUN_DIR");
}

TEST(CApi, ResultsHaveDistinctNames) {
    std::set<std::string> names;
    const std::vector<nk_result_t> all{
        NK_OK, NK_E_BAD_MAGIC, NK_E_VERSION_MISMATCH, NK_E_SIZE_MISMATCH, NK_E_CORRUPT, NK_E_NOT_FOUND,
        NK_E_ACCESS_DENIED, NK_E_NOT_MAPPED, NK_E_EXISTS, NK_E_NO_SPACE, NK_E_DIRECTORY_FULL, NK_E_BUSY,
        NK_E_INVALID, NK_E_SIZE_CONFLICT, NK_E_NOT_RUNNING, NK_E_FULL, NK_E_EMPTY, NK_E_TIMED_OUT,
        NK_E_TOO_LARGE, NK_E_BUFFER_TOO_SMALL, NK_E_LOST, NK_E_SYSTEM, NK_E_NO_MEMORY, NK_E_INTERNAL};
    for (nk_result_t r : all) {
        const std::string name = nk_result_str(r);
        EXPECT_EQ(name.rfind("NK_", 0), 0U) << name;
        EXPECT_NE(name, "NK_E_UNKNOWN") << static_cast<int>(r);
        names.insert(name);
    }
    EXPECT_EQ(names.size(), all.size());
    // The first values are RegionError's, one to one (a C++ error's code converts by value).
    for (int v = 1; v <= 14; ++v)
        EXPECT_NE(std::string(nk_result_str(static_cast<nk_result_t>(v))), "NK_E_UNKNOWN") << v;
    EXPECT_EQ(static_cast<int>(NK_E_NOT_RUNNING), static_cast<int>(RegionError::NotRunning));
}

TEST(CApi, NoRegionInTheEnvironmentIsNotFound) {
    // This test process was not started as a guest: nothing in NK_REGION_FDS or NK_PLATFORM.
    if (std::getenv("NK_REGION_FDS") != nullptr || std::getenv("NK_PLATFORM") != nullptr)
        GTEST_SKIP() << "the test runs with a region in its environment";
    nk_region_t* region = nullptr;
    EXPECT_EQ(nk_region_attach(&region), NK_E_NOT_FOUND);
    EXPECT_EQ(region, nullptr);
    EXPECT_NE(std::string(nk_last_error()).find("NK_PLATFORM"), std::string::npos) << nk_last_error();
}

// The functions nk.h declares, by name.
std::set<std::string> declared_functions() {
    std::ifstream header(std::string(NK_SOURCE_DIR) + "/bindings/include/nk/nk.h");
    std::stringstream text;
    text << header.rdbuf();
    const std::string all = text.str();
    std::set<std::string> names;
    const std::regex declaration(R"(\b(nk_[a-z0-9_]+)\()");
    for (auto it = std::sregex_iterator(all.begin(), all.end(), declaration); it != std::sregex_iterator(); ++it)
        names.insert((*it)[1]);
    return names;
}

// The functions added in nk 1.1 (nk.map's NK_1.1 node); everything else in nk.h is NK_1.0.
const std::set<std::string> kSince11 = {"nk_watchdog_register_critical", "nk_watchdog_kick", "nk_watchdog_set_health",
                                        "nk_watchdog_stopping"};

TEST(CApi, TheLibraryExportsExactlyTheFunctionsOfNkH) {
    FILE* pipe = ::popen(("nm -D --defined-only '" + std::string(NK_C_LIBRARY) + "' 2>&1").c_str(), "r");
    ASSERT_NE(pipe, nullptr);
    std::set<std::string> exported, since11;
    std::vector<std::string> foreign;
    std::array<char, 512> line{};
    while (std::fgets(line.data(), line.size(), pipe) != nullptr) {
        std::istringstream fields(line.data());
        std::string address, type, symbol;
        fields >> address >> type >> symbol;
        if (symbol.empty()) continue;
        if (type == "A" && (symbol == "NK_1.0" || symbol == "NK_1.1")) continue;  // the version nodes themselves
        const auto at = symbol.find("@@NK_1.");
        if (symbol.rfind("nk_", 0) != 0 || at == std::string::npos) {
            foreign.push_back(type + " " + symbol);
            continue;
        }
        const std::string name = symbol.substr(0, at), version = symbol.substr(at + 2);
        // Each function carries the version it came with: NK_1.1 for the 1.1 ones, NK_1.0 for the rest.
        if (version != (kSince11.count(name) != 0 ? "NK_1.1" : "NK_1.0")) foreign.push_back(type + " " + symbol);
        if (version == "NK_1.1") since11.insert(name);
        exported.insert(name);
    }
    ASSERT_EQ(::pclose(pipe), 0) << "nm failed on " << NK_C_LIBRARY;
    EXPECT_TRUE(foreign.empty()) << "exported beyond nk_*@@NK_1.0 and 1.1's nk_watchdog_*@@NK_1.1: "
                                 << ::testing::PrintToString(foreign);
    EXPECT_EQ(since11, kSince11);
    const std::set<std::string> declared = declared_functions();
    EXPECT_GT(declared.size(), 60U);
    EXPECT_EQ(exported, declared);
}

// Bad arguments are refused before anything is sent; with no watchdog listening, a valid call
// fails as a system error that says where it looked.
TEST(CApi, CriticalProcessCallsCheckTheirArguments) {
    ::setenv("NK_WATCHDOG_SOCKET", "@nk-watchdog-c-api-test-nobody", 1);
    EXPECT_EQ(nk_watchdog_register_critical(0, "x"), NK_E_INVALID);
    EXPECT_EQ(nk_watchdog_register_critical(1500 * NK_MICROSECOND, "x"), NK_E_INVALID);
    EXPECT_EQ(nk_watchdog_register_critical(61 * NK_SECOND, "x"), NK_E_INVALID);
    EXPECT_EQ(nk_watchdog_register_critical(100 * NK_MILLISECOND, "two\nlines"), NK_E_INVALID);
    EXPECT_NE(std::string(nk_last_error()).find("newline"), std::string::npos) << nk_last_error();
    EXPECT_EQ(nk_watchdog_register_critical(100 * NK_MILLISECOND, "x"), NK_E_SYSTEM);
    EXPECT_NE(std::string(nk_last_error()).find("nk-watchdog-c-api-test-nobody"), std::string::npos) << nk_last_error();
    EXPECT_EQ(nk_watchdog_kick(), NK_E_SYSTEM);
    ::unsetenv("NK_WATCHDOG_SOCKET");
}

}  // namespace
}  // namespace nk
