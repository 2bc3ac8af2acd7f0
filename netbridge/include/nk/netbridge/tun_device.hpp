// nk::netbridge::TunDevice: a linux guest's TUN interface (IFF_TUN | IFF_NO_PI | IFF_VNET_HDR),
// configured from its plan: address(es), MTU, up, and a route to every peer's subnet (and a
// default route to the gateway guest, if one forwards to the outside).
//
//   auto tun = TunDevice::open(plan, {.offloads = true});
//   tun->read(buffer)  ->  VnetHeader + IP packet, as on a packet port (packet.hpp)
//
// With offloads the kernel hands over TCP super-packets of up to 64 KB with checksums left to
// do (TUNSETOFFLOAD TSO4/TSO6/CSUM), and accepts them back the same way: between two linux
// guests one message then carries what would be ~44 MTU-sized packets.
//
// Addresses and routes are set with iproute2's `ip` (run inside the guest's network namespace),
// which every Debian host has; the commands are logged when they fail.
#pragma once

#include <cstddef>
#include <span>
#include <string>

#include "nk/nanokernel/result.hpp"
#include "nk/nanokernel/unique_fd.hpp"
#include "nk/netbridge/net_plan.hpp"

namespace nk::netbridge {

struct TunOptions {
    bool offloads = true;  // TSO/GSO and checksum offload; false: plain MTU-sized packets
};

class TunDevice {
public:
    [[nodiscard]] static Result<TunDevice> open(const NetPlan& plan, const TunOptions& options);

    // One packet with its VnetHeader into `out`: its length, 0 when none is waiting (the fd is
    // non-blocking), or the error.
    [[nodiscard]] Result<std::size_t> read(std::span<std::byte> out) const;
    // One VnetHeader + packet into the guest's stack.
    [[nodiscard]] Result<void> write(std::span<const std::byte> message) const;

    [[nodiscard]] int fd() const { return fd_.get(); }
    [[nodiscard]] const std::string& name() const { return name_; }
    [[nodiscard]] bool offloads() const { return offloads_; }

private:
    TunDevice(UniqueFd fd, std::string name, bool offloads) : fd_(std::move(fd)), name_(std::move(name)), offloads_(offloads) {}
    UniqueFd fd_;
    std::string name_;
    bool offloads_;
};

// Runs one `ip ...` command (argv without "ip"); its failure as an error naming the command.
[[nodiscard]] Result<void> run_ip(const std::vector<std::string>& args);

}  // namespace nk::netbridge
