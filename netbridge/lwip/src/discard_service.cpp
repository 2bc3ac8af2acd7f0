// The discard service on lwIP's sockets API (lwip_* calls; Debian's build has LWIP_COMPAT_SOCKETS 0).
#include "nk/netbridge/discard_service.hpp"

#include <cerrno>
#include <cstring>
#include <string>

#include <lwip/sockets.h>

#include "tcp_listener.hpp"

#include "nk/nanokernel/region_error.hpp"

namespace nk::netbridge {

DiscardService::~DiscardService() {
    for (const int fd : clients_) lwip_close(fd);
    if (listener_ >= 0) lwip_close(listener_);
}

Result<void> DiscardService::listen() {
    if (listener_ >= 0) return {};
    auto fd = detail::listen_tcp(options_.port, "discard");
    if (!fd) return fail(std::move(fd.error()));
    listener_ = *fd;
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
