// nk-init's work as PID 1 (init_process.hpp).
#include "init_process.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <poll.h>

#include "hosts_file.hpp"
#include "nk/nanokernel/panic.hpp"

namespace nk::init {
namespace {

const Options* g_options = nullptr;

void say(const char* format, const std::string& a = {}, const std::string& b = {}) {
    std::fprintf(stderr, "nk-init[%s]: ", g_options->guest.c_str());
    std::fprintf(stderr, format, a.c_str(), b.c_str());
    std::fputc('\n', stderr);
    std::fflush(stderr);
}

std::string errno_text() { return std::strerror(errno); }

// Blocks until nkd has put us into the guest's cgroup. EOF: nkd gave up on this start.
bool wait_for_go() {
    const char* fd_text = std::getenv("NK_START_FD");
    if (fd_text == nullptr) return true;  // started by hand, not by nkd
    const int fd = std::atoi(fd_text);
    char go = 0;
    ssize_t n;
    do n = ::read(fd, &go, 1);
    while (n < 0 && errno == EINTR);
    ::close(fd);
    ::unsetenv("NK_START_FD");
    return n == 1;
}

bool parse_cpus(const std::string& text, cpu_set_t& set) {
    CPU_ZERO(&set);
    std::size_t pos = 0;
    while (pos < text.size()) {
        char* end = nullptr;
        const long first = std::strtol(text.c_str() + pos, &end, 10);
        long last = first;
        pos = static_cast<std::size_t>(end - text.c_str());
        if (pos < text.size() && text[pos] == '-') {
            last = std::strtol(text.c_str() + pos + 1, &end, 10);
            pos = static_cast<std::size_t>(end - text.c_str());
        }
        if (first < 0 || last < first || last >= CPU_SETSIZE) return false;
        for (long cpu = first; cpu <= last; ++cpu) CPU_SET(static_cast<int>(cpu), &set);
        if (pos < text.size() && text[pos] != ',') return false;
        ++pos;
    }
    return true;
}

bool set_up_namespaces(const Options& o) {
    if (::sethostname(o.hostname.data(), o.hostname.size()) != 0) {
        say("cannot set the host name '%s': %s", o.hostname, errno_text());
        return false;
    }
    // Nothing mounted in the guest propagates back to the host, and vice versa.
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
        say("cannot make the mount tree private: %s", errno_text());
        return false;
    }
    // A /proc of the guest's own PID namespace: ps shows only the guest's processes.
    if (::mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0) {
        say("cannot mount /proc: %s", errno_text());
        return false;
    }
    // Before the hiding: the host's /etc/hosts is read from the host's tree as it is.
    if (!o.hosts_lines.empty()) {
        std::string why;
        if (!install_hosts_file(o.hosts_lines, why)) {
            say("%s", why);
            return false;
        }
        if (!why.empty()) say("%s", why);
    }
    for (const auto& dir : o.hidden_dirs) {
        struct stat st {};
        if (::stat(dir.c_str(), &st) != 0) continue;  // nothing there to hide
        if (::mount("tmpfs", dir.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "size=4k,mode=0755") != 0) {
            say("cannot hide %s: %s", dir, errno_text());
            return false;
        }
    }
    if (o.loopback_up) {
        const int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        ifreq req{};
        std::strncpy(req.ifr_name, "lo", IFNAMSIZ - 1);
        const bool ok = s >= 0 && ::ioctl(s, SIOCGIFFLAGS, &req) == 0 &&
                        (req.ifr_flags = static_cast<short>(req.ifr_flags | IFF_UP), ::ioctl(s, SIOCSIFFLAGS, &req) == 0);
        if (s >= 0) ::close(s);
        if (!ok) {
            say("cannot bring lo up: %s", errno_text());
            return false;
        }
    }
    return true;
}

bool set_up_rt(const Options& o) {
    if (!o.cpus.empty()) {
        cpu_set_t set;
        if (!parse_cpus(o.cpus, set)) {
            say("'%s' is not a CPU list", o.cpus);
            return false;
        }
        if (::sched_setaffinity(0, sizeof set, &set) != 0) {
            say("cannot pin to CPUs %s: %s", o.cpus, errno_text());
            return false;
        }
    }
    if (o.fifo_priority > 0) {
        sched_param param{};
        param.sched_priority = o.fifo_priority;
        if (::sched_setscheduler(0, SCHED_FIFO, &param) != 0) {
            say("cannot switch to SCHED_FIFO %s: %s", std::to_string(o.fifo_priority), errno_text());
            return false;
        }
    }
    return true;
}

pid_t start_service(const std::vector<std::string>& argv) {
    const pid_t pid = ::fork();
    if (pid != 0) return pid;
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::setsid();
    std::vector<char*> c_argv;
    for (const auto& w : argv) c_argv.push_back(const_cast<char*>(w.c_str()));
    c_argv.push_back(nullptr);
    ::execvp(c_argv[0], c_argv.data());
    std::fprintf(stderr, "nk-init[%s]: cannot run %s: %s\n", g_options->guest.c_str(), c_argv[0], std::strerror(errno));
    ::_exit(127);
}

std::string describe_status(int status) {
    if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) return std::string("was killed by signal ") + strsignal(WTERMSIG(status));
    return "ended";
}

