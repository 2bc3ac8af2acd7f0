// The region keeper (region_keeper.hpp).
#include "nk/nanokernel/region_keeper.hpp"
#include "nk/nanokernel/timer_core.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <fstream>
#include <set>

namespace nk {
namespace {

constexpr const char* kKeeperName = "nk-keeper";

[[noreturn]] void keep(const Region& region, const std::set<int>& held) {
    ::setsid();
    ::prctl(PR_SET_NAME, kKeeperName, 0, 0, 0);
    // A terminal's hang-up or Ctrl-C is not the platform's end; only nkd (or SIGKILL) ends it.
    for (int sig : {SIGHUP, SIGINT, SIGTERM, SIGPIPE, SIGQUIT}) ::signal(sig, SIG_IGN);
    const int null = ::open("/dev/null", O_RDWR);
    for (int fd = 0; fd < 3; ++fd) ::dup2(null, fd);
    for (int fd = 3; fd < 4096; ++fd)
        if (held.count(fd) == 0) ::close(fd);
    // The guests' virtual timers are served here, not in nkd, so they keep firing while nkd is
    // away. (The fork left this process one thread: starting another is safe.)
    TimerCore::Options options;
    options.timers = true;
    options.cpus = TimerCore::rt_guest_cpus(region);
    auto timers = TimerCore::start(region, std::move(options));
    (void)timers;  // held until the keeper ends; without it the guests' timers stay silent
    for (;;) ::pause();
}

}  // namespace

Result<pid_t> start_region_keeper(const Region& region, const std::vector<int>& consoles, const std::string& pid_file) {
    std::set<int> held;
    for (const auto& area : region.areas())
        if (area.mapped) held.insert(region.area_fd(area.index));
    const pid_t pid = ::fork();
    if (pid < 0) return fail(Error{std::error_code(errno, std::system_category()),
                                   std::string("fork of the region keeper: ") + std::strerror(errno)});
    if (pid == 0) {
        for (std::size_t i = 0; i < consoles.size(); ++i) {
            if (consoles[i] < 0) continue;
            const int at = kKeeperConsoleFd + static_cast<int>(i);
            ::dup2(consoles[i], at);  // dup2 clears close-on-exec; the keeper never execs anyway
            held.insert(at);
        }
        keep(region, held);
    }
    std::ofstream(pid_file) << pid << "\n";
    return pid;
}

Result<KeptRegion> reopen_from_keeper(std::string_view platform, std::size_t console_count, const std::string& pid_file) {
    pid_t pid = -1;
    if (!(std::ifstream(pid_file) >> pid) || pid <= 0)
        return fail(RegionError::NotFound, "no region keeper (no pid file " + pid_file + ")");
    const std::string proc = "/proc/" + std::to_string(pid);
    std::string comm;
    std::getline(std::ifstream(proc + "/comm"), comm);
    if (comm != kKeeperName) return fail(RegionError::NotFound, "the region keeper (pid " + std::to_string(pid) + ") is gone");

    KeptRegion kept;
    kept.keeper = pid;
    const std::string prefix = "/memfd:nk:" + std::string(platform) + ":";
    DIR* dir = ::opendir((proc + "/fd").c_str());
    if (dir == nullptr)
        return fail(Error{std::error_code(errno, std::system_category()),
                          "cannot list the region keeper's descriptors: " + std::string(std::strerror(errno))});
    while (const dirent* entry = ::readdir(dir)) {
        if (entry->d_name[0] == '.') continue;
        const std::string path = proc + "/fd/" + entry->d_name;
        std::array<char, 512> target{};
        const ssize_t n = ::readlink(path.c_str(), target.data(), target.size() - 1);
        if (n <= 0 || std::string_view(target.data(), static_cast<std::size_t>(n)).rfind(prefix, 0) != 0) continue;
        const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
        if (fd < 0) {
            ::closedir(dir);
            return fail(Error{std::error_code(errno, std::system_category()),
                              "cannot reopen " + std::string(target.data()) + " from the keeper: " + std::strerror(errno)});
        }
        kept.areas.emplace_back(fd);
    }
    ::closedir(dir);
    if (kept.areas.empty())
        return fail(RegionError::NotFound, "process " + std::to_string(pid) + " keeps no area of platform '" +
                                               std::string(platform) + "'");
    for (std::size_t i = 0; i < console_count; ++i) {
        const std::string path = proc + "/fd/" + std::to_string(kKeeperConsoleFd + static_cast<int>(i));
        kept.consoles.emplace_back(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
    }
    return kept;
}

void stop_region_keeper(pid_t keeper, const std::string& pid_file) {
    if (keeper > 0) {
        ::kill(keeper, SIGKILL);
        ::waitpid(keeper, nullptr, 0);  // ours when we forked it; reaped by init when adopted
    }
    ::unlink(pid_file.c_str());
}

}  // namespace nk
