// nk-watchdog: a guest's watchdog daemon (watchdog.hpp). nkd starts it as a service of every
// linux guest whose config has [guests.watchdog]; it can also be run by hand inside a guest.
//
//   nk-watchdog --period 50 --misses 3 --watch rt,linux2 [--priority 60] [--hook CMD]
//               [--http 10.77.1.1 --http-port 8080]
//
// It listens for critical processes on the abstract socket @nk-watchdog (watchdog_client.hpp),
// runs at SCHED_FIFO `priority` with its memory locked (so a loaded guest does not starve its
// heartbeat), and under systemd (NOTIFY_SOCKET set) sends WATCHDOG=1 only while the guest and
// every watched peer are healthy. SIGTERM disarms the heartbeat (a stop on purpose) and exits 0.
// With --http it also serves the platform's health page (health_server.hpp) from a thread of its
// own at normal priority; the heartbeat loop below never waits for it.
#include <sched.h>
#include <signal.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include <CLI/CLI.hpp>

#include "nk/nanokernel/guest.hpp"
#include "nk/nanokernel/heartbeat.hpp"
#include "nk/nanokernel/unique_fd.hpp"
#include "nk/nanokernel/watchdog_client.hpp"
#include "health_server.hpp"
#include "watchdog.hpp"

namespace {

nk::UniqueFd listen_on(const std::string& address) {
    nk::UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd) return fd;
    sockaddr_un at{};
    at.sun_family = AF_UNIX;
    if (address.empty() || address.size() >= sizeof at.sun_path) return nk::UniqueFd();
    std::memcpy(at.sun_path, address.data(), address.size());
    if (address[0] == '@') at.sun_path[0] = '\0';
    else ::unlink(address.c_str());
    const int on = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_PASSCRED, &on, sizeof on);
    const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address.size());
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&at), length) != 0) return nk::UniqueFd();
    return fd;
}

