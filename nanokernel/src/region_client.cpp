#include "nk/nanokernel/region_client.hpp"

#include <dirent.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "nk/nanokernel/syscall.hpp"
#include "unix_socket.hpp"

namespace nk {

std::string run_directory() {
    const char* dir = std::getenv("NK_RUN_DIR");
    return dir != nullptr && *dir != '\0' ? std::string(dir) : std::string("/run/nk");
}

std::string platform_socket_path(std::string_view platform) {
    return run_directory() + "/" + std::string(platform) + ".sock";
}

std::vector<std::string> listed_platforms() {
    std::vector<std::string> names;
    DIR* dir = ::opendir(run_directory().c_str());
    if (dir == nullptr) return names;
    while (const dirent* entry = ::readdir(dir)) {
        std::string_view name(entry->d_name);
        if (name.size() > 5 && name.ends_with(".sock")) names.emplace_back(name.substr(0, name.size() - 5));
    }
    ::closedir(dir);
    std::sort(names.begin(), names.end());
    return names;
}

Result<std::string> sole_platform() {
    const auto names = listed_platforms();
    if (names.size() == 1) return names.front();
    if (names.empty())
        return fail(RegionError::NotRunning, "no platform is running (nothing in " + run_directory() +
                                                 "); start one with nkd --config FILE, or pass --config/--platform");
    std::string all;
    for (const auto& n : names) all += (all.empty() ? "" : ", ") + n;
    return fail(RegionError::InvalidArgument, "several platforms are running (" + all + "); pass --platform NAME");
}

Result<Region> attach_by_name(std::string_view platform, Identity who) {
    const std::string path = platform_socket_path(platform);
    auto connected = detail::seqpacket_socket(path, detail::SocketSide::Connect);
    if (!connected)
        return fail(RegionError::NotRunning, "platform '" + std::string(platform) + "' is not running (" +
                                                 connected.error().message + ")");
    UniqueFd fd = std::move(*connected);
    if (auto t = detail::set_receive_timeout(fd.get(), 5000); !t) return fail(std::move(t.error()));

    wire::AttachRequest request{};
    request.magic = wire::kAttachMagic;
    request.version = wire::kAttachVersion;
    request.role = static_cast<std::uint8_t>(who.role);
    request.guest_id = who.guest_id;
    if (auto sent = detail::send_with_fds(fd.get(), &request, sizeof request, {}); !sent)
        return fail(context(std::move(sent.error()), "attach to '" + std::string(platform) + "'"));
    wire::AttachReply reply{};
    auto fds = detail::receive_with_fds(fd.get(), &reply, sizeof reply, layout::kMaxAreas);
    if (!fds) return fail(context(std::move(fds.error()), "attach to '" + std::string(platform) + "'"));
    if (reply.magic != wire::kAttachMagic)
        return fail(RegionError::BadMagic, "the server of '" + std::string(platform) + "' does not speak the attach protocol");
    if (reply.status != 0) {
        reply.message[sizeof reply.message - 1] = '\0';
        const auto code = reply.status > 0 && reply.status <= static_cast<int>(RegionError::NotRunning)
                              ? static_cast<RegionError>(reply.status)
                              : RegionError::AccessDenied;
        return fail(code, "platform '" + std::string(platform) + "' refused to attach: " + reply.message);
    }
    return Region::attach(std::move(*fds), who);
}

}  // namespace nk
