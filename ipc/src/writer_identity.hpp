// Internal to nk::ipc: who this process is, as a message-ring record or an MPMC slot's claim
// records it, and whether the process a record names is still alive. See docs/message-ring.md
// for what each check can and cannot tell.
#pragma once

#include <cstdint>

#include "nk/nanokernel/region.hpp"

namespace nk::ipc::detail {

struct ProcessIdentity {
    std::uint32_t pid = 0;
    std::uint32_t pid_ns = 0;      // inode of /proc/self/ns/pid; 0 if unknown
    std::uint64_t start_time = 0;  // /proc/self/stat field 22 (clock ticks since boot); 0 if unknown
};

// This process, computed once and again in a child after fork().
[[nodiscard]] const ProcessIdentity& this_process() noexcept;

enum class Liveness : std::uint8_t { Alive, Dead, Unknown };

// For a process in this process's pid namespace: Dead if kill(pid, 0) says ESRCH, or if a
// process with that pid started at another time (the pid was reused); Unknown if `pid_ns`
// is not ours (the caller then asks the guest table).
[[nodiscard]] Liveness process_liveness(std::uint32_t pid, std::uint32_t pid_ns, std::uint64_t start_time) noexcept;

// Who wrote a record or claimed a slot, as read back from shared memory (untrusted).
struct ClaimerIdentity {
    std::uint32_t pid = 0;
    std::uint32_t pid_ns = 0;
    std::uint64_t start_time = 0;
    std::uint16_t guest = 0;  // layout::kNoGuest for the operator or a process outside any guest
    std::uint32_t incarnation = 0;
};

// True only when the claimer is known dead: by process_liveness() in our pid namespace, else by
// its guest's state and incarnation in `region` (null: cannot tell). "Cannot tell" is false:
// the callers wait rather than take memory from a process that may still write it.
[[nodiscard]] bool claimer_is_dead(const ClaimerIdentity& who, const Region* region) noexcept;

// Field 22 of /proc/<pid>/stat, or 0 if it cannot be read.
[[nodiscard]] std::uint64_t process_start_time(std::uint32_t pid) noexcept;

}  // namespace nk::ipc::detail
