// The netbridge with real programs between real guests: ping, an interactive telnet login (driven
// by expect), ftp of a 20 MB file, a guest killed mid-traffic and back, and an outside host in
// its own network namespace reaching the guests through the gateway guest. Everything runs in
// namespaces these tests make and remove; nothing leaves them.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "test_platform.hpp"

namespace nk {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using test::CommandResult;

constexpr const char* kUser = "nknettest";
constexpr const char* kPassword = "nk-Net-Pass1";

using test::read_file;

// alpha and beta (linux; beta serves telnet and ftp) and rt (lwIP and its console), all linked,
// each with a subnet.
// `alpha_net` adds to alpha's net table (the gateway test gives it an outside interface);
// `beta_extra` adds lines to beta's table.
std::string three_guests_toml(const std::string& name, const std::string& alpha_net, const std::string& beta_extra) {
    return "[platform]\nname = \"" + name + "\"\nlock_memory = false\n"
           "[areas]\nlink_size = \"4 MiB\"\ncommon_size = \"64 KiB\"\npnv_size = \"64 KiB\"\n"
           "[[guests]]\nid = 1\nname = \"alpha\"\nkind = \"linux\"\nmemory = \"64 KiB\"\ncpus = [0]\n"
           "services = [[\"sleep\", \"infinity\"]]\n"
           "net = { address = \"10.77.1.1/24\", address6 = \"fd77:1::1/64\"" + alpha_net + " }\n"
           "[[guests]]\nid = 2\nname = \"beta\"\nkind = \"linux\"\nmemory = \"64 KiB\"\ncpus = [0]\n" + beta_extra +
           "net = { address = \"10.77.2.1/24\", address6 = \"fd77:2::1/64\" }\n"
           "services = [[\"/usr/bin/systemd-socket-activate\", \"--inetd\", \"-l\", \"23\", \"-a\", \"/usr/sbin/telnetd\"],\n"
           "  [\"/usr/sbin/vsftpd\", \"-olisten=YES\", \"-olisten_ipv6=NO\", \"-obackground=NO\", \"-olocal_enable=YES\",\n"
           "   \"-owrite_enable=YES\", \"-oseccomp_sandbox=NO\"]]\n"
           "[[guests]]\nid = 3\nname = \"rt\"\nkind = \"rt\"\nmemory = \"64 KiB\"\ncpus = [0]\npriority = 10\n"
           "net = { address = \"10.77.3.1/24\", address6 = \"fd77:3::1/64\" }\nrun = [\"nk_example_rt_console\"]\n"
           "[[links]]\nguests = [\"alpha\", \"beta\"]\n[[links]]\nguests = [\"alpha\", \"rt\"]\n"
           "[[links]]\nguests = [\"beta\", \"rt\"]\n"
           "[[access]]\nobjects = \"*\"\nguests = [\"*\"]\nrights = \"rw\"\n";
}

class Netbridge : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        // A real account for /bin/login and vsftpd, made for these tests and removed after them.
        if (::geteuid() != 0) return;
        (void)std::system((std::string("id ") + kUser + " >/dev/null 2>&1 || useradd -M -d /tmp -s /bin/sh " + kUser).c_str());
        (void)std::system((std::string("echo '") + kUser + ":" + kPassword + "' | chpasswd").c_str());
    }
    static void TearDownTestSuite() {
        if (::geteuid() == 0) (void)std::system((std::string("userdel ") + kUser + " >/dev/null 2>&1").c_str());
    }

    void SetUp() override {
        NK_REQUIRE_ROOT();
        char pattern[] = "/tmp/nk-net-XXXXXX";
        dir = ::mkdtemp(pattern);
        ::chmod(dir.c_str(), 0777);  // vsftpd's user writes its upload here
        // nkd's run directory is hidden from the guests: the files they share with the test live beside it.
        run_dir = dir + "/run";
        std::filesystem::create_directory(run_dir);
        platform = "net" + std::to_string(::getpid()) + "x" + std::to_string(counter++);
    }
    void TearDown() override {
        stop_nkd();
        for (const auto& command : cleanup) (void)std::system(command.c_str());
        if (!dir.empty()) std::filesystem::remove_all(dir);
    }

    void start_nkd(const std::string& alpha_net = {}, const std::string& beta_extra = {}) {
        config = run_dir + "/" + platform + ".toml";
        std::ofstream(config) << three_guests_toml(platform, alpha_net, beta_extra);
        log = run_dir + "/nkd.log";
        nkd = test::start_nkd(run_dir, config, log);
        ASSERT_TRUE(wait_until([&] { return all_routers_up(); }, 15s)) << read_file(log);
    }

    int stop_nkd() {
        const int status = test::stop_nkd(nkd);
        nkd = -1;
        return status;
    }

    CommandResult nkctl(const std::string& args) const {
        return test::run_command(run_dir, test::binary("nkctl") + " " + args + " --platform " + platform);
    }
    CommandResult exec(const std::string& guest, const std::string& command) const {
        return test::run_command(run_dir, test::binary("nkctl") + " exec --platform " + platform + " " + guest + " -- " + command);
    }
    nlohmann::json net() const {
        auto out = nkctl("net --json");
        return out.status == 0 ? nlohmann::json::parse(out.output, nullptr, false) : nlohmann::json::array();
    }
    // Every guest's end of the netbridge has made its ports and counters (two TUN routers and
    // rt's lwIP netif), and the guests run.
    bool all_routers_up() const {
        int up = 0;
        for (const auto& g : net())
            if (g.is_object() && (g["netbridge"] == "tun" || g["netbridge"] == "lwip") && g["state"] == "running") ++up;
        return up == 3;
    }
    std::string state_of(const std::string& name) const {
        auto out = nkctl("guests --json");
        if (out.status != 0) return "";
        for (const auto& g : nlohmann::json::parse(out.output, nullptr, false))
            if (g.is_object() && g["name"] == name) return g["state"];
        return "";
    }
    pid_t pid_in(const std::string& guest, const std::string& program) const {
        auto out = exec(guest, "pgrep -x " + program);
        return out.status == 0 ? static_cast<pid_t>(std::stol(out.output)) : -1;
    }
    // Runs an expect script (written to a file) in `guest`.
    CommandResult expect(const std::string& guest, const std::string& script) const {
        const std::string path = dir + "/script" + std::to_string(++scripts) + ".exp";
        std::ofstream(path) << script;
        return exec(guest, "expect " + path);
    }
    static std::string telnet_login_script(const std::string& host) {
        return std::string("set timeout 15\nspawn telnet ") + host + "\n" +
               "expect \"login:\" { send \"" + kUser + "\\r\" } timeout { puts \"\\nNO-LOGIN-PROMPT\"; exit 2 }\n"
               "expect \"Password:\" { send \"" + kPassword + "\\r\" } timeout { puts \"\\nNO-PASSWORD-PROMPT\"; exit 3 }\n"
               "expect -re {\\$ $} { send \"echo answer-\\$((6*7)) from `hostname`\\r\" } timeout { puts \"\\nNO-SHELL\"; exit 4 }\n"
               "expect \"answer-42 from beta\" {} timeout { puts \"\\nNO-ANSWER\"; exit 5 }\n"
               "send \"exit\\r\"\nexpect eof\n";
    }

    template <class Pred>
    static bool wait_until(Pred pred, std::chrono::milliseconds limit) {
        return test::wait_until(pred, limit, 20ms);
    }

    static inline int counter = 0;
    mutable int scripts = 0;
    std::vector<std::string> cleanup;
    std::string dir, run_dir, platform, config, log;
    pid_t nkd = -1;
};

