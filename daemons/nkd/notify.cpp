#include "notify.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string>

namespace nk::daemon {

void notify(std::string_view state) {
    const char* path = std::getenv("NOTIFY_SOCKET");
    if (path == nullptr || *path == '\0') return;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    const std::size_t length = std::strlen(path);
    if (length >= sizeof addr.sun_path) return;
    std::memcpy(addr.sun_path, path, length);
    if (addr.sun_path[0] == '@') addr.sun_path[0] = '\0';  // abstract socket
    const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return;
    const auto size = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + length);
    // Best effort, as sd_notify: a missing or slow listener (its queue full) must not stop the daemon.
    (void)::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL | MSG_DONTWAIT, reinterpret_cast<const sockaddr*>(&addr),
                   size);
    ::close(fd);
}

std::uint64_t watchdog_usec() {
    const char* usec = std::getenv("WATCHDOG_USEC");
    if (usec == nullptr || *usec == '\0') return 0;
    const char* pid = std::getenv("WATCHDOG_PID");
    if (pid != nullptr && *pid != '\0' && std::strtol(pid, nullptr, 10) != ::getpid()) return 0;
    return std::strtoull(usec, nullptr, 10);
}

}  // namespace nk::daemon
