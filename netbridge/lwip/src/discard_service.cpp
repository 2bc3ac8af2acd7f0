// The discard service on lwIP's sockets API (lwip_* calls; Debian's build has LWIP_COMPAT_SOCKETS 0).
#include "nk/netbridge/discard_service.hpp"

#include <cerrno>
#include <cstring>
#include <string>

#include <lwip/sockets.h>

#include "nk/nanokernel/region_error.hpp"

namespace nk::netbridge {

DiscardService::~DiscardService() {
    for (const int fd : clients_) lwip_close(fd);
    if (listener_ >= 0) lwip_close(listener_);
}

Result<void> DiscardService::listen() {
    if (listener_ >= 0) return {};
    const int fd = lwip_socket(AF_INET6, SOCK_STREAM, 0);  // dual-stack, as the console
    if (fd < 0) return fail(RegionError::NoSpace, std::string("discard: lwip_socket: ") + std::strerror(errno));
    int on = 1;
    (void)lwip_setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    sockaddr_in6 any{};
    any.sin6_family = AF_INET6;
    any.sin6_port = htons(options_.port);
    any.sin6_addr = in6addr_any;
    if (lwip_bind(fd, reinterpret_cast<const sockaddr*>(&any), sizeof any) != 0 || lwip_listen(fd, 4) != 0) {
        const int e = errno;
        lwip_close(fd);
        return fail(RegionError::Exists, "discard: cannot listen on TCP port " + std::to_string(options_.port) + ": " +
                                             std::strerror(e));
    }
    listener_ = fd;
    return {};
}

void DiscardService::serve_once(std::chrono::milliseconds wait) {
    if (listener_ < 0) return;
    std::vector<pollfd> fds{{listener_, POLLIN, 0}};
    for (const int fd : clients_) fds.push_back({fd, POLLIN, 0});
    if (lwip_poll(fds.data(), static_cast<nfds_t>(fds.size()), static_cast<int>(wait.count())) <= 0) return;
    static char sink[64 * 1024];  // one task serves: one buffer
    for (std::size_t i = 1; i < fds.size(); ++i) {
        if (fds[i].revents == 0) continue;
        for (;;) {
            const auto n = lwip_recv(fds[i].fd, sink, sizeof sink, MSG_DONTWAIT);
            if (n > 0) {
                bytes_ += static_cast<std::uint64_t>(n);
                continue;
            }
            if (n < 0 && (errno == EWOULDBLOCK || errno == EAGAIN)) break;
            lwip_close(fds[i].fd);  // EOF or error: the client is done
            fds[i].fd = -1;
            break;
        }
    }
    std::erase_if(clients_, [&](int fd) {
        for (const auto& p : fds) if (p.fd == fd) return false;
        return true;
    });
    if (fds[0].revents != 0) {
        const int fd = lwip_accept(listener_, nullptr, nullptr);
        if (fd >= 0 && clients_.size() < kMaxClients) clients_.push_back(fd);
        else if (fd >= 0) lwip_close(fd);
    }
}

}  // namespace nk::netbridge