TEST_F(Netbridge, PingAndPing6ReachTheOtherLinuxGuest) {
    start_nkd();
    auto v4 = exec("alpha", "ping -c 3 -i 0.2 -W 2 10.77.2.1");
    EXPECT_EQ(v4.status, 0) << v4.output;
    EXPECT_NE(v4.output.find("3 received"), std::string::npos) << v4.output;
    auto v6 = exec("beta", "ping -6 -c 3 -i 0.2 -W 2 fd77:1::1");
    EXPECT_EQ(v6.status, 0) << v6.output;
    EXPECT_NE(v6.output.find("3 received"), std::string::npos) << v6.output;

    // Each ping crossed alpha->beta and back: the routes' counters say so.
    bool counted = false;
    for (const auto& g : net())
        if (g["guest"] == "alpha") {
            EXPECT_EQ(g["address"], "10.77.1.1/24");
            EXPECT_EQ(g["address6"], "fd77:1::1/64");
            for (const auto& r : g["routes"])
                if (r["to"] == "beta") counted = r["tx_packets"].get<std::uint64_t>() >= 3 && r["rx_packets"].get<std::uint64_t>() >= 3;
        }
    EXPECT_TRUE(counted) << nkctl("net --json").output;
}

// By name, as a user types it: the guest's /etc/hosts names the guests.
TEST_F(Netbridge, TelnetLogsInToTheOtherGuestAndRunsACommand) {
    start_nkd();
    auto session = expect("alpha", telnet_login_script("beta"));
    EXPECT_EQ(session.status, 0) << session.output;
    EXPECT_NE(session.output.find("answer-42 from beta"), std::string::npos) << session.output;
}

