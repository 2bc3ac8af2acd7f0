// LwipStack and its console against a real region: guest "rt" runs lwIP, the test speaks for
// guest "linux" with PacketLinks and hand-built packets (what nk-netbridge would forward from
// the linux guest's TUN), and checks lwIP's replies byte by byte, checksums included.
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "nk/nanokernel/region.hpp"
#include "nk/netbridge/console.hpp"
#include "nk/netbridge/lwip_stack.hpp"
#include "nk/netbridge/net_stats.hpp"
#include "nk/netbridge/packet.hpp"
#include "nk/netbridge/packet_links.hpp"
#include "test_platform.hpp"

namespace nk::netbridge {
namespace {

using Bytes = std::vector<std::uint8_t>;
using namespace std::chrono_literals;

std::string net_platform_toml(const std::string& name) {
    return "[platform]\nname = \"" + name +
           "\"\n"
           "[areas]\nlink_size = \"4 MiB\"\ncommon_size = \"256 KiB\"\npnv_size = \"256 KiB\"\n"
           "[[guests]]\nid = 1\nname = \"linux\"\nkind = \"linux\"\nmemory = \"256 KiB\"\ncpus = [0]\n"
           "net = { address = \"10.77.1.1/24\", address6 = \"fd77:1::1/64\" }\n"
           "[[guests]]\nid = 2\nname = \"rt\"\nkind = \"rt\"\nmemory = \"256 KiB\"\ncpus = [0]\nsched = \"rt\"\npriority = 50\n"
           "net = { address = \"10.77.2.1/24\", address6 = \"fd77:2::1/64\" }\n"
           "[[links]]\nguests = [\"linux\", \"rt\"]\n"
           "[[access]]\nobjects = \"*\"\nguests = [\"*\"]\nrights = \"rw\"\n";
}

constexpr std::array<std::uint8_t, 4> kLinux4{10, 77, 1, 1}, kRt4{10, 77, 2, 1}, kNobody4{10, 77, 9, 9};
constexpr std::array<std::uint8_t, 16> kLinux6{0xfd, 0x77, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
constexpr std::array<std::uint8_t, 16> kRt6{0xfd, 0x77, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};

void put16(Bytes& b, std::size_t at, std::uint32_t v) {
    b[at] = static_cast<std::uint8_t>(v >> 8);
    b[at + 1] = static_cast<std::uint8_t>(v);
}
void put32(Bytes& b, std::size_t at, std::uint32_t v) {
    put16(b, at, v >> 16);
    put16(b, at + 2, v & 0xffff);
}
std::uint32_t get16(std::span<const std::uint8_t> b, std::size_t at) { return (std::uint32_t{b[at]} << 8) | b[at + 1]; }
std::uint32_t get32(std::span<const std::uint8_t> b, std::size_t at) { return (get16(b, at) << 16) | get16(b, at + 2); }

// The pseudo-header sum of IPv4 (RFC 793) or IPv6 (RFC 8200 8.1) for `length` bytes of `protocol`.
std::uint32_t pseudo_sum(std::span<const std::uint8_t> src, std::span<const std::uint8_t> dst, std::uint8_t protocol,
                         std::size_t length) {
    std::uint32_t sum = checksum_add(0, src);
    sum = checksum_add(sum, dst);
    const std::array<std::uint8_t, 8> tail{0,
                                           0,
                                           static_cast<std::uint8_t>(length >> 24),
                                           static_cast<std::uint8_t>(length >> 16),
                                           static_cast<std::uint8_t>(length >> 8),
                                           static_cast<std::uint8_t>(length),
                                           0,
                                           protocol};
    return checksum_add(sum, tail);
}

Bytes ipv4(std::uint8_t protocol, const Bytes& payload, std::array<std::uint8_t, 4> dst = kRt4) {
    Bytes p(20 + payload.size());
    p[0] = 0x45;
    put16(p, 2, static_cast<std::uint32_t>(p.size()));
    put16(p, 4, 0x1234);
    put16(p, 6, 0x4000);
    p[8] = 64;
    p[9] = protocol;
    std::copy(kLinux4.begin(), kLinux4.end(), p.begin() + 12);
    std::copy(dst.begin(), dst.end(), p.begin() + 16);
    put16(p, 10, checksum_fold(checksum_add(0, std::span(p).first(20))));
    std::copy(payload.begin(), payload.end(), p.begin() + 20);
    return p;
}

Bytes ipv6(std::uint8_t next, Bytes payload) {
    Bytes p(40 + payload.size());
    p[0] = 0x60;
    put16(p, 4, static_cast<std::uint32_t>(payload.size()));
    p[6] = next;
    p[7] = 64;
    std::copy(kLinux6.begin(), kLinux6.end(), p.begin() + 8);
    std::copy(kRt6.begin(), kRt6.end(), p.begin() + 24);
    std::copy(payload.begin(), payload.end(), p.begin() + 40);
    return p;
}

Bytes echo_request(std::uint8_t type, std::uint16_t id, std::uint16_t seq, const std::string& data) {
    Bytes icmp(8 + data.size());
    icmp[0] = type;
    put16(icmp, 4, id);
    put16(icmp, 6, seq);
    std::memcpy(icmp.data() + 8, data.data(), data.size());
    return icmp;
}

constexpr std::uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04, kPsh = 0x08, kAck = 0x10;

Bytes tcp_segment(std::uint16_t sport, std::uint16_t dport, std::uint32_t seq, std::uint32_t ack, std::uint8_t flags,
                  const std::string& data) {
    const bool syn = (flags & kSyn) != 0;
    const std::size_t header = syn ? 24 : 20;  // a SYN says its MSS
    Bytes t(header + data.size());
    put16(t, 0, sport);
    put16(t, 2, dport);
    put32(t, 4, seq);
    put32(t, 8, ack);
    t[12] = static_cast<std::uint8_t>((header / 4) << 4);
    t[13] = flags;
    put16(t, 14, 65535);
    if (syn) {
        t[20] = 2;
        t[21] = 4;
        put16(t, 22, 1460);
    }
    std::memcpy(t.data() + header, data.data(), data.size());
    put16(t, 16, checksum_fold(checksum_add(pseudo_sum(kLinux4, kRt4, 6, t.size()), t)));
    return t;
}

class LwipStackTest : public ::testing::Test {
protected:
    void SetUp() override {
        static int counter = 0;
        auto config = parse_platform_config(net_platform_toml("n" + std::to_string(::getpid()) + "-" + std::to_string(counter++)),
                                            "net.toml");
        ASSERT_TRUE(config) << config.error().message;
        config_ = *config;
        auto created = Region::create(config_);
        ASSERT_TRUE(created) << created.error().message;
        creator_.emplace(std::move(*created));
        linux_.emplace(test::attach_as_guest(*creator_, 1));
        rt_.emplace(test::attach_as_guest(*creator_, 2));
        auto rt_plan = plan_for(config_, *config_.find_guest("rt"));
        ASSERT_TRUE(rt_plan) << rt_plan.error().message;
        // The rt guest's plan goes through its text form, as NK_NET_PLAN carries it.
        auto decoded = decode_plan(encode(*rt_plan));
        ASSERT_TRUE(decoded) << decoded.error().message;
        rt_plan_ = *decoded;
        auto linux_plan = plan_for(config_, *config_.find_guest("linux"));
        ASSERT_TRUE(linux_plan) << linux_plan.error().message;
        linux_plan_ = *linux_plan;
        ASSERT_EQ(linux_plan_.peers.size(), 1U);
        auto stack = LwipStack::start(*rt_, rt_plan_);
        ASSERT_TRUE(stack) << stack.error().message;
        stack_ = std::move(*stack);
        auto links = PacketLinks::open(*linux_, linux_plan_);
        ASSERT_TRUE(links) << links.error().message;
        links_.emplace(std::move(*links));
    }
    void TearDown() override {
        console_.reset();  // before lwIP's netif goes
        stack_.reset();
    }

    // As the linux guest's router: one plain packet to the rt guest.
    void send(const Bytes& packet) {
        Bytes message(sizeof(VnetHeader), 0);
        message.insert(message.end(), packet.begin(), packet.end());
        ASSERT_EQ(links_->send(0, std::as_bytes(std::span(message))), SendResult::Ok);
    }

    // The next packet from the rt guest that `match` takes (others are skipped), or nothing
    // within `timeout`. Every message must be a plain one: header all zero.
    std::optional<Bytes> receive(const std::function<bool(const Bytes&)>& match, std::chrono::milliseconds timeout = 10s) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        std::vector<std::byte> buffer(kMaxMessage);
        while (std::chrono::steady_clock::now() < deadline) {
            auto got = links_->inbound(0).receive(buffer, 50ms);
            if (!got) {
                ADD_FAILURE() << got.error().message;
                return std::nullopt;
            }
            if (!*got) continue;
            const std::size_t n = **got;
            if (n < sizeof(VnetHeader)) {
                ADD_FAILURE() << "message of " << n << " bytes";
                continue;
            }
            EXPECT_TRUE(std::all_of(buffer.begin(), buffer.begin() + sizeof(VnetHeader), [](std::byte b) { return b == std::byte{0}; }))
                << "lwIP's packets carry an all-zero virtio-net header";
            Bytes packet(n - sizeof(VnetHeader));
            std::memcpy(packet.data(), buffer.data() + sizeof(VnetHeader), packet.size());
            if (match(packet)) return packet;
        }
        return std::nullopt;
    }

    PlatformConfig config_;
    std::optional<Region> creator_, linux_, rt_;
    NetPlan rt_plan_, linux_plan_;
    std::unique_ptr<LwipStack> stack_;
    std::optional<PacketLinks> links_;
    std::unique_ptr<Console> console_;
};

bool is_v4(const Bytes& p, std::uint8_t protocol) { return p.size() >= 20 && (p[0] >> 4) == 4 && p[9] == protocol; }
std::size_t ihl(const Bytes& p) { return static_cast<std::size_t>(p[0] & 0x0f) * 4; }

void expect_v4_header_valid(const Bytes& p) {
    ASSERT_GE(p.size(), 20U);
    EXPECT_EQ(get16(p, 2), p.size()) << "total length";
    EXPECT_EQ(checksum_fold(checksum_add(0, std::span(p).first(ihl(p)))), 0U) << "IPv4 header checksum";
    EXPECT_TRUE(std::equal(kRt4.begin(), kRt4.end(), p.begin() + 12)) << "from the rt guest's address";
    EXPECT_TRUE(std::equal(kLinux4.begin(), kLinux4.end(), p.begin() + 16)) << "to the linux guest";
}

TEST_F(LwipStackTest, AnswersIcmpEchoRequestWithCompleteChecksums) {
    Bytes icmp = echo_request(8, 0x4242, 7, "nk ping payload");
    put16(icmp, 2, checksum_fold(checksum_add(0, icmp)));
    send(ipv4(1, icmp));
    auto reply = receive([](const Bytes& p) { return is_v4(p, 1); });
    ASSERT_TRUE(reply) << "no ICMP reply from lwIP";
    expect_v4_header_valid(*reply);
    const auto body = std::span(*reply).subspan(ihl(*reply));
    ASSERT_EQ(body.size(), icmp.size());
    EXPECT_EQ(body[0], 0) << "echo reply";
    EXPECT_EQ(get16(body, 4), 0x4242U);
    EXPECT_EQ(get16(body, 6), 7U);
    EXPECT_EQ(std::string(body.begin() + 8, body.end()), "nk ping payload");
    EXPECT_EQ(checksum_fold(checksum_add(0, body)), 0U) << "ICMP checksum";

    // Both ends counted it in the region, where nkctl net reads them. The stack counts its send and
    // its batch after handing the reply over, so the reply can arrive first (seen under ASan): wait.
    auto stats = read_net_stats(*linux_, "rt");
    for (int attempt = 0; attempt < 200 && stats && !stats->routes.empty() &&
                          (stats->routes[0].tx_packets == 0 || stack_->totals().received == 0);
         ++attempt) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        stats = read_net_stats(*linux_, "rt");
    }
    ASSERT_TRUE(stats) << stats.error().message;
    ASSERT_EQ(stats->routes.size(), 1U);
    EXPECT_EQ(stats->routes[0].rx_packets, 1U);
    EXPECT_EQ(stats->routes[0].rx_bytes, 20 + icmp.size());
    EXPECT_GE(stats->routes[0].tx_packets, 1U);
    EXPECT_EQ(stack_->totals().received, 1U);
}

TEST_F(LwipStackTest, AnswersMtuSizedEchoRequest) {
    std::string data(1500 - 20 - 8, '\0');
    for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>('a' + i % 26);
    Bytes icmp = echo_request(8, 0x1500, 1, data);
    put16(icmp, 2, checksum_fold(checksum_add(0, icmp)));
    send(ipv4(1, icmp));
    auto reply = receive([](const Bytes& p) { return is_v4(p, 1); });
    ASSERT_TRUE(reply) << "no reply to a 1500-byte echo request";
    expect_v4_header_valid(*reply);
    ASSERT_EQ(reply->size(), 1500U);
    const auto body = std::span(*reply).subspan(ihl(*reply));
    EXPECT_EQ(std::string(body.begin() + 8, body.end()), data);
    EXPECT_EQ(checksum_fold(checksum_add(0, body)), 0U);
}

TEST_F(LwipStackTest, DropsPacketsWithBadChecksumAndOffloadedOnes) {
    Bytes icmp = echo_request(8, 1, 1, "x");
    put16(icmp, 2, checksum_fold(checksum_add(0, icmp)) ^ 0x0101);  // wrong
    send(ipv4(1, icmp));
    // An offloaded message is not for an lwIP guest: the pump drops and counts it.
    Bytes good = echo_request(8, 2, 2, "y");
    put16(good, 2, checksum_fold(checksum_add(0, good)));
    Bytes offloaded(sizeof(VnetHeader), 0);
    offloaded[0] = kVnetNeedsCsum;
    const Bytes packet = ipv4(1, good);
    offloaded.insert(offloaded.end(), packet.begin(), packet.end());
    ASSERT_EQ(links_->send(0, std::as_bytes(std::span(offloaded))), SendResult::Ok);
    // Then a good one: its reply must be the first echo reply we see.
    Bytes third = echo_request(8, 3, 3, "z");
    put16(third, 2, checksum_fold(checksum_add(0, third)));
    send(ipv4(1, third));
    auto reply = receive([](const Bytes& p) { return is_v4(p, 1); });
    ASSERT_TRUE(reply);
    EXPECT_EQ(get16(std::span(*reply).subspan(ihl(*reply)), 4), 3U) << "only the third request is answered";
    EXPECT_FALSE(receive([](const Bytes& p) { return is_v4(p, 1); }, 300ms)) << "nothing more";
    auto stats = read_net_stats(*linux_, "rt");
    ASSERT_TRUE(stats);
    EXPECT_EQ(stats->header.malformed, 1U);
    EXPECT_EQ(stack_->totals().dropped_in, 1U);
}

TEST_F(LwipStackTest, AnswersIcmpv6EchoRequest) {
    Bytes icmp = echo_request(128, 0x6666, 9, "nk ping6");
    put16(icmp, 2, checksum_fold(checksum_add(pseudo_sum(kLinux6, kRt6, 58, icmp.size()), icmp)));
    send(ipv6(58, icmp));
    auto reply = receive([](const Bytes& p) { return p.size() >= 48 && (p[0] >> 4) == 6 && p[6] == 58 && p[40] == 129; });
    ASSERT_TRUE(reply) << "no ICMPv6 echo reply from lwIP";
    EXPECT_EQ(get16(*reply, 4), reply->size() - 40) << "payload length";
    EXPECT_TRUE(std::equal(kRt6.begin(), kRt6.end(), reply->begin() + 8));
    EXPECT_TRUE(std::equal(kLinux6.begin(), kLinux6.end(), reply->begin() + 24));
    const auto body = std::span(*reply).subspan(40);
    EXPECT_EQ(get16(body, 4), 0x6666U);
    EXPECT_EQ(get16(body, 6), 9U);
    EXPECT_EQ(std::string(body.begin() + 8, body.end()), "nk ping6");
    EXPECT_EQ(checksum_fold(checksum_add(pseudo_sum(kRt6, kLinux6, 58, body.size()), body)), 0U) << "ICMPv6 checksum";
}

// A tiny TCP client of the linux side's address: in-order data only (lwIP sends again what we
// drop), every segment checked for its checksum.
struct TcpClient {
    std::function<void(const Bytes&)> send;
    std::function<std::optional<Bytes>(const std::function<bool(const Bytes&)>&, std::chrono::milliseconds)> receive;
    std::uint16_t port = 40023;
    std::uint32_t snd_nxt = 1000, rcv_nxt = 0;
    std::string received;
    bool fin = false;

