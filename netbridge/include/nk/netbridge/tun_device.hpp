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
#include <vector>

#include "nk/nanokernel/result.hpp"
#include "nk/nanokernel/unique_fd.hpp"
#include "nk/netbridge/net_plan.hpp"

namespace nk::netbridge {

struct TunOptions {
    bool offloads = true;  // TSO/GSO and checksum offload; false: plain MTU-sized packets
    // Queues (IFF_MULTI_QUEUE), one per CPU the router may use: the kernel spreads flows over
    // them by hash and each is read by its own thread. 1: a plain single-queue TUN.
    std::size_t queues = 1;
};

class TunDevice {
public:
    [[nodiscard]] static Result<TunDevice> open(const NetPlan& plan, const TunOptions& options);

    // One packet with its VnetHeader from `queue` into `out`: its length, 0 when none is waiting
    // (the fds are non-blocking), or the error. One thread per queue at a time.
    [[nodiscard]] Result<std::size_t> read(std::size_t queue, std::span<std::byte> out) const;
    // One VnetHeader + packet into the guest's stack (through queue 0; any thread).
    [[nodiscard]] Result<void> write(std::span<const std::byte> message) const;
    // One message from two pieces (writev): `head`, then `rest`.
    [[nodiscard]] Result<void> write(std::span<const std::byte> head, std::span<const std::byte> rest) const;

    [[nodiscard]] int fd(std::size_t queue) const { return fds_[queue].get(); }
    [[nodiscard]] std::size_t queues() const { return fds_.size(); }
    [[nodiscard]] const std::string& name() const { return name_; }
    [[nodiscard]] bool offloads() const { return offloads_; }

private:
    TunDevice(std::vector<UniqueFd> fds, std::string name, bool offloads)
        : fds_(std::move(fds)), name_(std::move(name)), offloads_(offloads) {}
    std::vector<UniqueFd> fds_;
    std::string name_;
    bool offloads_;
};

// Runs one `ip ...` command (argv without "ip"); its failure as an error naming the command.
[[nodiscard]] Result<void> run_ip(const std::vector<std::string>& args);

}  // namespace nk::netbridge