// Every datagram waiting: the text and the sender's pid.
void drain(int fd, nk::wd::Watchdog& watchdog) {
    for (;;) {
        char text[1024];
        alignas(cmsghdr) char control[CMSG_SPACE(sizeof(ucred))];
        iovec io{text, sizeof text - 1};
        msghdr msg{};
        msg.msg_iov = &io;
        msg.msg_iovlen = 1;
        msg.msg_control = control;
        msg.msg_controllen = sizeof control;
        const ssize_t n = ::recvmsg(fd, &msg, MSG_DONTWAIT);
        if (n < 0) return;
        pid_t pid = 0;
        for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c))
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
                ucred cred{};
                std::memcpy(&cred, CMSG_DATA(c), sizeof cred);
                pid = cred.pid;
            }
        if (pid > 0) watchdog.on_message(pid, std::string(text, static_cast<std::size_t>(n)));
    }
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"nk-watchdog: beats this guest's heartbeat, watches its peers' and has failed ones recovered"};
    int period_ms = 50, misses = 3, priority = 0;
    int http_port = 0;
    std::string watch, hook, http_address, socket_address = nk::watchdog::socket_address();
    app.add_option("--period", period_ms, "heartbeat period, ms (1-60000)")->check(CLI::Range(1, 60000));
    app.add_option("--misses", misses, "periods a peer may miss before it has failed (1-100)")->check(CLI::Range(1, 100));
    app.add_option("--watch", watch, "peer guests to watch, comma separated");
    app.add_option("--priority", priority, "SCHED_FIFO priority (0: none)")->check(CLI::Range(0, 99));
    app.add_option("--hook", hook, "shell command run for each failure seen (facts in NK_* variables)");
    app.add_option("--socket", socket_address, "where critical processes reach it (@name: abstract)");
    app.add_option("--http", http_address, "serve the health page (GET /, /health.json) on this IP address");
    app.add_option("--http-port", http_port, "the health page's TCP port (with --http)")->check(CLI::Range(1, 65535));
    CLI11_PARSE(app, argc, argv);
    if (!http_address.empty() && http_port == 0) {
        std::fprintf(stderr, "nk-watchdog: --http needs --http-port\n");
        return 2;
    }

    auto attached = nk::guest::attach();
    if (!attached) {
        std::fprintf(stderr, "nk-watchdog: cannot attach to the region: %s\n", attached.error().message.c_str());
        return 1;
    }
    nk::Region& region = attached->get();
    nk::wd::Settings settings;
    settings.period = std::chrono::milliseconds(period_ms);
    settings.misses = static_cast<std::uint32_t>(misses);
    settings.hook = hook;
    std::stringstream names(watch);
    for (std::string name; std::getline(names, name, ',');)
        if (!name.empty()) {
            if (!region.guest(name)) {
                std::fprintf(stderr, "nk-watchdog: --watch: no guest is named '%s'\n", name.c_str());
                return 2;
            }
            settings.watch.push_back(name);
        }

    if (::mlockall(MCL_CURRENT | MCL_FUTURE) != 0) std::perror("nk-watchdog: mlockall (continuing unlocked)");
    if (priority > 0) {
        sched_param param{};
        param.sched_priority = priority;
        if (::sched_setscheduler(0, SCHED_FIFO, &param) != 0) {
            // A linux guest's cpu cgroup under v1 RT group scheduling has no RT budget: the best
            // it can have then is the strongest nice value.
            const int why = errno;
            const bool niced = ::setpriority(PRIO_PROCESS, 0, -20) == 0;
            std::fprintf(stderr, "nk-watchdog: SCHED_FIFO %d refused (%s); running at nice %s\n", priority,
                         std::strerror(why), niced ? "-20" : "0");
        }
    }
    nk::UniqueFd socket = listen_on(socket_address);
    if (!socket) {
        std::fprintf(stderr, "nk-watchdog: cannot listen on %s: %s\n", socket_address.c_str(), std::strerror(errno));
        return 1;
    }
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    sigprocmask(SIG_BLOCK, &signals, nullptr);
    nk::UniqueFd signal_fd(::signalfd(-1, &signals, SFD_CLOEXEC));

    // The health page is for people; failing to serve it must not stop the heartbeat. Started
    // before the heartbeat is armed: its thread's start (a locked stack, under mlockall) is not
    // on the heartbeat's clock.
    nk::wd::HealthServer health(region, region.guest(region.identity().guest_id)->name);
    if (!http_address.empty()) {
        if (auto error = health.start(http_address, static_cast<std::uint16_t>(http_port)); !error.empty())
            std::fprintf(stderr, "nk-watchdog: health page not served: %s (the heartbeat runs on)\n", error.c_str());
        else
            std::fprintf(stderr, "nk-watchdog: health page on http://%s:%d/ (data: /health.json)\n",
                         http_address.find(':') != std::string::npos ? ("[" + http_address + "]").c_str()
                                                                     : http_address.c_str(),
                         http_port);
    }

    if (auto armed = nk::heartbeat::arm(region, settings.period, settings.misses); !armed) {
        std::fprintf(stderr, "nk-watchdog: cannot arm the heartbeat: %s\n", armed.error().message.c_str());
        return 1;
    }
    // systemd above us (nk-watchdog run on a host): told only while all is well.
    const char* upstream = std::getenv("NOTIFY_SOCKET");
    const std::string upstream_address = upstream != nullptr ? upstream : "";
    sched_param now{};
    const bool fifo = ::sched_getscheduler(0) == SCHED_FIFO && ::sched_getparam(0, &now) == 0;
    std::fprintf(stderr, "nk-watchdog: guest '%s': heartbeat every %d ms (%d misses allowed), watching %s, socket %s, %s\n",
                 region.guest(region.identity().guest_id)->name.c_str(), period_ms, misses,
                 watch.empty() ? "no peers" : watch.c_str(), socket_address.c_str(),
                 fifo ? ("SCHED_FIFO " + std::to_string(now.sched_priority)).c_str() : "SCHED_OTHER");

    nk::wd::Watchdog watchdog(region, settings);
    auto next = std::chrono::steady_clock::now();
    for (;;) {
        next += settings.period;
        for (;;) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(next - std::chrono::steady_clock::now());
            if (left.count() <= 0) break;
            pollfd fds[2] = {{socket.get(), POLLIN, 0}, {signal_fd.get(), POLLIN, 0}};
            if (::poll(fds, 2, static_cast<int>(left.count())) > 0) {
                if ((fds[1].revents & POLLIN) != 0) {
                    (void)nk::heartbeat::disarm(region);
                    std::fprintf(stderr, "nk-watchdog: stopping (heartbeat disarmed)\n");
                    return 0;
                }
                if ((fds[0].revents & POLLIN) != 0) drain(socket.get(), watchdog);
            }
        }
        if (!watchdog.tick()) return 1;
        if (!upstream_address.empty() && watchdog.self_healthy() && watchdog.peers_healthy())
            (void)nk::watchdog::notify(upstream_address, "WATCHDOG=1\n");
        // Late by more than a period (the machine stalled us): start the rhythm again from now.
        if (std::chrono::steady_clock::now() - next > settings.period) next = std::chrono::steady_clock::now();
    }
}