    static bool ours(const Bytes& p, std::uint16_t port) {
        return is_v4(p, 6) && p.size() >= ihl(p) + 20 && get16(p, ihl(p) + 2) == port;
    }
    void push(std::uint8_t flags, const std::string& data = {}) {
        send(ipv4(6, tcp_segment(port, 23, snd_nxt, rcv_nxt, flags, data)));
        snd_nxt += static_cast<std::uint32_t>(data.size()) + ((flags & (kSyn | kFin)) != 0 ? 1 : 0);
    }
    // Reads segments until `done` holds for what arrived.
    bool read_until(const std::function<bool()>& done, std::chrono::milliseconds timeout = 10s) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (!done()) {
            if (std::chrono::steady_clock::now() >= deadline) return false;
            auto p = receive([this](const Bytes& b) { return ours(b, port); }, 200ms);
            if (!p) continue;
            const auto seg = std::span(*p).subspan(ihl(*p));
            EXPECT_EQ(checksum_fold(checksum_add(pseudo_sum(kRt4, kLinux4, 6, seg.size()), seg)), 0U) << "TCP checksum";
            const std::size_t off = static_cast<std::size_t>(seg[12] >> 4) * 4;
            const std::uint8_t flags = seg[13];
            if ((flags & kRst) != 0) {
                ADD_FAILURE() << "reset by lwIP";
                return false;
            }
            const std::uint32_t seq = get32(seg, 4);
            const std::size_t length = seg.size() - off;
            if (seq == rcv_nxt && (length > 0 || (flags & kFin) != 0)) {
                received.append(seg.begin() + static_cast<std::ptrdiff_t>(off), seg.end());
                rcv_nxt += static_cast<std::uint32_t>(length);
                if ((flags & kFin) != 0) {
                    rcv_nxt += 1;
                    fin = true;
                }
                push(kAck);
            }
        }
        return true;
    }
};

