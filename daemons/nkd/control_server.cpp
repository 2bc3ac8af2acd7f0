// nkd's control socket (control_server.hpp).
#include "control_server.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include <nlohmann/json.hpp>

namespace nk::nkd {
namespace {

void reply(int fd, const nlohmann::json& answer) {
    const std::string text = answer.dump() + "\n";
    (void)::send(fd, text.data(), text.size(), MSG_NOSIGNAL);
}

}  // namespace

Result<ControlServer> ControlServer::listen(const std::string& path) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (path.size() >= sizeof address.sun_path)
        return fail(Error{std::make_error_code(std::errc::filename_too_long), "control socket path too long: " + path});
    std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd) return fail(Error{std::error_code(errno, std::system_category()), "control socket: " + std::string(std::strerror(errno))});
    ::unlink(path.c_str());  // left by an nkd that died; a live one was refused before this
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 || ::listen(fd.get(), 8) != 0)
        return fail(Error{std::error_code(errno, std::system_category()),
                          "control socket " + path + ": " + std::strerror(errno)});
    ::chmod(path.c_str(), 0600);
    return ControlServer(std::move(fd), path);
}

ControlServer::~ControlServer() {
    if (listener_) ::unlink(path_.c_str());
}

void ControlServer::serve_one(const Handler& handler) const {
    UniqueFd client(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!client) return;
    ucred peer{};
    socklen_t length = sizeof peer;
    if (::getsockopt(client.get(), SOL_SOCKET, SO_PEERCRED, &peer, &length) != 0 ||
        (peer.uid != 0 && peer.uid != ::getuid())) {
        reply(client.get(), {{"ok", false}, {"error", "only root or nkd's user may control the platform"}});
        return;
    }
    // One short line; a client that does not send it within a second is dropped.
    std::string request;
    char buffer[512];
    while (request.find('\n') == std::string::npos && request.size() < 4096) {
        pollfd p{client.get(), POLLIN, 0};
        if (::poll(&p, 1, 1000) <= 0) return;
        const ssize_t n = ::recv(client.get(), buffer, sizeof buffer, 0);
        if (n <= 0) break;
        request.append(buffer, static_cast<std::size_t>(n));
    }
    auto message = nlohmann::json::parse(request, nullptr, false);
    if (message.is_discarded() || !message.is_object() || !message.contains("op") || !message["op"].is_string() ||
        !message.contains("guest") || !message["guest"].is_string()) {
        reply(client.get(), {{"ok", false}, {"error", "malformed request: want {\"op\": ..., \"guest\": ...}"}});
        return;
    }
    auto done = handler(message["op"].get<std::string>(), message["guest"].get<std::string>());
    if (done) reply(client.get(), {{"ok", true}, {"message", *done}});
    else reply(client.get(), {{"ok", false}, {"error", done.error().message}});
}

}  // namespace nk::nkd
