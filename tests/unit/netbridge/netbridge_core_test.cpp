// The netbridge's pure parts and its region objects: addresses, the config's net table, plans,
// the routing core, ICMP errors, software segmentation, packet ports and counters.
#include <arpa/inet.h>

#include <cstring>
#include <vector>

#include <gtest/gtest.h>

#include "nk/netbridge/gso.hpp"
#include "nk/netbridge/icmp_error.hpp"
#include "nk/netbridge/net_plan.hpp"
#include "nk/netbridge/net_stats.hpp"
#include "nk/netbridge/packet_links.hpp"
#include "nk/netbridge/route_table.hpp"
#include "test_platform.hpp"

namespace nk::netbridge {
namespace {

using Bytes = std::vector<std::uint8_t>;

std::string net_toml(const std::string& name, const std::string& alpha_net = "address = \"10.77.1.1/24\"",
                     const std::string& rt_net = "address = \"10.77.3.1/24\"") {
    return "[platform]\nname = \"" + name + "\"\nlock_memory = false\n"
           "[areas]\nlink_size = \"4 MiB\"\ncommon_size = \"64 KiB\"\npnv_size = \"64 KiB\"\n"
           "[[guests]]\nid = 1\nname = \"alpha\"\nkind = \"linux\"\nmemory = \"64 KiB\"\ncpus = [0]\n"
           "net = { " + alpha_net + " }\n"
           "[[guests]]\nid = 2\nname = \"beta\"\nkind = \"linux\"\nmemory = \"64 KiB\"\ncpus = [0]\n"
           "net = { address = \"10.77.2.1/24\", address6 = \"fd77:2::1/64\" }\n"
           "[[guests]]\nid = 3\nname = \"rt\"\nkind = \"rt\"\nmemory = \"64 KiB\"\ncpus = [0]\npriority = 10\n"
           "net = { " + rt_net + " }\n"
           "[[links]]\nguests = [\"alpha\", \"beta\"]\n[[links]]\nguests = [\"alpha\", \"rt\"]\n"
           "[[access]]\nobjects = \"*\"\nguests = [\"*\"]\nrights = \"rw\"\n";
}

PlatformConfig config_of(const std::string& toml) {
    static int counter = 0;
    auto config = parse_platform_config(toml, "net.toml");
    EXPECT_TRUE(config) << (config ? "" : config.error().message);
    (void)counter;
    return config ? *config : PlatformConfig{};
}

// An IPv4 packet of `protocol` from src to dst with `payload` bytes after a 20-byte header.
Bytes ipv4(const char* src, const char* dst, std::uint8_t protocol, const Bytes& payload) {
    Bytes p(20 + payload.size(), 0);
    p[0] = 0x45;
    p[2] = static_cast<std::uint8_t>(p.size() >> 8);
    p[3] = static_cast<std::uint8_t>(p.size());
    p[6] = 0x40;  // DF
    p[8] = 64;
    p[9] = protocol;
    ::inet_pton(AF_INET, src, &p[12]);
    ::inet_pton(AF_INET, dst, &p[16]);
    std::copy(payload.begin(), payload.end(), p.begin() + 20);
    const std::uint16_t sum = checksum_fold(checksum_add(0, {p.data(), 20}));
    p[10] = static_cast<std::uint8_t>(sum >> 8);
    p[11] = static_cast<std::uint8_t>(sum);
    return p;
}

Bytes ipv6(const char* src, const char* dst, std::uint8_t next, const Bytes& payload) {
    Bytes p(40 + payload.size(), 0);
    p[0] = 0x60;
    p[4] = static_cast<std::uint8_t>(payload.size() >> 8);
    p[5] = static_cast<std::uint8_t>(payload.size());
    p[6] = next;
    p[7] = 64;
    ::inet_pton(AF_INET6, src, &p[8]);
    ::inet_pton(AF_INET6, dst, &p[24]);
    std::copy(payload.begin(), payload.end(), p.begin() + 40);
    return p;
}

// The transport checksum of a packet as a receiver checks it: 0 when it is right.
std::uint16_t transport_check(const Bytes& p) {
    const auto facts = read_facts(p);
    std::uint32_t sum = checksum_add(0, facts->source);
    sum = checksum_add(sum, facts->destination);
    const std::size_t l4 = facts->total_length - facts->header_length;
    sum += facts->protocol + static_cast<std::uint32_t>(l4);
    return checksum_fold(checksum_add(sum, {p.data() + facts->header_length, l4}));
}

TEST(IpPrefix, ParsesContainsAndOverlaps) {
    auto p = IpPrefix::parse("10.77.1.5/24");
    ASSERT_TRUE(p);
    EXPECT_EQ(p->network_text(), "10.77.1.0/24");
    EXPECT_EQ(p->text(), "10.77.1.5/24");
    const std::uint8_t inside[4] = {10, 77, 1, 200}, outside[4] = {10, 77, 2, 1};
    EXPECT_TRUE(p->contains(inside));
    EXPECT_FALSE(p->contains(outside));
    EXPECT_TRUE(p->overlaps(*IpPrefix::parse("10.77.0.0/16")));
    EXPECT_FALSE(p->overlaps(*IpPrefix::parse("10.77.2.1/24")));
    EXPECT_FALSE(p->overlaps(*IpPrefix::parse("fd77::1/64")));
    EXPECT_EQ(IpPrefix::parse("fd77:1::9/64")->network_text(), "fd77:1::/64");
    for (const char* bad : {"", "10.77.1.1/33", "10.77.1/24", "10.77.1.1/", "10.77.1.1/2x", "fd77::1/129", "host"})
        EXPECT_FALSE(IpPrefix::parse(bad)) << bad;
}

TEST(NetConfig, RefusesOverlappingSubnetsAndMisplacedFieldsWithTheLine) {
    struct Case {
        std::string alpha, rt, field, words;
    } cases[] = {
        // Reported on the later guest, naming the earlier one and its line.
        {"address = \"10.77.2.9/16\"", "address = \"10.77.3.1/24\"", "guests[1].net", "overlaps guest 'alpha''s 10.77.2.9/16 (line"},
        {"address = \"10.77.1.0/24\"", "address = \"10.77.3.1/24\"", "guests[0].net.address", "host part not zero"},
        {"address = \"fd77::1/64\"", "address = \"10.77.3.1/24\"", "guests[0].net.address", "must be an IPv4 address"},
        {"address = \"10.77.1.1/24\", mtu = 100", "address = \"10.77.3.1/24\"", "guests[0].net.mtu", "is not an MTU"},
        {"address = \"10.77.1.1/24\", forward = true", "address = \"10.77.3.1/24\"", "guests[0].net.outside", "needs an outside"},
        {"address = \"10.77.1.1/24\", tun = \"a b\"", "address = \"10.77.3.1/24\"", "guests[0].net.tun", "not an interface name"},
        {"address = \"10.77.1.1/24\"", "address = \"10.77.3.1/24\", tun = \"x\"", "guests[2].net.tun", "only a linux guest"},
        {"address = \"10.77.1.1/24\", color = 1", "address = \"10.77.3.1/24\"", "guests[0].net.color", ""},
    };
    for (const auto& c : cases) {
        auto config = parse_platform_config(net_toml("p", c.alpha, c.rt), "net.toml");
        ASSERT_FALSE(config) << c.alpha << " / " << c.rt;
        EXPECT_NE(config.error().message.find("net.toml:"), std::string::npos) << config.error().message;
        EXPECT_NE(config.error().message.find(c.field), std::string::npos) << config.error().message;
        EXPECT_NE(config.error().message.find(c.words), std::string::npos) << config.error().message;
    }
}

TEST(NetPlan, ListsLinkedPeersAndSurvivesItsTextForm) {
    const auto config = config_of(net_toml("p"));
    auto plan = plan_for(config, *config.find_guest("alpha"));
    ASSERT_TRUE(plan) << plan.error().message;
    ASSERT_EQ(plan->peers.size(), 2U);  // beta and rt: both linked to alpha
    EXPECT_EQ(plan->peers[0].guest, "beta");
    EXPECT_EQ(plan->peers[0].subnets.size(), 2U);  // its IPv4 and IPv6 subnets
    EXPECT_FALSE(plan->peers[1].is_linux);
    auto beta = plan_for(config, *config.find_guest("beta"));
    ASSERT_TRUE(beta);
    EXPECT_EQ(beta->peers.size(), 1U);  // beta and rt are not linked

    auto again = decode_plan(encode(*plan));
    ASSERT_TRUE(again) << again.error().message;
    EXPECT_EQ(encode(*again), encode(*plan));
    EXPECT_EQ(again->peers[1].guest_id, 3);
    for (const char* bad : {"", "self=a", "self=a;address=10.0.0.1/8;mtu=9", "self=a;address=10.0.0.1/8;peer=b,2",
                            "self=a;address=10.0.0.1/8;bogus=1", "self=a;address=nope"})
        EXPECT_FALSE(decode_plan(bad)) << bad;
}

TEST(RouteTable, RoutesBySubnetToTheGatewayOrNowhere) {
    const auto config = config_of(net_toml("p"));
    RouteTable alpha(*plan_for(config, *config.find_guest("alpha")));
    EXPECT_EQ(alpha.route(ipv4("10.77.1.1", "10.77.2.1", 17, Bytes(8))).kind, Verdict::Deliver);
    EXPECT_EQ(alpha.route(ipv4("10.77.1.1", "10.77.2.1", 17, Bytes(8))).peer, 0U);
    EXPECT_EQ(alpha.route(ipv4("10.77.1.1", "10.77.3.7", 17, Bytes(8))).peer, 1U);
    EXPECT_EQ(alpha.route(ipv6("fd77:1::1", "fd77:2::1", 17, Bytes(8))).peer, 0U);
    EXPECT_EQ(alpha.route(ipv4("10.77.1.1", "10.77.1.1", 17, Bytes(8))).kind, Verdict::Local);
    EXPECT_EQ(alpha.route(ipv4("10.77.1.1", "8.8.8.8", 17, Bytes(8))).kind, Verdict::NoRoute);
    Bytes truncated = ipv4("10.77.1.1", "10.77.2.1", 17, Bytes(8));
    truncated.resize(24);  // the header says 28
    EXPECT_EQ(alpha.route(truncated).kind, Verdict::Malformed);
    EXPECT_EQ(alpha.route(Bytes{0x50, 1, 2}).kind, Verdict::Malformed);

    // With alpha as the gateway, rt sends what no guest owns to alpha; alpha itself does not.
    const auto gateway = config_of(net_toml("p", "address = \"10.77.1.1/24\", forward = true, outside = \"veth0\", "
                                                 "outside_address = \"192.168.77.1/24\""));
    RouteTable rt(*plan_for(gateway, *gateway.find_guest("rt")));
    EXPECT_EQ(rt.route(ipv4("10.77.3.1", "192.168.77.2", 6, Bytes(20))).kind, Verdict::Deliver);
    EXPECT_EQ(rt.route(ipv4("10.77.3.1", "8.8.8.8", 6, Bytes(20))).kind, Verdict::Deliver);
    RouteTable gw(*plan_for(gateway, *gateway.find_guest("alpha")));
    EXPECT_EQ(gw.route(ipv4("10.77.1.1", "8.8.8.8", 6, Bytes(20))).kind, Verdict::NoRoute);
}

TEST(IcmpError, AnswersFromTheUnreachableAddressWithValidChecksums) {
    const Bytes udp = ipv4("10.77.1.1", "10.77.3.1", 17, Bytes{1, 2, 3, 4, 5, 6, 7, 8, 9, 10});
    auto reply = unreachable_for(udp, Unreachable::Host);
    ASSERT_TRUE(reply);
    const auto facts = read_facts(*reply);
    ASSERT_TRUE(facts);
    EXPECT_EQ(facts->protocol, 1);
    EXPECT_TRUE(std::equal(facts->source.begin(), facts->source.end(), udp.begin() + 16));       // from 10.77.3.1
    EXPECT_TRUE(std::equal(facts->destination.begin(), facts->destination.end(), udp.begin() + 12));  // to the sender
    EXPECT_EQ((*reply)[20], 3);
    EXPECT_EQ((*reply)[21], 1);  // host unreachable
    EXPECT_EQ(checksum_fold(checksum_add(0, {reply->data(), 20})), 0);
    EXPECT_EQ(checksum_fold(checksum_add(0, {reply->data() + 20, reply->size() - 20})), 0);
    EXPECT_EQ(reply->size(), 20U + 8U + 28U);  // the header and 8 bytes of the original

    const Bytes v6 = ipv6("fd77:1::1", "fd77:3::1", 17, Bytes(16, 7));
    auto reply6 = unreachable_for(v6, Unreachable::Network);
    ASSERT_TRUE(reply6);
    EXPECT_EQ((*reply6)[40], 1);
    EXPECT_EQ((*reply6)[41], 0);
    EXPECT_EQ(transport_check(*reply6), 0);

    // Never an error about an error, nor to a multicast destination.
    EXPECT_FALSE(unreachable_for(*reply, Unreachable::Host));
    EXPECT_FALSE(unreachable_for(ipv4("10.77.1.1", "224.0.0.1", 17, Bytes(8)), Unreachable::Host));
    EXPECT_FALSE(unreachable_for(ipv6("fd77:1::1", "ff02::1", 17, Bytes(8)), Unreachable::Host));
    EXPECT_FALSE(unreachable_for(Bytes{0x45, 0}, Unreachable::Host));
}

// A TCP super-packet as a TUN with TSO hands it over: payload of `n` bytes, the checksum field
// holding the pseudo-header sum.
Bytes tcp_super_packet(std::size_t n, std::uint8_t flags) {
    Bytes tcp(20 + n);
    tcp[0] = 0x30;  // ports 12345 -> 23
    tcp[1] = 0x39;
    tcp[3] = 23;
    tcp[4] = 0x10;  // seq 0x10000000
    tcp[12] = 0x50;
    tcp[13] = flags;
    for (std::size_t i = 0; i < n; ++i) tcp[20 + i] = static_cast<std::uint8_t>(i * 7);
    return ipv4("10.77.1.1", "10.77.3.1", 6, tcp);
}

TEST(Gso, CutsASuperPacketIntoChecksummedSegments) {
    const Bytes big = tcp_super_packet(2500, 0x18 | 0x01);  // PSH ACK FIN
    VnetHeader header{kVnetNeedsCsum, kGsoTcpV4, 40, 1000, 20, 16};
    std::vector<Bytes> out;
    auto made = to_plain_packets(header, big, [&](std::span<const std::uint8_t> one) { out.emplace_back(one.begin(), one.end()); });
    ASSERT_EQ(made, 3U);
    ASSERT_EQ(out.size(), 3U);
    std::size_t payload = 0;
    for (std::size_t i = 0; i < out.size(); ++i) {
        const Bytes& p = out[i];
        EXPECT_EQ(checksum_fold(checksum_add(0, {p.data(), 20})), 0) << i;
        EXPECT_EQ(transport_check(p), 0) << i;
        const std::uint32_t seq = std::uint32_t{p[24]} << 24 | std::uint32_t{p[25]} << 16 | std::uint32_t{p[26]} << 8 | p[27];
        EXPECT_EQ(seq, 0x10000000U + payload) << i;
        EXPECT_EQ((p[33] & 0x01) != 0, i == 2) << "FIN only on the last";
        EXPECT_EQ((p[33] & 0x08) != 0, i == 2) << "PSH only on the last";
        EXPECT_EQ(std::memcmp(p.data() + 40, big.data() + 40 + payload, p.size() - 40), 0);
        payload += p.size() - 40;
    }
    EXPECT_EQ(payload, 2500U);
    EXPECT_EQ(out[2].size(), 40U + 500U);

    // Only the checksum left to do: one packet, finished.
    Bytes small = tcp_super_packet(100, 0x18);
    out.clear();
    EXPECT_EQ(to_plain_packets({kVnetNeedsCsum, kGsoNone, 0, 0, 20, 16}, small,
                               [&](std::span<const std::uint8_t> one) { out.emplace_back(one.begin(), one.end()); }),
              1U);
    // The field held 0 here, not the pseudo-header sum, so check the sum the finisher wrote is the
    // sum over the segment alone.
    ASSERT_EQ(out.size(), 1U);
    EXPECT_EQ(checksum_fold(checksum_add(0, {out[0].data() + 20, out[0].size() - 20})), 0);

    // Lies are refused whole: a checksum offset past the end, a TCP header longer than the packet.
    EXPECT_FALSE(to_plain_packets({kVnetNeedsCsum, kGsoNone, 0, 0, 20, 200}, small, [](auto) {}));
    Bytes lying = tcp_super_packet(10, 0x10);
    lying[32] = 0xF0;  // data offset 60 bytes
    EXPECT_FALSE(to_plain_packets({kVnetNeedsCsum, kGsoTcpV4, 0, 1000, 20, 16}, lying, [](auto) {}));
    EXPECT_FALSE(to_plain_packets({kVnetNeedsCsum, kGsoTcpV6, 0, 1000, 20, 16}, big, [](auto) {}));
}

class PacketLinksTest : public ::testing::Test {
protected:
    void SetUp() override {
        const std::string name = "nb" + std::to_string(::getpid()) + "x" + std::to_string(counter++);
        config = config_of(net_toml(name));
        auto created = Region::create(config);
        ASSERT_TRUE(created) << created.error().message;
        creator.emplace(std::move(*created));
        alpha.emplace(test::attach_as_guest(*creator, 1));
        beta.emplace(test::attach_as_guest(*creator, 2));
    }
    static inline int counter = 0;
    PlatformConfig config;
    std::optional<Region> creator, alpha, beta;
};

TEST_F(PacketLinksTest, CarriesMessagesBothWaysAndSaysWhenThePeerIsDown) {
    auto alpha_plan = plan_for(config, *config.find_guest("alpha"));
    auto beta_plan = plan_for(config, *config.find_guest("beta"));
    auto alpha_links = PacketLinks::open(*alpha, *alpha_plan);
    ASSERT_TRUE(alpha_links) << alpha_links.error().message;
    // rt has no stack running: nobody made its port, so it is down to alpha.
    const std::byte hello[] = {std::byte{1}, std::byte{2}, std::byte{3}};
    EXPECT_EQ(alpha_links->send(1, hello), SendResult::PeerDown);
    EXPECT_EQ(alpha_links->send(0, hello), SendResult::PeerDown);  // beta's ports not made yet

    auto beta_links = PacketLinks::open(*beta, *beta_plan);
    ASSERT_TRUE(beta_links) << beta_links.error().message;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));  // past alpha's retry pause
    EXPECT_EQ(alpha_links->send(0, hello), SendResult::Ok);
    std::vector<std::byte> got(kMaxMessage);
    auto n = beta_links->inbound(0).try_receive(got);
    ASSERT_TRUE(n && *n);
    EXPECT_EQ(**n, 3U);
    EXPECT_EQ(got[2], std::byte{3});