TEST_F(LwipStackTest, AnswersTcpSynOnTheConsolePortWithSynAck) {
    console_ = std::make_unique<Console>(Console::Options{});
    ASSERT_TRUE(console_->start());
    send(ipv4(6, tcp_segment(40001, 23, 5000, 0, kSyn, {})));
    auto reply = receive([](const Bytes& p) { return TcpClient::ours(p, 40001); });
    ASSERT_TRUE(reply) << "no SYN-ACK";
    expect_v4_header_valid(*reply);
    const auto seg = std::span(*reply).subspan(ihl(*reply));
    EXPECT_EQ(get16(seg, 0), 23U);
    EXPECT_EQ(seg[13] & (kSyn | kAck | kRst | kFin), kSyn | kAck);
    EXPECT_EQ(get32(seg, 8), 5001U) << "acknowledges our ISN + 1";
    EXPECT_EQ(checksum_fold(checksum_add(pseudo_sum(kRt4, kLinux4, 6, seg.size()), seg)), 0U) << "TCP checksum";
    // A closed port says RST (lwIP's answer to a SYN nobody listens for).
    send(ipv4(6, tcp_segment(40002, 2323, 7000, 0, kSyn, {})));
    auto reset = receive([](const Bytes& p) { return TcpClient::ours(p, 40002); });
    ASSERT_TRUE(reset);
    EXPECT_NE(reset->at(ihl(*reset) + 13) & kRst, 0);
}

