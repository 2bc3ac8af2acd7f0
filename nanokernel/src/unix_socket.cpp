#include "unix_socket.hpp"

#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include <cerrno>
#include <cstring>

#include "nk/nanokernel/region_error.hpp"
#include "nk/nanokernel/syscall.hpp"

namespace nk::detail {

Result<void> send_with_fds(int socket, const void* data, std::size_t size, const std::vector<int>& fds) {
    iovec iov{const_cast<void*>(data), size};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    std::vector<std::byte> control(CMSG_SPACE(sizeof(int) * fds.size()));
    if (!fds.empty()) {
        msg.msg_control = control.data();
        msg.msg_controllen = control.size();
        cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
        cmsg->cmsg_level = SOL_SOCKET;
        cmsg->cmsg_type = SCM_RIGHTS;
        cmsg->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
        std::memcpy(CMSG_DATA(cmsg), fds.data(), sizeof(int) * fds.size());
    }
    auto sent = sys::call("sendmsg", [&] { return ::sendmsg(socket, &msg, MSG_NOSIGNAL); });
    if (!sent) return fail(std::move(sent.error()));
    if (static_cast<std::size_t>(*sent) != size) return fail(RegionError::Corrupt, "short send on the attach socket");
    return {};
}

Result<std::vector<UniqueFd>> receive_with_fds(int socket, void* data, std::size_t size, std::size_t max_fds) {
    iovec iov{data, size};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    std::vector<std::byte> control(CMSG_SPACE(sizeof(int) * max_fds));
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    auto got = sys::call("recvmsg", [&] { return ::recvmsg(socket, &msg, MSG_CMSG_CLOEXEC); });
    if (!got) return fail(std::move(got.error()));
    std::vector<UniqueFd> fds;
    for (cmsghdr* cmsg = CMSG_FIRSTHDR(&msg); cmsg != nullptr; cmsg = CMSG_NXTHDR(&msg, cmsg)) {
        if (cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS) continue;
        const std::size_t count = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (std::size_t i = 0; i < count; ++i) {
            int fd = -1;
            std::memcpy(&fd, CMSG_DATA(cmsg) + i * sizeof(int), sizeof fd);
            fds.emplace_back(fd);
        }
    }
    if ((msg.msg_flags & MSG_CTRUNC) != 0)
        return fail(RegionError::Corrupt, "the peer sent more descriptors than the protocol allows");
    if (static_cast<std::size_t>(*got) != size)
        return fail(RegionError::Corrupt, "the peer sent a message of " + std::to_string(*got) + " bytes, expected " +
                                              std::to_string(size));
    return fds;
}

Result<void> set_receive_timeout(int socket, int milliseconds) {
    timeval tv{milliseconds / 1000, (milliseconds % 1000) * 1000};
    auto rc = sys::call("setsockopt SO_RCVTIMEO", [&] { return ::setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv); });
    if (!rc) return fail(std::move(rc.error()));
    return {};
}

Result<UniqueFd> seqpacket_socket(const std::string& path, SocketSide side) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof addr.sun_path)
        return fail(RegionError::InvalidArgument, "socket path '" + path + "' is too long");
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    auto sock = sys::call("socket", [] { return ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0); });
    if (!sock) return fail(std::move(sock.error()));
    UniqueFd fd(*sock);
    const auto* address = reinterpret_cast<const sockaddr*>(&addr);
    auto done = side == SocketSide::Bind
                    ? sys::call("bind " + path, [&] { return ::bind(fd.get(), address, sizeof addr); })
                    : sys::call("connect " + path, [&] { return ::connect(fd.get(), address, sizeof addr); });
    if (!done) return fail(std::move(done.error()));
    return fd;
}

}  // namespace nk::detail
