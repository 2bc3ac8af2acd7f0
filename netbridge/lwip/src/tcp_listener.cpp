#include "tcp_listener.hpp"

#include <cerrno>
#include <cstring>
#include <string>

#include <lwip/sockets.h>

#include "nk/nanokernel/region_error.hpp"

namespace nk::netbridge::detail {

Result<int> listen_tcp(std::uint16_t port, std::string_view service) {
    const std::string who(service);
    const int fd = lwip_socket(AF_INET6, SOCK_STREAM, 0);  // dual-stack: IPv4 clients arrive mapped
    if (fd < 0) return fail(RegionError::NoSpace, who + ": lwip_socket: " + std::strerror(errno));
    int on = 1;
    (void)lwip_setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    sockaddr_in6 any{};
    any.sin6_family = AF_INET6;
    any.sin6_port = htons(port);
    any.sin6_addr = in6addr_any;
    if (lwip_bind(fd, reinterpret_cast<const sockaddr*>(&any), sizeof any) != 0 || lwip_listen(fd, 4) != 0) {
        const int e = errno;
        lwip_close(fd);
        return fail(RegionError::Exists, who + ": cannot listen on TCP port " + std::to_string(port) + ": " + std::strerror(e));
    }
    return fd;
}

}  // namespace nk::netbridge::detail
