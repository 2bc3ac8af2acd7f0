// nk::netbridge::Console: the rt guest's TCP console, reachable with plain telnet over lwIP.
//
// A line-oriented command shell: prompt "rt> ", commands help, echo TEXT, quit, and whatever the
// guest registers (add_guest_commands() gives status, tasks and counters). It serves every
// client from one thread with lwIP's sockets API (lwip_poll over the listener and the sessions),
// so an rt executive can run serve_once() as one of its own tasks, or let start() make a thread.
//
//   nk::netbridge::Console console({.port = 23, .banner = "nk rt guest"});
//   nk::netbridge::add_guest_commands(console, region, stack->plan());
//   console.add_command("load", "load: the executive's load", [&](std::string_view) { return ...; });
//   console.start();            // or: console.listen(); for (;;) console.serve_once(10ms);
//
// Telnet: the console refuses every option (DO x -> WONT x, WILL x -> DONT x), drops
// subnegotiations and other IAC commands, and takes CR LF, CR NUL or LF as the end of a line.
//
// Concurrency: add_command() and execute() may be called from any thread at any time (one mutex);
// listen(), serve_once(), start() and stop() by one owner thread. A command runs on the serving
// thread: it must not block for long (every session waits for it).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "nk/nanokernel/region.hpp"
#include "nk/nanokernel/result.hpp"
#include "nk/netbridge/net_plan.hpp"

namespace nk::netbridge {

// The telnet side of a session's byte stream: data bytes out, option requests answered.
class TelnetDecoder {
public:
    // Feeds received bytes; appends data bytes to `data` and the replies owed to the peer (WONT /
    // DONT) to `reply`. State carries across calls (a sequence may span two reads).
    void feed(std::string_view bytes, std::string& data, std::string& reply);

private:
    enum class State { Data, Iac, Option, Sub, SubIac };
    State state_ = State::Data;
    std::uint8_t verb_ = 0;
};

class Console {
public:
    using Command = std::function<std::string(std::string_view args)>;
    struct Options {
        std::uint16_t port = 23;
        std::string banner = "nk console";
        std::string prompt = "rt> ";
        std::size_t max_sessions = 8;
    };

    explicit Console(Options options);
    Console() : Console(Options{}) {}
    ~Console();
    Console(const Console&) = delete;
    Console& operator=(const Console&) = delete;

    // Registers (or replaces) `name`; `help` is its line in `help`. The reply is sent as is,
    // each "\n" as "\r\n"; the built-ins quit and help cannot be replaced.
    void add_command(std::string name, std::string help, Command command);

    // Runs one command line (what a session does per line): the reply text, and `quit` set when
    // the line was quit. Unknown commands say so.
    [[nodiscard]] std::string execute(std::string_view line, bool& quit);

    // Opens the listening socket on lwIP (port of the options, any address, IPv4 and IPv6).
    // Precondition: an LwipStack runs in this process (lwIP is initialised), and outlives stop().
    [[nodiscard]] Result<void> listen();
    // Accepts, reads and answers what is ready, waiting up to `wait` when nothing is.
    void serve_once(std::chrono::milliseconds wait);
    // listen() and a thread running serve_once() until stop().
    [[nodiscard]] Result<void> start();
    // Ends the thread (if started), closes every session and the listener.
    void stop();

    [[nodiscard]] std::size_t sessions() const { return sessions_.size(); }

private:
    struct Session {
        int fd = -1;
        TelnetDecoder telnet;
        std::string line;
        bool cr = false;  // the last byte was a CR (a following LF or NUL belongs to it)
    };
    void open_session(int fd);
    // Reads what the session has; false when it is to be closed.
    bool service(Session& session);
    static bool send_all(int fd, std::string_view text);

    Options options_;
    std::mutex mutex_;
    std::map<std::string, std::pair<std::string, Command>> commands_;
    int listener_ = -1;
    std::vector<Session> sessions_;
    std::atomic<bool> stopping_{false};
    std::thread thread_;
};

// status (the guest's name, id, incarnation from the region and the uptime of this console),
// tasks (the threads of this process: name, state, policy and priority; an rt executive
// replaces it with its own), counters (the guest's netbridge counters from net.stats.GUEST).
void add_guest_commands(Console& console, const Region& region, const NetPlan& plan);

}  // namespace nk::netbridge
