// The console's sessions on lwIP's sockets API (lwip_* calls: Debian's build has
// LWIP_COMPAT_SOCKETS 0 and LWIP_SOCKET_OFFSET, so its descriptors are not the process's).
#include "nk/netbridge/console.hpp"

#include <dirent.h>
#include <sched.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

extern "C" {
#include <lwip/sockets.h>
}

#include "tcp_listener.hpp"

#include "nk/netbridge/net_stats.hpp"

namespace nk::netbridge {
namespace {

constexpr std::uint8_t kIac = 255, kDont = 254, kDo = 253, kWont = 252, kWill = 251, kSb = 250, kSe = 240;
constexpr std::size_t kMaxLine = 1024;  // a longer line is cut (a console, not a data path)

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// "\n" -> "\r\n" (NVT line ends), and a final line end if the text has none.
std::string to_wire(std::string_view text) {
    std::string out;
    out.reserve(text.size() + 16);
    for (char c : text) {
        if (c == '\n') out += '\r';
        out += c;
    }
    if (!out.empty() && out.back() != '\n') out += "\r\n";
    return out;
}

}  // namespace

void TelnetDecoder::feed(std::string_view bytes, std::string& data, std::string& reply) {
    for (const char ch : bytes) {
        const auto b = static_cast<std::uint8_t>(ch);
        switch (state_) {
            case State::Data:
                if (b == kIac) state_ = State::Iac;
                else data += ch;
                break;
            case State::Iac:
                if (b == kIac) {  // an escaped 255 is data
                    data += ch;
                    state_ = State::Data;
                } else if (b >= kWill && b <= kDont) {
                    verb_ = b;
                    state_ = State::Option;
                } else if (b == kSb) {
                    state_ = State::Sub;
                } else {
                    state_ = State::Data;  // NOP, IP, AYT, GA, ...: a two-byte command, nothing to do
                }
                break;
            case State::Option:
                // Every option stays off: refuse what is asked. WONT/DONT agree with that state
                // already and get no answer (RFC 854: no acknowledgement loops).
                if (verb_ == kDo) reply += {static_cast<char>(kIac), static_cast<char>(kWont), ch};
                else if (verb_ == kWill) reply += {static_cast<char>(kIac), static_cast<char>(kDont), ch};
                state_ = State::Data;
                break;
            case State::Sub:
                if (b == kIac) state_ = State::SubIac;
                break;
            case State::SubIac:
                state_ = b == kSe ? State::Data : State::Sub;
                break;
        }
    }
}

Console::Console(Options options) : options_(std::move(options)) {}

Console::~Console() { stop(); }

void Console::add_command(std::string name, std::string help, Command command) {
    if (name == "help" || name == "quit" || name.empty()) return;
    std::lock_guard lock(mutex_);
    commands_[std::move(name)] = {std::move(help), std::move(command)};
}

std::string Console::execute(std::string_view line, bool& quit) {
    quit = false;
    line = trim(line);
    if (line.empty()) return {};
    const auto space = line.find_first_of(" \t");
    const std::string_view name = line.substr(0, space);
    const std::string_view args = space == std::string_view::npos ? std::string_view{} : trim(line.substr(space));
    if (name == "quit" || name == "exit") {
        quit = true;
        return "bye\n";
    }
    std::lock_guard lock(mutex_);
    if (name == "help") {
        std::string out = "help: this list\nquit: end the session\n";
        for (const auto& [command, entry] : commands_) out += entry.first.empty() ? command + "\n" : entry.first + "\n";
        return out;
    }
    const auto it = commands_.find(std::string(name));
    if (it == commands_.end()) return "unknown command '" + std::string(name) + "' (try help)\n";
    return it->second.second(args);
}

Result<void> Console::listen() {
    if (listener_ >= 0) return {};
    auto fd = detail::listen_tcp(options_.port, "console");
    if (!fd) return fail(std::move(fd.error()));
    listener_ = *fd;
    return {};
}

bool Console::send_all(int fd, std::string_view text) {
    while (!text.empty()) {
        const auto n = lwip_write(fd, text.data(), text.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        text.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

void Console::open_session(int fd) {
    if (sessions_.size() >= options_.max_sessions) {
        (void)send_all(fd, "too many sessions, try later\r\n");
        lwip_close(fd);
        return;
    }
    // A session that stops reading must not stall the others for ever.
    timeval send_timeout{.tv_sec = 2, .tv_usec = 0};
    (void)lwip_setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &send_timeout, sizeof send_timeout);
    if (!send_all(fd, to_wire(options_.banner + "\ntype help for the commands\n") + options_.prompt)) {
        lwip_close(fd);
        return;
    }
    Session session;
    session.fd = fd;
    sessions_.push_back(std::move(session));
}

bool Console::service(Session& session) {
    char buffer[512];
    const auto n = lwip_recv(session.fd, buffer, sizeof buffer, MSG_DONTWAIT);
    if (n == 0) return false;  // the client closed
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
    std::string data, reply;
    session.telnet.feed(std::string_view(buffer, static_cast<std::size_t>(n)), data, reply);
    if (!reply.empty() && !send_all(session.fd, reply)) return false;
    for (const char c : data) {
        const bool after_cr = session.cr;
        session.cr = c == '\r';
        if ((c == '\n' || c == '\0') && after_cr) continue;  // the rest of a CR LF / CR NUL
        if (c != '\r' && c != '\n') {
            if (c == '\b' || c == 0x7f) {
                if (!session.line.empty()) session.line.pop_back();
            } else if (session.line.size() < kMaxLine && static_cast<unsigned char>(c) >= 0x20) {
                session.line += c;
            }
            continue;
        }
        bool quit = false;
        const std::string answer = execute(session.line, quit);
        session.line.clear();
        if (!send_all(session.fd, to_wire(answer) + (quit ? "" : options_.prompt))) return false;
        if (quit) return false;
    }
    return true;
}

void Console::serve_once(std::chrono::milliseconds wait) {
    if (listener_ < 0) return;
    std::vector<pollfd> fds;
    fds.push_back({.fd = listener_, .events = POLLIN, .revents = 0});
    for (const Session& s : sessions_) fds.push_back({.fd = s.fd, .events = POLLIN, .revents = 0});
    const int ready = lwip_poll(fds.data(), static_cast<nfds_t>(fds.size()), static_cast<int>(wait.count()));
    if (ready <= 0) return;
    // Sessions first (their indices match fds[1..]), then the new ones.
    std::vector<Session> kept;
    for (std::size_t i = 0; i < sessions_.size(); ++i) {
        Session& s = sessions_[i];
        if (fds[i + 1].revents == 0 || service(s)) {
            kept.push_back(std::move(s));
        } else {
            lwip_close(s.fd);
        }
    }
    sessions_ = std::move(kept);
    if ((fds[0].revents & POLLIN) != 0) {
        const int fd = lwip_accept(listener_, nullptr, nullptr);
        if (fd >= 0) open_session(fd);
    }
}

Result<void> Console::start() {
    if (auto listening = listen(); !listening) return listening;
    stopping_.store(false, std::memory_order_relaxed);
    thread_ = std::thread([this] {
        // relaxed: a stop flag; the join in stop() orders the rest
        while (!stopping_.load(std::memory_order_relaxed)) serve_once(std::chrono::milliseconds(100));
    });
    return {};
}

void Console::stop() {
    stopping_.store(true, std::memory_order_relaxed);
    if (thread_.joinable()) thread_.join();
    for (const Session& s : sessions_) lwip_close(s.fd);
    sessions_.clear();
    if (listener_ >= 0) lwip_close(listener_);
    listener_ = -1;
}

namespace {

std::string read_first_line(const std::string& path) {
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);
    return line;
}

// The threads of this process: /proc/self/task, with each one's scheduling.
std::string list_threads() {
    std::string out;
    DIR* dir = ::opendir("/proc/self/task");
    if (dir == nullptr) return "cannot read /proc/self/task\n";
    std::vector<int> tids;
    while (const dirent* e = ::readdir(dir))
        if (e->d_name[0] >= '0' && e->d_name[0] <= '9') tids.push_back(std::atoi(e->d_name));
    ::closedir(dir);
    std::sort(tids.begin(), tids.end());
    char line[160];
    std::snprintf(line, sizeof line, "%-8s %-16s %-5s %-11s %s\n", "tid", "name", "state", "policy", "priority");
    out += line;
    for (const int tid : tids) {
        const std::string base = "/proc/self/task/" + std::to_string(tid);
        const std::string name = read_first_line(base + "/comm");
        // stat: "tid (comm) S ..."; comm may hold spaces, so the state follows the last ')'.
        const std::string stat = read_first_line(base + "/stat");
        const auto close = stat.rfind(')');
        const char state = close != std::string::npos && close + 2 < stat.size() ? stat[close + 2] : '?';
        const int policy = ::sched_getscheduler(tid);
        sched_param param{};
        (void)::sched_getparam(tid, &param);
        const char* policy_name = policy == SCHED_FIFO ? "SCHED_FIFO" : policy == SCHED_RR ? "SCHED_RR" : "SCHED_OTHER";
        std::snprintf(line, sizeof line, "%-8d %-16s %-5c %-11s %d\n", tid, name.c_str(), state, policy_name,
                      param.sched_priority);
        out += line;
    }
    return out;
}

std::string format_counters(const Region& region, const NetPlan& plan) {
    auto copy = read_net_stats(region, plan.guest);
    if (!copy) return "no counters: " + copy.error().message + "\n";
    std::ostringstream out;
    out << "guest " << plan.guest << ": no_route " << copy->header.no_route << ", malformed " << copy->header.malformed
        << ", icmp_sent " << copy->header.icmp_sent << ", local_errors " << copy->header.local_errors << "\n";
    for (std::size_t i = 0; i < copy->routes.size(); ++i) {
        const NetRouteCounters& r = copy->routes[i];
        const std::string peer = i < plan.peers.size() ? plan.peers[i].guest : "guest " + std::to_string(r.guest_id);
        out << "  " << peer << ": tx " << r.tx_packets << " packets " << r.tx_bytes << " bytes, rx " << r.rx_packets
            << " packets " << r.rx_bytes << " bytes, dropped: peer down " << r.drop_peer_down << ", full " << r.drop_full
            << ", too large " << r.drop_too_large << "\n";
    }
    return out.str();
}

}  // namespace

void add_guest_commands(Console& console, const Region& region, const NetPlan& plan) {
    const auto started = std::chrono::steady_clock::now();
    console.add_command("echo", "echo TEXT: says TEXT back", [](std::string_view args) { return std::string(args) + "\n"; });
    console.add_command("status", "status: this guest, its incarnation and uptime", [&region, plan, started](std::string_view) {
        const auto id = region.identity().guest_id;
        const auto info = region.guest(id);
        const auto up = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started).count();
        std::ostringstream out;
        out << "guest " << (info ? info->name : plan.guest) << " (id " << id << "), incarnation "
            << (info ? info->incarnation : 0) << ", restarts " << (info ? info->restarts : 0) << "\n"
            << "address " << plan.address.text();
        if (plan.address6) out << ", " << plan.address6->text();
        out << ", mtu " << plan.mtu << ", " << plan.peers.size() << " peer(s)\n"
            << "up " << up / 3600 << "h " << (up / 60) % 60 << "m " << up % 60 << "s\n";
        return out.str();
    });
    console.add_command("tasks", "tasks: the threads of this guest's program", [](std::string_view) { return list_threads(); });
    console.add_command("counters", "counters: this guest's netbridge counters",
                        [&region, plan](std::string_view) { return format_counters(region, plan); });
}

}  // namespace nk::netbridge
