// Internal to nk::ipc: who this process is, as a message-ring record records it, and whether the
// process a record names is still alive. See docs/message-ring.md for what each check can and
// cannot tell.
#pragma once

#include <cstdint>

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

// Field 22 of /proc/<pid>/stat, or 0 if it cannot be read.
[[nodiscard]] std::uint64_t process_start_time(std::uint32_t pid) noexcept;

}  // namespace nk::ipc::detail