// Each linux guest's /etc/hosts names every guest with an address, itself first; the host's
// own file is left as it was, and its lines follow in the guests' copies.
TEST_F(Netbridge, TheGuestsKnowEachOthersNames) {
    const std::string host_hosts = read_file("/etc/hosts");
    start_nkd();
    const auto resolve = [&](const std::string& guest, const std::string& name) {
        auto out = exec(guest, "getent ahosts " + name);
        EXPECT_EQ(out.status, 0) << guest << " resolving " << name << ": " << out.output;
        return out.output;
    };
    EXPECT_NE(resolve("alpha", "beta").find("10.77.2.1"), std::string::npos);
    EXPECT_NE(resolve("alpha", "beta").find("fd77:2::1"), std::string::npos);
    EXPECT_NE(resolve("alpha", "rt").find("10.77.3.1"), std::string::npos);
    EXPECT_NE(resolve("beta", "alpha").find("10.77.1.1"), std::string::npos);
    // Its own host name too: the name programs look up as they start.
    auto own = exec("beta", "sh -c 'getent ahostsv4 $(hostname)'");
    EXPECT_EQ(own.status, 0) << own.output;
    EXPECT_NE(own.output.find("10.77.2.1"), std::string::npos) << own.output;
    auto ping = exec("alpha", "ping -c 1 -W 2 rt");
    EXPECT_EQ(ping.status, 0) << ping.output;
    auto ping6 = exec("beta", "ping -6 -c 1 -W 2 alpha");
    EXPECT_EQ(ping6.status, 0) << ping6.output;

    auto copy = exec("alpha", "cat /etc/hosts");
    ASSERT_EQ(copy.status, 0) << copy.output;
    EXPECT_NE(copy.output.find(host_hosts), std::string::npos) << "the host's lines follow:\n" << copy.output;
    EXPECT_EQ(read_file("/etc/hosts"), host_hosts) << "the host's file changed";
}

std::string rt_console_script(const std::string& host) {
    return "set timeout 15\nspawn telnet " + host + "\n"
           "expect \"rt> \" { send \"status\\r\" } timeout { puts \"\\nNO-PROMPT\"; exit 2 }\n"
           "expect \"guest rt (id 3)\" {} timeout { puts \"\\nNO-STATUS\"; exit 3 }\n"
           "expect \"rt> \" { send \"echo console-says-hi\\r\" } timeout { exit 4 }\n"
           "expect \"console-says-hi\" {} timeout { exit 5 }\n"
           "expect \"rt> \" { send \"quit\\r\" }\nexpect eof\n";
}

TEST_F(Netbridge, TheRtGuestsLwipAnswersPingAndItsTelnetConsole) {
    start_nkd();
    auto v4 = exec("alpha", "ping -c 3 -i 0.2 -W 2 10.77.3.1");
    EXPECT_EQ(v4.status, 0) << v4.output;
    auto v6 = exec("beta", "ping -6 -c 2 -i 0.2 -W 2 fd77:3::1");
    EXPECT_EQ(v6.status, 0) << v6.output;
    auto session = expect("alpha", rt_console_script("10.77.3.1"));
    EXPECT_EQ(session.status, 0) << session.output;
    EXPECT_NE(session.output.find("address 10.77.3.1/24"), std::string::npos) << session.output;
    // The rt guest's counters saw it: lwIP's end keeps the same table as a router.
    bool counted = false;
    for (const auto& g : net())
        if (g["guest"] == "rt") {
            EXPECT_EQ(g["netbridge"], "lwip");
            for (const auto& r : g["routes"])
                if (r["to"] == "alpha") counted = r["rx_packets"].get<std::uint64_t>() >= 3;
        }
    EXPECT_TRUE(counted) << nkctl("net --json").output;
}

TEST_F(Netbridge, FtpMovesTwentyMegabytesBothWaysIntact) {
    start_nkd();
    const std::string up = dir + "/up.bin", down = dir + "/down.bin";
    ASSERT_EQ(std::system(("head -c 20971520 /dev/urandom > " + up).c_str()), 0);
    std::ofstream(dir + "/ftp.cmds") << "user " << kUser << " " << kPassword << "\nbinary\ncd " << dir
                                     << "\nput " << up << " remote.bin\nget remote.bin " << down << "\nbye\n";
    auto session = exec("alpha", "sh -c 'ftp -n -v 10.77.2.1 < " + dir + "/ftp.cmds'");
    EXPECT_EQ(session.status, 0) << session.output;
    EXPECT_NE(session.output.find("20971520 bytes sent"), std::string::npos) << session.output;
    EXPECT_NE(session.output.find("20971520 bytes received"), std::string::npos) << session.output;
    auto sums = test::run_command(dir, "sha256sum " + up + " " + dir + "/remote.bin " + down + " | cut -d' ' -f1 | uniq | wc -l");
    EXPECT_EQ(sums.output, "1\n") << test::run_command(dir, "sha256sum " + dir + "/*.bin").output;
}