    // A message larger than any IP packet is refused; a full port says so.
    std::vector<std::byte> huge(kMaxMessage + 1);
    EXPECT_EQ(alpha_links->send(0, huge), SendResult::TooLarge);
    std::vector<std::byte> big(60000);
    SendResult last = SendResult::Ok;
    for (int i = 0; i < 100 && last == SendResult::Ok; ++i) last = alpha_links->send(0, big);
    EXPECT_EQ(last, SendResult::Full);

    creator->set_guest_state(2, layout::GuestState::Down, false);
    EXPECT_EQ(alpha_links->send(0, hello), SendResult::PeerDown);
}

TEST_F(PacketLinksTest, CountersAreReadBackCheckedAndADamagedTableIsReported) {
    auto plan = plan_for(config, *config.find_guest("alpha"));
    auto stats = NetStats::create(*alpha, *plan);
    ASSERT_TRUE(stats) << stats.error().message;
    NetStats::add(stats->route(0).tx_packets, 5);
    NetStats::add(stats->header().no_route);
    auto copy = read_net_stats(*beta, "alpha");
    ASSERT_TRUE(copy) << copy.error().message;
    ASSERT_EQ(copy->routes.size(), 2U);
    EXPECT_EQ(copy->routes[0].guest_id, 2);
    EXPECT_EQ(copy->routes[0].tx_packets, 5U);
    EXPECT_EQ(copy->header.no_route, 1U);
    EXPECT_EQ(copy->address->text(), "10.77.1.1/24");
    EXPECT_EQ(copy->interface, "nk0");

    stats->header().route_count = 1000;  // a guest gone wild
    auto damaged = read_net_stats(*beta, "alpha");
    ASSERT_FALSE(damaged);
    EXPECT_EQ(damaged.error().code, make_error_code(RegionError::Corrupt));
    EXPECT_FALSE(read_net_stats(*beta, "rt"));  // none made
}

}  // namespace
}  // namespace nk::netbridge