TEST_F(LwipStackTest, ConsoleSessionOverHandBuiltTcp) {
    console_ = std::make_unique<Console>(Console::Options{.port = 23, .banner = "test console"});
    add_guest_commands(*console_, *rt_, rt_plan_);
    console_->add_command("answer", "answer: a command of the test", [](std::string_view args) {
        return "42 " + std::string(args) + "\n";
    });
    ASSERT_TRUE(console_->start());
    TcpClient client;
    client.send = [this](const Bytes& p) { send(p); };
    client.receive = [this](const std::function<bool(const Bytes&)>& m, std::chrono::milliseconds t) { return receive(m, t); };
    client.push(kSyn);
    auto synack = receive([](const Bytes& p) { return TcpClient::ours(p, 40023); });
    ASSERT_TRUE(synack);
    client.rcv_nxt = get32(std::span(*synack).subspan(ihl(*synack)), 4) + 1;
    client.push(kAck);
    auto has = [&client](const std::string& text) { return [&client, text] { return client.received.find(text) != std::string::npos; }; };
    ASSERT_TRUE(client.read_until(has("rt> "))) << client.received;
    EXPECT_NE(client.received.find("test console"), std::string::npos);
    // A telnet client's opening: DO SUPPRESS-GO-AHEAD is refused with WONT.
    client.received.clear();
    client.push(kAck | kPsh, "\xff\xfd\x03" "echo hello nk\r\n");
    ASSERT_TRUE(client.read_until(has("hello nk\r\nrt> "))) << client.received;
    EXPECT_NE(client.received.find("\xff\xfc\x03"), std::string::npos) << "WONT SUPPRESS-GO-AHEAD";
    client.received.clear();
    client.push(kAck | kPsh, "answer x\r\nstatus\r\n");
    ASSERT_TRUE(client.read_until(has("up "))) << client.received;
    EXPECT_NE(client.received.find("42 x"), std::string::npos) << client.received;
    EXPECT_NE(client.received.find("guest rt (id 2)"), std::string::npos) << client.received;
    client.received.clear();
    client.push(kAck | kPsh, "counters\r\n");
    ASSERT_TRUE(client.read_until(has("rt> "))) << client.received;
    EXPECT_NE(client.received.find("linux: tx "), std::string::npos) << client.received;
    client.received.clear();
    client.push(kAck | kPsh, "quit\r\n");
    ASSERT_TRUE(client.read_until([&client] { return client.fin; })) << client.received;
    EXPECT_NE(client.received.find("bye"), std::string::npos);
}

