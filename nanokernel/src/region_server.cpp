#include "nk/nanokernel/region_server.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include "nk/nanokernel/region_client.hpp"
#include "nk/nanokernel/syscall.hpp"
#include "unix_socket.hpp"

namespace nk {
namespace {

Result<void> make_directory(const std::string& path) {
    if (::mkdir(path.c_str(), 0700) == 0 || errno == EEXIST) return {};
    return fail(Error{std::error_code(errno, std::system_category()),
                      "cannot create run directory " + path + ": " + std::strerror(errno)});
}

void reply_error(int fd, const Error& error) {
    wire::AttachReply reply{};
    reply.magic = wire::kAttachMagic;
    reply.status = error.code.category() == make_error_code(RegionError::Corrupt).category()
                       ? error.code.value()
                       : static_cast<int>(RegionError::AccessDenied);
    std::strncpy(reply.message, error.message.c_str(), sizeof reply.message - 1);
    (void)detail::send_with_fds(fd, &reply, sizeof reply, {});  // best effort: the client may be gone
}

}  // namespace

RegionServer::RegionServer(const Region& region, UniqueFd listener, std::string path)
    : region_(&region), listener_(std::move(listener)), path_(std::move(path)) {}

RegionServer::RegionServer(RegionServer&& other) noexcept
    : region_(other.region_), listener_(std::move(other.listener_)), path_(std::move(other.path_)) {
    other.path_.clear();
}

RegionServer::~RegionServer() {
    if (listener_ && !path_.empty()) ::unlink(path_.c_str());
}

Result<RegionServer> RegionServer::listen(const Region& region) {
    if (region.identity().role != Role::Creator)
        return fail(RegionError::InvalidArgument, "only the region's creator can serve it");
    const std::string dir = run_directory();
    if (auto made = make_directory(dir); !made) return fail(std::move(made.error()));
    const std::string path = platform_socket_path(region.platform_name());

    // A socket file left by a dead server is replaced; one that still answers is not.
    if (auto probe = attach_by_name(region.platform_name(), Identity::observer()); probe)
        return fail(RegionError::Exists, "platform '" + std::string(region.platform_name()) +
                                             "' is already served by another process (" + path + ")");
    ::unlink(path.c_str());

    auto bound = detail::seqpacket_socket(path, detail::SocketSide::Bind);
    if (!bound) return fail(std::move(bound.error()));
    UniqueFd fd = std::move(*bound);
    ::chmod(path.c_str(), 0600);
    if (auto listening = sys::call("listen " + path, [&] { return ::listen(fd.get(), 16); }); !listening)
        return fail(std::move(listening.error()));
    return RegionServer(region, std::move(fd), path);
}

Result<void> RegionServer::serve_one() {
    auto accepted = sys::call("accept", [&] { return ::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC); });
    if (!accepted) return fail(std::move(accepted.error()));
    UniqueFd client(*accepted);
    if (auto t = detail::set_receive_timeout(client.get(), 2000); !t) return fail(std::move(t.error()));

    ucred peer{};
    socklen_t len = sizeof peer;
    if (::getsockopt(client.get(), SOL_SOCKET, SO_PEERCRED, &peer, &len) != 0) {
        return fail(Error{std::error_code(errno, std::system_category()), "SO_PEERCRED failed"});
    }
    wire::AttachRequest request{};
    auto received = detail::receive_with_fds(client.get(), &request, sizeof request, 0);
    if (!received) return fail(std::move(received.error()));
    if (request.magic != wire::kAttachMagic || request.version != wire::kAttachVersion) {
        Error e{make_error_code(RegionError::VersionMismatch), "attach request of an unknown protocol version"};
        reply_error(client.get(), e);
        return fail(std::move(e));
    }
    if (peer.uid != 0 && peer.uid != ::geteuid()) {
        Error e{make_error_code(RegionError::AccessDenied),
                "user " + std::to_string(peer.uid) + " may not attach (only root or the platform's user)"};
        reply_error(client.get(), e);
        return fail(std::move(e));
    }
    Identity who;
    switch (static_cast<Role>(request.role)) {
        case Role::Observer: who = Identity::observer(); break;
        case Role::Operator: who = Identity::operator_(); break;
        case Role::Guest: who = Identity::guest(request.guest_id); break;
        default: {
            Error e{make_error_code(RegionError::InvalidArgument), "unknown role in attach request"};
            reply_error(client.get(), e);
            return fail(std::move(e));
        }
    }
    if (who.role == Role::Guest && !region_->guest(who.guest_id)) {
        Error e{make_error_code(RegionError::NotFound), "no guest with id " + std::to_string(who.guest_id)};
        reply_error(client.get(), e);
        return fail(std::move(e));
    }
    auto fds = region_->export_fds(who);
    if (!fds) {
        reply_error(client.get(), fds.error());
        return fail(std::move(fds.error()));
    }
    std::vector<int> raw;
    for (const auto& fd : *fds) raw.push_back(fd.get());
    wire::AttachReply reply{};
    reply.magic = wire::kAttachMagic;
    reply.fd_count = static_cast<std::uint32_t>(raw.size());
    return detail::send_with_fds(client.get(), &reply, sizeof reply, raw);
}

}  // namespace nk