TEST_F(Netbridge, DeadOrUnknownDestinationsFailAtOnceAndTrafficResumesAfterRestart) {
    // Beta stays down after it is killed until the test starts it again: with nkd's own restart
    // (100 ms later) a fast machine had beta and its telnetd back before alpha's connect.
    start_nkd({}, "restart = \"never\"\n");
    const pid_t alpha_router = pid_in("alpha", "nk-netbridge");
    ASSERT_GT(alpha_router, 0);

    // A guest that is stopped is "host unreachable" at once.
    ASSERT_EQ(nkctl("stop rt").status, 0);
    ASSERT_TRUE(wait_until([&] { return state_of("rt") != "running"; }, 5s));
    auto start = Clock::now();
    auto rt = exec("alpha", "ping -c 1 -W 5 10.77.3.1");
    EXPECT_NE(rt.status, 0);
    EXPECT_NE(rt.output.find("Unreachable"), std::string::npos) << rt.output;
    EXPECT_LT(Clock::now() - start, 3s);
    ASSERT_EQ(nkctl("start rt").status, 0);

    // Beta is killed while alpha sends to it: alpha's connects fail fast, they do not hang.
    auto beta = nlohmann::json::parse(nkctl("guests --json").output, nullptr, false);
    pid_t beta_init = -1;
    for (const auto& g : beta)
        if (g["name"] == "beta") beta_init = g["pid"];
    ASSERT_GT(beta_init, 0);
    ASSERT_EQ(::kill(beta_init, SIGKILL), 0);
    ASSERT_TRUE(wait_until([&] { return state_of("beta") != "running"; }, 5s));
    start = Clock::now();
    auto refused = exec("alpha", "python3 -c \"import socket; s=socket.socket(); s.settimeout(10); s.connect(('10.77.2.1', 23))\"");
    EXPECT_NE(refused.status, 0);
    EXPECT_NE(refused.output.find("No route to host"), std::string::npos) << refused.output;
    EXPECT_LT(Clock::now() - start, 3s) << "a connect to a dead guest must fail at once";

    // Beta comes back; a new telnet session works, and alpha's router is the same process.
    ASSERT_EQ(nkctl("start beta").status, 0);
    ASSERT_TRUE(wait_until([&] { return state_of("beta") == "running" && all_routers_up(); }, 15s)) << read_file(log);
    bool logged_in = false;
    for (int attempt = 0; attempt < 20 && !logged_in; ++attempt) {  // beta's telnetd may still be starting
        logged_in = expect("alpha", telnet_login_script("10.77.2.1")).status == 0;
        if (!logged_in) std::this_thread::sleep_for(250ms);
    }
    EXPECT_TRUE(logged_in) << expect("alpha", telnet_login_script("10.77.2.1")).output;
    EXPECT_EQ(pid_in("alpha", "nk-netbridge"), alpha_router);
    bool counted_down = false;
    for (const auto& g : net())
        if (g["guest"] == "alpha")
            for (const auto& r : g["routes"])
                if (r["to"] == "beta") counted_down = r["drops"]["peer_down"].get<std::uint64_t>() >= 1;
    EXPECT_TRUE(counted_down) << nkctl("net --json").output;
}

