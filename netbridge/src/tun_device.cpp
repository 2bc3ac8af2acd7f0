#include "nk/netbridge/tun_device.hpp"

#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "nk/nanokernel/syscall.hpp"
#include "nk/netbridge/packet.hpp"

extern char** environ;

namespace nk::netbridge {

// VnetHeader is struct virtio_net_hdr of <linux/virtio_net.h> (the virtio spec's layout, which
// TUNSETVNETHDRSZ 10 selects); that header cannot be included from C++ (a field named `class`).

Result<void> run_ip(const std::vector<std::string>& args) {
    std::vector<std::string> words{"ip"};
    words.insert(words.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& w : words) argv.push_back(w.data());
    argv.push_back(nullptr);
    std::string line;
    for (const auto& w : words) line += (line.empty() ? "" : " ") + w;
    pid_t pid = 0;
    if (const int rc = ::posix_spawnp(&pid, "ip", nullptr, nullptr, argv.data(), environ); rc != 0)
        return fail(Error{std::error_code(rc, std::system_category()), "cannot run '" + line + "': " + std::strerror(rc)});
    int status = 0;
    if (auto waited = sys::call("waitpid", [&] { return ::waitpid(pid, &status, 0); }); !waited) return fail(waited.error());
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return fail(RegionError::InvalidArgument, "'" + line + "' failed (exit " + std::to_string(WEXITSTATUS(status)) + ")");
    return {};
}

namespace {

Result<void> configure(const NetPlan& plan, const std::string& name) {
    const std::string mtu = std::to_string(plan.mtu);
    std::vector<std::vector<std::string>> commands{
        {"link", "set", "dev", name, "mtu", mtu, "up"},
        {"addr", "add", plan.address.text(), "dev", name},
    };
    if (plan.address6) commands.push_back({"-6", "addr", "add", plan.address6->text(), "dev", name, "nodad"});
    bool have_gateway = false;
    for (const NetPeer& peer : plan.peers) {
        have_gateway = have_gateway || peer.gateway;
        for (const IpPrefix& subnet : peer.subnets)
            commands.push_back({subnet.is_v4() ? "-4" : "-6", "route", "replace", subnet.network_text(), "dev", name});
    }
    if (have_gateway && !plan.forward) {
        commands.push_back({"-4", "route", "replace", "default", "dev", name});
        if (plan.address6) commands.push_back({"-6", "route", "replace", "default", "dev", name});
    }
    for (const auto& command : commands)
        if (auto done = run_ip(command); !done) return fail(done.error());
    return {};
}

}  // namespace

namespace {

// One queue of the device (the first call makes it): TUNSETIFF, the header size, the offloads.
Result<UniqueFd> open_queue(const std::string& name, const TunOptions& options, std::string& made_name) {
    auto fd = sys::call("open /dev/net/tun", [] { return ::open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK); });
    if (!fd) return fail(std::move(fd.error()));
    UniqueFd tun(*fd);
    ifreq request{};
    std::strncpy(request.ifr_name, name.c_str(), IFNAMSIZ - 1);
    request.ifr_flags = static_cast<short>(IFF_TUN | IFF_NO_PI | IFF_VNET_HDR | (options.queues > 1 ? IFF_MULTI_QUEUE : 0));
    if (auto made = sys::call("TUNSETIFF " + name, [&] { return ::ioctl(tun.get(), TUNSETIFF, &request); }); !made)
        return fail(std::move(made.error()));
    int header_size = sizeof(VnetHeader);
    if (auto sized = sys::call("TUNSETVNETHDRSZ", [&] { return ::ioctl(tun.get(), TUNSETVNETHDRSZ, &header_size); }); !sized)
        return fail(std::move(sized.error()));
    const unsigned offloads = options.offloads ? (TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN) : 0U;
    if (auto set = sys::call("TUNSETOFFLOAD", [&] { return ::ioctl(tun.get(), TUNSETOFFLOAD, offloads); }); !set)
        return fail(std::move(set.error()));
    made_name = request.ifr_name;
    return tun;
}

}  // namespace

Result<TunDevice> TunDevice::open(const NetPlan& plan, const TunOptions& options) {
    std::vector<UniqueFd> fds;
    std::string name = plan.tun;
    for (std::size_t q = 0; q < std::max<std::size_t>(options.queues, 1); ++q) {
        auto queue = open_queue(name, options, name);
        if (!queue) return fail(std::move(queue.error()));
        fds.push_back(std::move(*queue));
    }
    if (auto configured = configure(plan, name); !configured)
        return fail(Error{configured.error().code, "configuring " + name + ": " + configured.error().message});
    return TunDevice(std::move(fds), name, options.offloads);
}

Result<std::size_t> TunDevice::read(std::size_t queue, std::span<std::byte> out) const {
    for (;;) {
        const ssize_t n = ::read(fds_[queue].get(), out.data(), out.size());
        if (n >= 0) return static_cast<std::size_t>(n);
        if (errno == EINTR) continue;
        if (errno == EAGAIN) return std::size_t{0};
        return fail(Error{std::error_code(errno, std::system_category()), "read " + name_ + ": " + std::strerror(errno)});
    }
}

Result<void> TunDevice::write(std::span<const std::byte> message) const {
    auto n = sys::call("write " + name_, [&] { return ::write(fds_[0].get(), message.data(), message.size()); });
    if (!n) return fail(std::move(n.error()));
    return {};
}

Result<void> TunDevice::write(std::span<const std::byte> head, std::span<const std::byte> rest) const {
    // const_cast: iovec's type for a buffer writev() only reads.
    const std::array<iovec, 2> pieces{iovec{const_cast<std::byte*>(head.data()), head.size()},
                                      iovec{const_cast<std::byte*>(rest.data()), rest.size()}};
    auto n = sys::call("write " + name_, [&] { return ::writev(fds_[0].get(), pieces.data(), rest.empty() ? 1 : 2); });
    if (!n) return fail(std::move(n.error()));
    return {};
}

}  // namespace nk::netbridge
