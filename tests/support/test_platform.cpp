#include "test_platform.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sched.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace nk::test {

std::string read_file(const std::string& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

std::string read_trimmed(const std::string& path) {
    std::string text = read_file(path);
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    return text;
}

std::uint32_t highest_allowed_cpu() {
    cpu_set_t set;
    CPU_ZERO(&set);
    EXPECT_EQ(::sched_getaffinity(0, sizeof set, &set), 0);
    std::uint32_t cpu = 0;
    for (int i = 0; i < CPU_SETSIZE; ++i)
        if (CPU_ISSET(i, &set)) cpu = static_cast<std::uint32_t>(i);
    return cpu;
}

std::string small_platform_toml(const std::string& name, const std::string& extra_toml) {
    return "[platform]\n"
           "name = \"" + name + "\"\n"
           "[areas]\n"
           "link_size = \"256 KiB\"\n"
           "common_size = \"256 KiB\"\n"
           "pnv_size = \"256 KiB\"\n"
           "[[guests]]\nid = 1\nname = \"linux\"\nkind = \"linux\"\nmemory = \"256 KiB\"\ncpus = [0]\n"
           "[[guests]]\nid = 2\nname = \"rt\"\nkind = \"rt\"\nmemory = \"256 KiB\"\ncpus = [0]\nsched = \"rt\"\npriority = 50\n"
           "[[guests]]\nid = 3\nname = \"mon\"\nkind = \"linux\"\nmemory = \"256 KiB\"\ncpus = [0]\n"
           "[[links]]\nguests = [\"linux\", \"rt\"]\n"
           "[[access]]\nobjects = \"secret.*\"\nguests = [\"rt\"]\nrights = \"none\"\n"
           "[[access]]\nobjects = \"ro.*\"\nguests = [\"rt\"]\nrights = \"r\"\n"
           "[[access]]\nobjects = \"*\"\nguests = [\"*\"]\nrights = \"rw\"\n" +
           extra_toml;
}

PlatformConfig small_platform(const std::string& extra_toml) {
    static std::atomic<int> counter{0};
    const std::string name = "t" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
    auto config = parse_platform_config(small_platform_toml(name, extra_toml), "test.toml");
    if (!config) throw std::runtime_error(config.error().message);
    return *config;
}

Region attach_as_guest(const Region& creator, std::uint16_t id) {
    auto fds = creator.export_fds(Identity::guest(id));
    if (!fds) throw std::runtime_error(fds.error().message);
    auto region = Region::attach(std::move(*fds), Identity::guest(id));
    if (!region) throw std::runtime_error(region.error().message);
    return std::move(*region);
}

void SmallPlatformTest::SetUp() {
    auto created = Region::create(small_platform());
    ASSERT_TRUE(created) << created.error().message;
    creator.emplace(std::move(*created));
    linux_guest.emplace(attach_as_guest(*creator, 1));
    rt_guest.emplace(attach_as_guest(*creator, 2));
    mon_guest.emplace(attach_as_guest(*creator, 3));
}

std::string binary(const std::string& name) { return std::string(NK_BINARY_DIR) + "/" + name; }

namespace {

GuestProcess spawn(const std::vector<std::string>& env, const std::vector<int>& keep_fds,
                   const std::vector<std::string>& args, const std::string& program = "nk_test_guest") {
    int out[2];
    if (::pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe2");
    const std::string path = binary(program);
    // Everything the child needs is built before fork: after it, only async-signal-safe calls.
    std::vector<std::string> environment = env;
    if (const char* v = std::getenv("PATH")) environment.push_back(std::string("PATH=") + v);
    // Some children fault on purpose (a write to a read-only area): the test wants the real
    // SIGSEGV, not a sanitizer's report of it, so sanitizers leave SIGSEGV alone in children.
    for (const char* pass : {"ASAN_OPTIONS", "UBSAN_OPTIONS", "TSAN_OPTIONS"}) {
        const char* v = std::getenv(pass);
        environment.push_back(std::string(pass) + "=" + (v != nullptr ? std::string(v) + ":" : "") + "handle_segv=0");
    }
    std::vector<char*> argv{const_cast<char*>(path.c_str())};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    std::vector<char*> envp;
    for (const auto& e : environment) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::dup2(out[1], STDOUT_FILENO);
        for (int fd : keep_fds) ::fcntl(fd, F_SETFD, 0);  // inherit exactly these
        ::execve(path.c_str(), argv.data(), envp.data());
        ::_exit(127);
    }
    ::close(out[1]);
    return GuestProcess{pid, out[0]};
}

}  // namespace

GuestProcess spawn_guest(const Region& region, Identity who, const std::vector<std::string>& args) {
    auto fds = region.export_fds(who);
    if (!fds) throw std::runtime_error(fds.error().message);
    std::vector<int> raw;
    for (const auto& fd : *fds) raw.push_back(fd.get());
    return spawn(export_env(*fds, who), raw, args);  // *fds closes the parent's copies on return
}

GuestProcess spawn_program(const Region& region, Identity who, const std::string& program,
                           const std::vector<std::string>& args, const std::vector<std::string>& extra_env) {
    auto fds = region.export_fds(who);
    if (!fds) throw std::runtime_error(fds.error().message);
    std::vector<int> raw;
    for (const auto& fd : *fds) raw.push_back(fd.get());
    auto env = export_env(*fds, who);
    env.insert(env.end(), extra_env.begin(), extra_env.end());
    return spawn(env, raw, args, program);
}

GuestProcess spawn_with_env(const std::vector<std::string>& env, const std::vector<std::string>& args) {
    return spawn(env, {}, args);
}

std::string GuestProcess::read_line(int timeout_ms) const {
    std::string line;
    for (;;) {
        pollfd p{stdout_fd, POLLIN, 0};
        if (::poll(&p, 1, timeout_ms) <= 0) return line + "<timeout>";
        char c;
        const ssize_t n = ::read(stdout_fd, &c, 1);
        if (n <= 0) return line;
        if (c == '\n') return line;
        line += c;
    }
}

std::string GuestProcess::read_all(int timeout_ms) const {
    std::string all;
    for (;;) {
        pollfd p{stdout_fd, POLLIN, 0};
        if (::poll(&p, 1, timeout_ms) <= 0) return all + "<timeout>";
        char buffer[512];
        const ssize_t n = ::read(stdout_fd, buffer, sizeof buffer);
        if (n <= 0) return all;
        all.append(buffer, static_cast<std::size_t>(n));
    }
}

int GuestProcess::wait() const {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    ::close(stdout_fd);
    return status;
}

pid_t start_nkd(const std::string& run_dir, const std::string& config, const std::string& log,
                const std::vector<std::pair<std::string, std::string>>& extra_env) {
    const std::string bin = binary("nkd");
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::setenv("NK_RUN_DIR", run_dir.c_str(), 1);
        for (const auto& [key, value] : extra_env) ::setenv(key.c_str(), value.c_str(), 1);
        const int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        ::dup2(out, 2);
        ::execl(bin.c_str(), bin.c_str(), "--config", config.c_str(), static_cast<char*>(nullptr));
        ::_exit(127);
    }
    return pid;
}

int stop_nkd(pid_t pid) {
    if (pid <= 0) return -1;
    ::kill(pid, SIGTERM);
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

CommandResult run_command(const std::string& run_dir, const std::string& command) {
    const std::string full = "NK_RUN_DIR=" + run_dir + " " + command + " 2>&1";
    FILE* pipe = ::popen(full.c_str(), "r");
    CommandResult result;
    if (pipe == nullptr) return result;
    char buffer[4096];
    while (std::fgets(buffer, sizeof buffer, pipe) != nullptr) result.output += buffer;
    const int status = ::pclose(pipe);
    result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return result;
}

}  // namespace nk::test
