#include "notify.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string>

namespace nk::daemon {
namespace {

// What systemd told nkd, kept from adopt_notify_environment() on.
std::string g_socket, g_watchdog_usec, g_watchdog_pid;

std::string take(const char* name) {
    const char* value = std::getenv(name);
    std::string kept = value != nullptr ? value : "";
    ::unsetenv(name);
    return kept;
}

}  // namespace

void adopt_notify_environment() {
    g_socket = take("NOTIFY_SOCKET");
    g_watchdog_usec = take("WATCHDOG_USEC");
    g_watchdog_pid = take("WATCHDOG_PID");
}

void notify(std::string_view state) {
    if (g_socket.empty()) return;
    const char* path = g_socket.c_str();
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
    if (g_watchdog_usec.empty()) return 0;
    if (!g_watchdog_pid.empty() && std::strtol(g_watchdog_pid.c_str(), nullptr, 10) != ::getpid()) return 0;
    return std::strtoull(g_watchdog_usec.c_str(), nullptr, 10);
}

}  // namespace nk::daemon