// Reaps every child that has ended; services are named in the log, orphans are not.
void reap(std::map<pid_t, std::string>& services) {
    for (;;) {
        int status = 0;
        const pid_t pid = ::waitpid(-1, &status, WNOHANG);
        if (pid <= 0) return;
        auto it = services.find(pid);
        if (it == services.end()) continue;
        say("service %s %s", it->second, describe_status(status));
        services.erase(it);
    }
}

int serve(const Options& o) {
    sigset_t handled;
    sigemptyset(&handled);
    for (int sig : {SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2, nk::panic_signal()}) sigaddset(&handled, sig);
    ::sigprocmask(SIG_BLOCK, &handled, nullptr);
    const int signal_fd = ::signalfd(-1, &handled, SFD_CLOEXEC);
    if (signal_fd < 0) {
        say("signalfd: %s", errno_text());
        return 1;
    }
    std::map<pid_t, std::string> services;
    for (const auto& argv : o.services) {
        const pid_t pid = start_service(argv);
        if (pid < 0) {
            say("cannot fork for %s: %s", argv.front(), errno_text());
            continue;
        }
        services[pid] = "'" + argv.front() + "' (pid " + std::to_string(pid) + ")";
    }
    say("guest '%s' up with %s services", o.hostname, std::to_string(services.size()));

    for (;;) {
        signalfd_siginfo info{};
        const ssize_t n = ::read(signal_fd, &info, sizeof info);
        if (n != static_cast<ssize_t>(sizeof info)) continue;
        const int sig = static_cast<int>(info.ssi_signo);
        if (sig == SIGCHLD) {
            reap(services);
            continue;
        }
        if (sig == nk::panic_signal()) {
            // nk::panic() in the guest: its record is in the control page; the guest ends now.
            say("panic from pid %s: ending the guest", std::to_string(info.ssi_pid));
            ::kill(-1, SIGKILL);
            while (::waitpid(-1, nullptr, 0) > 0) {
            }
            return nk::kPanicExitStatus;
        }
        for (const auto& [pid, name] : services) ::kill(pid, sig);  // forwarded
        if (sig != SIGTERM && sig != SIGINT) continue;
        say("stopping: %s forwarded to the services", strsignal(sig));
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
        while (!services.empty() && std::chrono::steady_clock::now() < deadline) {
            pollfd p{signal_fd, POLLIN, 0};
            if (::poll(&p, 1, 50) > 0) (void)::read(signal_fd, &info, sizeof info);
            reap(services);
        }
        // Whatever is left in the guest, services or not, ends now (kill(-1) spares only init).
        ::kill(-1, SIGKILL);
        while (::waitpid(-1, nullptr, 0) > 0) {
        }
        say("stopped", "");
        return 0;
    }
}

}  // namespace

int run(const Options& options) {
    g_options = &options;
    if (::getpid() != 1) say("warning: not PID 1 (pid %s); orphans of the guest are not reaped here",
                             std::to_string(::getpid()));
    if (!wait_for_go()) {
        say("nkd withdrew the start (its start pipe closed)", "");
        return 1;
    }
    if (!set_up_namespaces(options)) return 1;
    if (!set_up_rt(options)) return 1;
    if (options.exec_mode) {
        std::vector<char*> c_argv;
        for (const auto& w : options.command) c_argv.push_back(const_cast<char*>(w.c_str()));
        c_argv.push_back(nullptr);
        ::execvp(c_argv[0], c_argv.data());
        say("cannot run %s: %s", options.command.front(), errno_text());
        return 127;
    }
    return serve(options);
}

}  // namespace nk::init
