// start_partition (partition.hpp): clone3 into new namespaces, then exec at once.
//
// Between clone and exec the child runs only async-signal-safe calls (dup2, fcntl, execve,
// _exit) on data prepared before the clone, since the caller may have other threads.
#include "nk/nanokernel/partition.hpp"

#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

#include "nk/nanokernel/syscall.hpp"

namespace nk {
namespace {

pid_t clone3_into(std::uint64_t flags, int* pidfd) {
    clone_args args{};
    args.flags = flags | CLONE_PIDFD;
    args.pidfd = reinterpret_cast<std::uint64_t>(pidfd);
    args.exit_signal = SIGCHLD;
    return static_cast<pid_t>(::syscall(SYS_clone3, &args, sizeof args));
}

std::vector<char*> c_strings(std::vector<std::string>& words) {
    std::vector<char*> out;
    for (auto& w : words) out.push_back(w.data());
    out.push_back(nullptr);
    return out;
}

}  // namespace

Result<void> StartedPartition::release() {
    if (!start_pipe) return {};
    const char go = 'g';
    auto written = sys::call("write start pipe", [&] { return ::write(start_pipe.get(), &go, 1); });
    start_pipe.reset();
    if (!written) return fail(std::move(written.error()));
    return {};
}

Result<StartedPartition> start_partition(const PartitionSpec& spec) {
    if (spec.argv.empty() || spec.argv.front().empty())
        return fail(std::errc::invalid_argument, "start_partition: no program to run");
    int pipe_fds[2];
    if (auto made = sys::call("pipe2", [&] { return ::pipe2(pipe_fds, O_CLOEXEC); }); !made) return fail(made.error());
    UniqueFd start_read(pipe_fds[0]), start_write(pipe_fds[1]);

    // Everything the child needs, prepared before the clone.
    std::vector<std::string> argv = spec.argv;
    std::vector<std::string> env = spec.env;
    env.push_back("NK_START_FD=" + std::to_string(start_read.get()));
    std::vector<char*> c_argv = c_strings(argv);
    std::vector<char*> c_env = c_strings(env);
    std::vector<int> keep = spec.keep_fds;
    keep.push_back(start_read.get());

    std::uint64_t flags = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC;
    if (spec.new_network) flags |= CLONE_NEWNET;
    int pidfd = -1;
    const pid_t pid = clone3_into(flags, &pidfd);
    if (pid < 0) {
        const int err = errno;
        return fail(Error{std::error_code(err, std::system_category()),
                          std::string("clone3 into new namespaces: ") + std::strerror(err) +
                              (err == EPERM ? " (starting a guest needs root)" : "")});
    }
    if (pid == 0) {
        // The child: async-signal-safe calls only.
        if (spec.stdout_fd >= 0) {
            ::dup2(spec.stdout_fd, STDOUT_FILENO);
            ::dup2(spec.stdout_fd, STDERR_FILENO);
        }
        for (int fd : keep) ::fcntl(fd, F_SETFD, 0);
        // Signals blocked by the caller (nkd blocks those it reads from a signalfd) must not stay
        // blocked in the guest.
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        ::execve(c_argv[0], c_argv.data(), c_env.data());
        ::_exit(127);
    }
    StartedPartition started;
    started.pid = pid;
    started.pidfd = UniqueFd(pidfd);
    started.start_pipe = std::move(start_write);
    return started;
}

}  // namespace nk
