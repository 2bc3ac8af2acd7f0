// Unit tests of the lines nkd gives a linux guest's /etc/hosts (guest_hosts.hpp).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "nk/nanokernel/guest_hosts.hpp"
#include "nk/nanokernel/platform_config.hpp"

namespace nk {
namespace {

using Lines = std::vector<std::string>;

// alpha and beta with addresses (beta with IPv6 too), lin_ux and rt without.
const char* kPlatform = R"([platform]
name = "p"
[areas]
link_size = 65536
common_size = 65536
pnv_size = 65536
[[guests]]
id = 1
name = "alpha"
kind = "linux"
memory = 65536
cpus = [0]
net = { address = "10.77.1.1/24" }
[[guests]]
id = 2
name = "beta"
kind = "linux"
memory = 65536
cpus = [0]
hostname = "beta-host"
net = { address = "10.77.2.1/24", address6 = "fd77:2::1/64" }
[[guests]]
id = 3
name = "lin_ux"
kind = "linux"
memory = 65536
cpus = [0]
[[guests]]
id = 4
name = "rt"
kind = "rt"
memory = 65536
cpus = [0]
priority = 50
net = { address = "10.77.3.1/24" }
[[links]]
guests = ["alpha", "beta"]
)";

class GuestHosts : public ::testing::Test {
protected:
    void SetUp() override {
        auto parsed = parse_platform_config(kPlatform, "p.toml");
        ASSERT_TRUE(parsed) << parsed.error().message;
        config = std::move(*parsed);
    }
    Lines lines_for(const std::string& name) const { return guest_hosts_lines(config, *config.find_guest(name)); }
    PlatformConfig config;
};

TEST_F(GuestHosts, AGuestFindsItselfFirstThenEveryOtherGuestWithAnAddress) {
    EXPECT_EQ(lines_for("alpha"),
              (Lines{"10.77.1.1 alpha", "10.77.2.1 beta beta-host", "fd77:2::1 beta beta-host", "10.77.3.1 rt"}));
}

TEST_F(GuestHosts, AHostNameThatDiffersFromTheGuestsNameIsAnAliasOnEachOfItsAddresses) {
    EXPECT_EQ(lines_for("beta"),
              (Lines{"10.77.2.1 beta beta-host", "fd77:2::1 beta beta-host", "10.77.1.1 alpha", "10.77.3.1 rt"}));
}

TEST_F(GuestHosts, AGuestWithoutAnAddressHasItsHostNameOnTheDebianLoopbackAddress) {
    // lin_ux's host name is lin-ux ('_' is not allowed in host names): both resolve.
    EXPECT_EQ(lines_for("lin_ux"),
              (Lines{"127.0.1.1 lin_ux lin-ux", "10.77.1.1 alpha", "10.77.2.1 beta beta-host", "fd77:2::1 beta beta-host",
                     "10.77.3.1 rt"}));
}

}  // namespace
}  // namespace nk
