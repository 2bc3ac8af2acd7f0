// nk::start_partition: starts the first process of a guest in namespaces of its own.
//
// The process is cloned into new PID, mount, UTS, IPC and network namespaces (it is PID 1 there)
// and execs `argv` at once; the parent gets its pid and a pidfd, which becomes readable when the
// process ends (the death detector). Before the child runs anything of the guest it waits on a
// start pipe, so the caller can put it into its cgroup first: the child reads one byte from fd
// `start_fd` (see PartitionSpec) and only then goes on. nk-init (daemons/nk-init) does this.
//
//   nk::PartitionSpec spec{.argv = {"/usr/libexec/nk-init", ...}, .env = {...}, .keep_fds = {...}};
//   auto started = nk::start_partition(spec);
//   group->add(started->pid);
//   started->release();            // the child goes on
//
// Needs CAP_SYS_ADMIN (root). The caller must be single-threaded or accept that only the
// descriptors in keep_fds (and 0-2) reach the child: every other descriptor is close-on-exec.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "nk/nanokernel/result.hpp"
#include "nk/nanokernel/unique_fd.hpp"

namespace nk {

struct PartitionSpec {
    std::vector<std::string> argv;  // argv[0] is the program's path
    std::vector<std::string> env;   // the whole environment of the child
    std::vector<int> keep_fds;      // descriptors the child keeps across exec (made inheritable)
    int stdout_fd = -1;             // becomes the child's 1 (and 2); -1: keep the caller's
    bool new_network = true;        // a network namespace of its own
};

struct StartedPartition {
    pid_t pid = -1;
    UniqueFd pidfd;       // readable once the process has ended; waitid(P_PIDFD) reaps it
    UniqueFd start_pipe;  // write end: one byte lets the child go on; closing it aborts the child

    // Lets the child go on. Idempotent.
    [[nodiscard]] Result<void> release();
};

// The descriptor number the child finds its start pipe on (the read end), named to it in the
// environment as NK_START_FD.
[[nodiscard]] Result<StartedPartition> start_partition(const PartitionSpec& spec);

}  // namespace nk
