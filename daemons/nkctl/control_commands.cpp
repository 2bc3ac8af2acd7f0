// nkctl stop|start|restart GUEST: requests to nkd over its control socket (nkd/control_server.hpp).
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "nk/nanokernel/platform_config.hpp"
#include "nk/nanokernel/region_client.hpp"
#include "nk/nanokernel/unique_fd.hpp"

namespace nk::ctl {

int control_command(const Target& target, const std::string& op, const std::string& guest) {
    auto complain = [&](const std::string& what) {
        std::fprintf(stderr, "nkctl %s %s: %s\n", op.c_str(), guest.c_str(), what.c_str());
        return 1;
    };
    std::string platform = target.platform;
    if (platform.empty() && !target.config_path.empty()) {
        auto config = load_platform_config(target.config_path);
        if (!config) return complain(config.error().message);
        platform = config->name;
    }
    if (platform.empty()) {
        auto sole = sole_platform();
        if (!sole) return complain(sole.error().message);
        platform = *sole;
    }
    const std::string path = run_directory() + "/" + platform + ".ctl";
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (path.size() >= sizeof address.sun_path) return complain("control socket path too long: " + path);
    std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd || ::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0)
        return complain("no nkd serves platform '" + platform + "' (" + path + ": " + std::strerror(errno) + ")");
    const std::string request = nlohmann::json{{"op", op}, {"guest", guest}}.dump() + "\n";
    if (::send(fd.get(), request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size()))
        return complain(std::string("sending the request: ") + std::strerror(errno));
    // A stop waits for the guest to end (up to nkd's grace of 5 s, then SIGKILL).
    std::string answer;
    char buffer[1024];
    while (answer.find('\n') == std::string::npos) {
        pollfd p{fd.get(), POLLIN, 0};
        if (::poll(&p, 1, 30000) <= 0) return complain("nkd did not answer within 30 s");
        const ssize_t n = ::recv(fd.get(), buffer, sizeof buffer, 0);
        if (n <= 0) break;
        answer.append(buffer, static_cast<std::size_t>(n));
    }
    auto reply = nlohmann::json::parse(answer, nullptr, false);
    if (reply.is_discarded() || !reply.is_object()) return complain("nkd's answer is not JSON: " + answer);
    if (!reply.value("ok", false)) return complain(reply.value("error", std::string("refused")));
    std::printf("%s\n", reply.value("message", std::string("done")).c_str());
    return 0;
}

}  // namespace nk::ctl