TEST_F(LwipStackTest, SecondStackInOneProcessIsRefused) {
    auto again = LwipStack::start(*rt_, rt_plan_);
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().code, make_error_code(RegionError::Busy));
}

TEST_F(LwipStackTest, PacketsToNobodyAreCountedAsNoRoute) {
    auto stats = read_net_stats(*linux_, "rt");
    ASSERT_TRUE(stats);
    const auto before = stats->header.no_route;
    // An echo request from an address nobody owns: lwIP's reply has no route back.
    Bytes icmp = echo_request(8, 5, 5, "lost");
    put16(icmp, 2, checksum_fold(checksum_add(0, icmp)));
    Bytes packet = ipv4(1, icmp);
    std::copy(kNobody4.begin(), kNobody4.end(), packet.begin() + 12);
    put16(packet, 10, 0);
    put16(packet, 10, checksum_fold(checksum_add(0, std::span(packet).first(20))));
    send(packet);
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    std::uint64_t now = before;
    while (now == before && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(10ms);
        auto again = read_net_stats(*linux_, "rt");
        ASSERT_TRUE(again);
        now = again->header.no_route;
    }
    EXPECT_EQ(now, before + 1);
}

// The rt guest's program as nkd runs it: its plan in NK_NET_PLAN, attached by descriptors. It
// answers a ping from guest linux and ends cleanly on SIGTERM.
TEST(RtConsoleExample, AnswersPingAndStopsOnSigterm) {
    auto config = parse_platform_config(net_platform_toml("x" + std::to_string(::getpid())), "net.toml");
    ASSERT_TRUE(config) << config.error().message;
    auto creator = Region::create(*config);
    ASSERT_TRUE(creator) << creator.error().message;
    Region linux_guest = test::attach_as_guest(*creator, 1);
    auto linux_plan = plan_for(*config, *config->find_guest("linux"));
    auto rt_plan = plan_for(*config, *config->find_guest("rt"));
    ASSERT_TRUE(linux_plan && rt_plan);
    auto links = PacketLinks::open(linux_guest, *linux_plan);
    ASSERT_TRUE(links) << links.error().message;
    auto child = test::spawn_program(*creator, Identity::guest(2), "nk_example_rt_console", {"100"},
                                     {"NK_NET_PLAN=" + encode(*rt_plan)});
    const std::string up = child.read_line(20000);
    ASSERT_NE(up.find("rt console: up at 10.77.2.1/24, fd77:2::1/64, telnet port 23"), std::string::npos) << up;

    Bytes icmp = echo_request(8, 0x7777, 1, "to the example");
    put16(icmp, 2, checksum_fold(checksum_add(0, icmp)));
    Bytes message(sizeof(VnetHeader), 0);
    const Bytes packet = ipv4(1, icmp);
    message.insert(message.end(), packet.begin(), packet.end());
    ASSERT_EQ(links->send(0, std::as_bytes(std::span(message))), SendResult::Ok);
    std::vector<std::byte> buffer(kMaxMessage);
    bool answered = false;
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (!answered && std::chrono::steady_clock::now() < deadline) {
        auto got = links->inbound(0).receive(buffer, 100ms);
        ASSERT_TRUE(got) << got.error().message;
        if (!*got || **got < sizeof(VnetHeader) + 28) continue;
        const auto* p = reinterpret_cast<const std::uint8_t*>(buffer.data()) + sizeof(VnetHeader);
        const std::size_t header = static_cast<std::size_t>(p[0] & 0x0f) * 4;
        answered = (p[0] >> 4) == 4 && p[9] == 1 && p[header] == 0 && p[header + 4] == 0x77 && p[header + 5] == 0x77;
    }
    EXPECT_TRUE(answered) << "no echo reply from nk_example_rt_console";

    ASSERT_EQ(::kill(child.pid, SIGTERM), 0);
    const std::string rest = child.read_all(20000);
    const int status = child.wait();
    ASSERT_TRUE(WIFEXITED(status)) << "status " << status << ": " << rest;
    EXPECT_EQ(WEXITSTATUS(status), 0) << rest;
    EXPECT_NE(rest.find("rt console: stopped (1 packets in, "), std::string::npos) << rest;
}

}  // namespace
}  // namespace nk::netbridge