// A guest may speak only from its own addresses. beta forges ICMP echo requests from rt's
// address to alpha through a raw socket; beta's kernel and router carry them, alpha's router
// finds the source outside beta's subnets, drops each one and counts it as malformed. A real
// ping from beta right after still gets through.
TEST_F(Netbridge, AGuestCannotSendFromAnotherGuestsAddress) {
    start_nkd();
    const auto malformed_at_alpha = [&]() -> std::int64_t {
        for (const auto& g : net())
            if (g["guest"] == "alpha") return g["malformed"].get<std::int64_t>();
        return -1;
    };
    const std::int64_t before = malformed_at_alpha();
    ASSERT_GE(before, 0) << nkctl("net --json").output;
    const std::string forge = dir + "/forge.py";
    std::ofstream(forge) << "import socket, struct\n"
                            "def csum(b):\n"
                            "    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))\n"
                            "    s = (s >> 16) + (s & 0xffff); s += s >> 16\n"
                            "    return ~s & 0xffff\n"
                            "icmp = struct.pack('!BBHHH', 8, 0, 0, 0x4e4b, 1) + b'forged-source'\n"
                            "icmp = icmp[:2] + struct.pack('!H', csum(icmp + b'\\0')) + icmp[4:]\n"
                            "src, dst = socket.inet_aton('10.77.3.1'), socket.inet_aton('10.77.1.1')\n"
                            "ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(icmp), 7, 0, 64, 1, 0, src, dst)\n"
                            "ip = ip[:10] + struct.pack('!H', csum(ip)) + ip[12:]\n"
                            "s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)\n"
                            "for _ in range(5): s.sendto(ip + icmp, ('10.77.1.1', 0))\n";
    auto sent = exec("beta", "python3 " + forge);
    ASSERT_EQ(sent.status, 0) << sent.output;
    EXPECT_TRUE(wait_until([&] { return malformed_at_alpha() >= before + 5; }, 5s)) << nkctl("net --json").output;
    auto ping = exec("beta", "ping -c 2 -i 0.2 -W 2 10.77.1.1");
    EXPECT_EQ(ping.status, 0) << ping.output;
}

// The routers run SCHED_BATCH (nk-netbridge's main.cpp says why), every thread of them.
TEST_F(Netbridge, TheRoutersNeverPreemptTheProgramsTheyCarryPacketsFor) {
    start_nkd();
    const std::string list = dir + "/policies.sh";
    std::ofstream(list) << "for t in /proc/$(pgrep -x nk-netbridge)/task/*; do chrt -p ${t##*/}; done\n";
    for (const char* guest : {"alpha", "beta"}) {
        auto policies = exec(guest, "sh " + list);
        ASSERT_EQ(policies.status, 0) << policies.output;
        std::istringstream lines(policies.output);
        int threads = 0;
        for (std::string line; std::getline(lines, line);) {
            if (line.find("scheduling policy") == std::string::npos) continue;
            ++threads;
            EXPECT_NE(line.find("SCHED_BATCH"), std::string::npos) << guest << ": " << line;
        }
        EXPECT_GE(threads, 2) << guest << ": the TUN thread and the inbound thread\n" << policies.output;
    }
}

TEST_F(Netbridge, OutsideHostReachesTheGuestsThroughTheGatewayGuest) {
    // The outside network: a namespace with one end of a veth; the other end goes to alpha.
    const std::string outside_ns = "nkout" + std::to_string(::getpid());
    const std::string veth = "nkv" + std::to_string(::getpid() % 100000), peer = veth + "o";
    cleanup.push_back("ip netns del " + outside_ns + " 2>/dev/null");
    cleanup.push_back("ip link del " + veth + " 2>/dev/null");
    ASSERT_EQ(std::system(("ip netns add " + outside_ns + " && ip link add " + veth + " type veth peer name " + peer +
                           " && ip link set " + peer + " netns " + outside_ns + " && ip -n " + outside_ns + " addr add 192.168.77.2/24 dev " +
                           peer + " && ip -n " + outside_ns + " link set " + peer + " up && ip -n " + outside_ns +
                           " link set lo up && ip -n " + outside_ns + " route add 10.77.0.0/16 via 192.168.77.1").c_str()),
              0);
    start_nkd(", forward = true, outside = \"" + veth + "\", outside_address = \"192.168.77.1/24\"");
    // From the outside host to beta: through alpha's kernel (forwarding) and both routers.
    auto ping = test::run_command(dir, "ip netns exec " + outside_ns + " ping -c 3 -i 0.2 -W 2 10.77.2.1");
    EXPECT_EQ(ping.status, 0) << ping.output << read_file(log);
    // And beta to the outside host: its default route leads to the gateway guest.
    auto back = exec("beta", "ping -c 2 -i 0.2 -W 2 192.168.77.2");
    EXPECT_EQ(back.status, 0) << back.output;
    const std::string script = dir + "/outside.exp";
    std::ofstream(script) << telnet_login_script("10.77.2.1");
    auto telnet = test::run_command(dir, "ip netns exec " + outside_ns + " expect " + script);
    EXPECT_EQ(telnet.status, 0) << telnet.output;
    // And the rt guest's console, which has no kernel stack at all: lwIP routes its answers to
    // the gateway guest.
    const std::string rt_script = dir + "/outside-rt.exp";
    std::ofstream(rt_script) << rt_console_script("10.77.3.1");
    auto rt = test::run_command(dir, "ip netns exec " + outside_ns + " expect " + rt_script);
    EXPECT_EQ(rt.status, 0) << rt.output;
}

}  // namespace
}  // namespace nk
