// nk::GuestCgroup: the control group that holds one guest's processes and enforces its CPU set,
// CPU weight and memory limit.
//
// Hosts differ: some mount cgroup v2 with the cpuset, cpu and memory controllers in its root,
// others (the development machines among them) mount the v1 controllers separately with an
// empty v2 hierarchy beside them. create() uses v2 when its root offers all three controllers
// and the v1 controllers otherwise. Groups live at <controller root>/nk/<platform>/<guest>.
//
//   auto group = nk::GuestCgroup::create("two-guests", "linux", {{0}, 100, 256 << 20});
//   group->add(child_pid);      // before the child runs anything of the guest
//   ...
//   group->kill_all();          // when the guest is stopped: nothing of it survives
//   group->remove();
//
// Needs root (or a delegated hierarchy). One nkd per platform owns its groups.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "nk/nanokernel/result.hpp"

namespace nk {

struct CgroupLimits {
    std::vector<std::uint32_t> cpus;   // the guest's CPUs
    std::uint32_t cpu_weight = 100;    // 1..10000, as cgroup v2's cpu.weight
    std::uint64_t memory_limit = 0;    // bytes; 0: no limit
    // The guest runs SCHED_FIFO. Under v1 with RT group scheduling a cpu group grants no
    // real-time runtime unless budgets are carved out level by level, so such a guest is left
    // in the root of the cpu hierarchy (the kernel's global RT limit applies) and only its
    // cpuset and memory groups are its own. Its CPU weight means nothing to SCHED_FIFO anyway.
    bool realtime = false;
    // A general guest with one real-time process of its own (its nk-watchdog at SCHED_FIFO): under
    // v1 RT group scheduling its cpu group is given this much RT runtime per period (µs), carved
    // from nk's groups above it. 0: none (SCHED_FIFO is then refused inside the guest).
    std::uint64_t rt_budget_us = 0;
    // Device nodes other guests own: the group may not open or create them (v1: the devices
    // controller's devices.deny; v2, which has no such file: a BPF device program on the group).
    std::vector<std::string> denied_devices;
};

class GuestCgroup {
public:
    // Makes (or re-uses, emptied of nothing) the guest's group and applies the limits.
    [[nodiscard]] static Result<GuestCgroup> create(std::string_view platform, std::string_view guest,
                                                    const CgroupLimits& limits);

    // The groups a running process is in (the cpuset, cpu and memory hierarchies under v1, the
    // unified one under v2), as /proc/PID/cgroup names them: how `nkctl exec` joins a guest.
    [[nodiscard]] static Result<GuestCgroup> of_process(pid_t pid);

    // Pids in any guest group of `platform` now: a platform of that name is running (perhaps
    // served from another run directory), and its groups are not ours to take.
    [[nodiscard]] static std::vector<pid_t> platform_pids(std::string_view platform);

    // Moves `pid` (a process, with its later children) into the group.
    [[nodiscard]] Result<void> add(pid_t pid) const;

    // The pids in the group now (from the first hierarchy).
    [[nodiscard]] std::vector<pid_t> pids() const;

    // SIGKILLs every process in the group and waits (up to `timeout_ms`) until it is empty. Under
    // v2 the kernel kills the group at once (cgroup.kill), so a fork in flight cannot escape.
    [[nodiscard]] Result<void> kill_all(int timeout_ms = 2000) const;

    // Removes the group's directories (the group must be empty), and the platform's directory
    // once no guest group is left in it.
    [[nodiscard]] Result<void> remove() const;

    [[nodiscard]] bool v2() const { return v2_; }
    // One directory per hierarchy: one for v2, one per controller for v1.
    [[nodiscard]] const std::vector<std::string>& paths() const { return paths_; }

private:
    bool v2_ = false;
    std::vector<std::string> paths_;
};

}  // namespace nk
