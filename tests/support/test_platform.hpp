// Test support: small platforms and real guest processes.
#pragma once

#include <sys/types.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <thread>

#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "nk/nanokernel/platform_config.hpp"
#include "nk/nanokernel/region.hpp"

namespace nk::test {

// True in AddressSanitizer and ThreadSanitizer builds (gcc's macros, clang's __has_feature): tests
// scale their counts and relax their delivery floors there, never their correctness checks.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
inline constexpr bool kSanitized = true;
#else
inline constexpr bool kSanitized = false;
#endif
#else
inline constexpr bool kSanitized = false;
#endif

// The whole content of a file ("" when it cannot be read); read_trimmed drops the trailing
// newlines and spaces that /proc and cgroup files end with.
[[nodiscard]] std::string read_file(const std::string& path);
[[nodiscard]] std::string read_trimmed(const std::string& path);

// The highest CPU this process may run on: one the host's cpuset surely offers a child group, and
// not simply "all CPUs".
[[nodiscard]] std::uint32_t highest_allowed_cpu();

// A three-guest platform (linux, rt, mon; a link linux-rt; rules: rt may not touch "secret.*",
// may only read "ro.*"; everything else rw), with a unique name per call.
[[nodiscard]] PlatformConfig small_platform(const std::string& extra_toml = {});
[[nodiscard]] std::string small_platform_toml(const std::string& name, const std::string& extra_toml = {});

// Attaches in this process as guest `id`, with the descriptors the creator hands out.
[[nodiscard]] Region attach_as_guest(const Region& creator, std::uint16_t id);

// A fixture holding small_platform()'s region as its creator and one in-process attach per guest:
// linux (1), rt (2) and mon (3).
class SmallPlatformTest : public ::testing::Test {
protected:
    void SetUp() override;
    std::optional<Region> creator, linux_guest, rt_guest, mon_guest;
};

// A child process running nk_test_guest with `args`, holding the descriptors `who` may hold.
struct GuestProcess {
    pid_t pid = -1;
    int stdout_fd = -1;

    [[nodiscard]] std::string read_line(int timeout_ms = 5000) const;  // one line of its stdout
    [[nodiscard]] std::string read_all(int timeout_ms = 5000) const;    // everything until it exits
    // Waits for the child; returns its wait status.
    int wait() const;
};

[[nodiscard]] GuestProcess spawn_guest(const Region& region, Identity who, const std::vector<std::string>& args);

// The same with another program of this tree's bin directory.
[[nodiscard]] GuestProcess spawn_program(const Region& region, Identity who, const std::string& program,
                                         const std::vector<std::string>& args,
                                         const std::vector<std::string>& extra_env = {});

// Spawns nk_test_guest with only the environment given (attach by name).
[[nodiscard]] GuestProcess spawn_with_env(const std::vector<std::string>& env, const std::vector<std::string>& args);

// A shell command's exit status and its stdout+stderr, run with NK_RUN_DIR=run_dir.
struct CommandResult {
    int status = -1;
    std::string output;
};
[[nodiscard]] CommandResult run_command(const std::string& run_dir, const std::string& command);

// Starts nkd on `config` with NK_RUN_DIR=run_dir, its stderr to `log`, plus `extra_env`; returns
// its pid (stop it with stop_nkd).
[[nodiscard]] pid_t start_nkd(const std::string& run_dir, const std::string& config, const std::string& log,
                              const std::vector<std::pair<std::string, std::string>>& extra_env = {});
// SIGTERM to nkd `pid` (if > 0), waited for; returns its exit status, or -1.
int stop_nkd(pid_t pid);

// Polls `pred` every `poll` until it holds or `limit` has passed; then its last answer.
template <class Pred>
[[nodiscard]] bool wait_until(Pred pred, std::chrono::milliseconds limit,
                              std::chrono::milliseconds poll = std::chrono::milliseconds(10)) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
        if (pred()) return true;
        std::this_thread::sleep_for(poll);
    }
    return pred();
}

// Path of a built binary of this tree (nkd, nkctl, nk_test_guest).
[[nodiscard]] std::string binary(const std::string& name);

}  // namespace nk::test

// Skips the current test when not root, unless NK_REQUIRE_PRIVILEGED=1 (CI), where it fails.
#define NK_REQUIRE_ROOT()                                                                        \
    do {                                                                                         \
        if (::geteuid() != 0) {                                                                  \
            const char* required = std::getenv("NK_REQUIRE_PRIVILEGED");                         \
            if (required != nullptr && std::string(required) == "1") FAIL() << "needs root";     \
            GTEST_SKIP() << "needs root (mlock of the default platform, /run/nk)";               \
        }                                                                                        \
    } while (0)
