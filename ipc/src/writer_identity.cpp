#include "writer_identity.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>

namespace nk::ipc::detail {
namespace {

ProcessIdentity compute() noexcept {
    ProcessIdentity id;
    id.pid = static_cast<std::uint32_t>(::getpid());
    struct stat st {};
    // Namespace inodes are unsigned int in the kernel (proc_inum), so 32 bits hold them.
    if (::stat("/proc/self/ns/pid", &st) == 0) id.pid_ns = static_cast<std::uint32_t>(st.st_ino);
    id.start_time = process_start_time(id.pid);
    return id;
}

ProcessIdentity g_identity{};
std::once_flag g_once;

void after_fork_in_child() noexcept { g_identity = compute(); }

}  // namespace

const ProcessIdentity& this_process() noexcept {
    std::call_once(g_once, [] {
        g_identity = compute();
        (void)::pthread_atfork(nullptr, nullptr, &after_fork_in_child);
    });
    return g_identity;
}

namespace {

// Fields 3 (state) and 22 (start time) of /proc/<pid>/stat; false if it cannot be read.
bool read_stat(std::uint32_t pid, char& state, std::uint64_t& start_time) noexcept {
    char path[64];
    std::snprintf(path, sizeof path, "/proc/%u/stat", pid);
    int fd = -1;
    do fd = ::open(path, O_RDONLY | O_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    if (fd < 0) return false;
    char buffer[1024];
    ssize_t got = -1;
    do got = ::read(fd, buffer, sizeof buffer - 1);
    while (got < 0 && errno == EINTR);
    ::close(fd);
    if (got <= 0) return false;
    buffer[got] = '\0';
    // The command name (field 2) may hold spaces and ')': fields resume after the last ')'.
    const char* p = std::strrchr(buffer, ')');
    if (p == nullptr) return false;
    ++p;
    while (*p == ' ') ++p;
    state = *p;
    // After ')': field 3 (state) is the first; field 22 is the 20th from there.
    for (int field = 3; field < 22; ++field) {
        while (*p == ' ') ++p;
        while (*p != ' ' && *p != '\0') ++p;
        if (*p == '\0') return false;
    }
    while (*p == ' ') ++p;
    std::uint64_t value = 0;
    for (; *p >= '0' && *p <= '9'; ++p) value = value * 10 + static_cast<std::uint64_t>(*p - '0');
    start_time = value;
    return true;
}

}  // namespace

std::uint64_t process_start_time(std::uint32_t pid) noexcept {
    char state = 0;
    std::uint64_t start = 0;
    return read_stat(pid, state, start) ? start : 0;
}

Liveness process_liveness(std::uint32_t pid, std::uint32_t pid_ns, std::uint64_t start_time) noexcept {
    const ProcessIdentity& me = this_process();
    if (pid_ns == 0 || me.pid_ns == 0 || pid_ns != me.pid_ns) return Liveness::Unknown;
    if (pid == me.pid) return Liveness::Alive;
    if (pid == 0 || pid > 0x3fffffffU) return Liveness::Dead;  // no process has it: a scribbled or torn header
    if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) return Liveness::Dead;
    // The pid exists (EPERM means it exists too): a zombie, a reused pid, or the writer.
    char state = 0;
    std::uint64_t now = 0;
    if (!read_stat(pid, state, now)) return Liveness::Alive;  // cannot tell: keep waiting
    if (state == 'Z' || state == 'X') return Liveness::Dead;   // exited, not yet reaped
    if (start_time != 0 && now != start_time) return Liveness::Dead;  // the pid was reused
    return Liveness::Alive;
}

bool claimer_is_dead(const ClaimerIdentity& who, const Region* region) noexcept {
    switch (process_liveness(who.pid, who.pid_ns, who.start_time)) {
        case Liveness::Alive: return false;
        case Liveness::Dead: return true;
        case Liveness::Unknown: break;
    }
    // Another pid namespace: the claimer's guest tells. Without a region, or for a claimer outside
    // any guest, nothing can.
    if (region == nullptr || who.guest == layout::kNoGuest) return false;
    auto info = region->guest_status(who.guest);
    if (!info) return false;
    return info->state == layout::GuestState::Down || info->incarnation != who.incarnation;
}

}  // namespace nk::ipc::detail
