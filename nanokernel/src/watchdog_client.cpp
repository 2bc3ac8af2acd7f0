// The critical-process side of nk-watchdog's protocol (watchdog_client.hpp).
#include "nk/nanokernel/watchdog_client.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "nk/nanokernel/region_error.hpp"
#include "nk/nanokernel/unique_fd.hpp"

namespace nk::watchdog {

std::string socket_address() {
    const char* set = std::getenv("NK_WATCHDOG_SOCKET");
    return set != nullptr && *set != '\0' ? std::string(set) : std::string(kDefaultSocket);
}

Result<void> notify(const std::string& address, std::string_view message) {
    sockaddr_un to{};
    to.sun_family = AF_UNIX;
    if (address.empty() || address.size() >= sizeof to.sun_path)
        return fail(RegionError::InvalidArgument, "watchdog socket address '" + address + "' is empty or too long");
    std::memcpy(to.sun_path, address.data(), address.size());
    if (address[0] == '@') to.sun_path[0] = '\0';  // abstract
    const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address.size());
    UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!fd) return fail(Error{std::error_code(errno, std::system_category()), "socket for the watchdog"});
    ssize_t sent;
    do {
        sent = ::sendto(fd.get(), message.data(), message.size(), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&to), length);
    } while (sent < 0 && errno == EINTR);
    if (sent < 0)
        return fail(Error{std::error_code(errno, std::system_category()),
                          "cannot reach the guest's watchdog at " + address + ": " + std::strerror(errno) +
                              " (is nk-watchdog running in this guest?)"});
    return {};
}

Result<void> register_critical(std::chrono::milliseconds period, std::string_view name) {
    if (period.count() < 1) return fail(RegionError::InvalidArgument, "a critical process's period is at least 1 ms");
    std::string message = "WATCHDOG_USEC=" + std::to_string(period.count() * 1000) + "\n";
    if (!name.empty()) message += "NK_NAME=" + std::string(name) + "\n";
    return notify(socket_address(), message);
}

Result<void> kick() { return notify(socket_address(), "WATCHDOG=1\n"); }

Result<void> set_health(std::uint64_t health) { return notify(socket_address(), "NK_HEALTH=" + std::to_string(health) + "\n"); }

Result<void> unregister() { return notify(socket_address(), "STOPPING=1\n"); }

}  // namespace nk::watchdog
