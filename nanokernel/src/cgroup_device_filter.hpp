// Device denial for cgroup v2 groups (used by cgroup.cpp). v2 has no devices.deny file: the
// kernel asks a BPF_PROG_TYPE_CGROUP_DEVICE program attached to the group at every open and mknod
// of a device node, as systemd's DeviceAllow= does. The program here is a handful of instructions
// built by hand (no libbpf, no compiler): for each denied device, "type, major and minor match:
// refuse"; anything else is allowed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "nk/nanokernel/result.hpp"

namespace nk::detail {

struct DeviceNumber {
    bool block = false;  // else a character device
    std::uint32_t major = 0;
    std::uint32_t minor = 0;
};

// Attaches a program denying `devices` to the v2 group at `dir`. It replaces the program an
// earlier call attached (the same group re-created on a restart), and stays attached after this
// returns: the group holds it until the group is removed. Needs CAP_SYS_ADMIN (root).
[[nodiscard]] Result<void> deny_devices_v2(const std::string& dir, const std::vector<DeviceNumber>& devices);

}  // namespace nk::detail
