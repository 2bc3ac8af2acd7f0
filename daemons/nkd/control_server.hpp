// nkd's control socket, <run dir>/<platform>.ctl: where `nkctl stop|start|restart GUEST` ask nkd
// to act. One request per connection, one JSON line each way:
//   -> {"op": "restart", "guest": "linux"}
//   <- {"ok": true, "message": "guest 'linux' restarted"}   or   {"ok": false, "error": "..."}
// Only root and nkd's own user may ask (SO_PEERCRED). The data path never comes here.
#pragma once

#include <functional>
#include <string>

#include "nk/nanokernel/result.hpp"
#include "nk/nanokernel/unique_fd.hpp"

namespace nk::nkd {

class ControlServer {
public:
    using Handler = std::function<Result<std::string>(const std::string& op, const std::string& guest)>;

    [[nodiscard]] static Result<ControlServer> listen(const std::string& path);
    ControlServer(ControlServer&&) noexcept = default;
    ~ControlServer();

    [[nodiscard]] int fd() const { return listener_.get(); }
    // Accepts one connection and answers its request with `handler`.
    void serve_one(const Handler& handler) const;

private:
    ControlServer(UniqueFd listener, std::string path) : listener_(std::move(listener)), path_(std::move(path)) {}
    UniqueFd listener_;
    std::string path_;
};

}  // namespace nk::nkd
