// RegionServer: serves attach-by-name requests for a region this process created.
//
// It listens on <run dir>/<platform>.sock (region_client.hpp) and answers each request with
// fresh descriptors for the asked identity (Region::export_fds), passed with SCM_RIGHTS. Only
// callers with the server's user id, or root, are served: the socket is the operator's door.
// Guests normally receive their descriptors at start and never see this socket (nkd does not
// mount the run directory into a guest).
//
// Not thread-safe: one thread calls serve_one() when fd() is readable (nkd's event loop).
#pragma once

#include <string>

#include "nk/nanokernel/region.hpp"
#include "nk/nanokernel/unique_fd.hpp"

namespace nk {

class RegionServer {
public:
    // Fails if another live process already serves a platform of that name.
    [[nodiscard]] static Result<RegionServer> listen(const Region& region);

    RegionServer(RegionServer&&) noexcept;
    RegionServer& operator=(RegionServer&&) = delete;
    ~RegionServer();

    [[nodiscard]] int fd() const { return listener_.get(); }
    [[nodiscard]] const std::string& path() const { return path_; }

    // Accepts one connection and answers it. Errors of one client do not stop the server; the
    // returned error is for logging.
    [[nodiscard]] Result<void> serve_one();

private:
    RegionServer(const Region& region, UniqueFd listener, std::string path);
    const Region* region_;
    UniqueFd listener_;
    std::string path_;
};

}  // namespace nk
