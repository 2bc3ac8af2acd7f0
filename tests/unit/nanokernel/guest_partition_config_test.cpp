// Unit tests of the partition fields of a guest in the platform config: what nkd runs, how it
// restarts it, and its cgroup limits (platform_config.hpp, GuestConfig).
#include <gtest/gtest.h>

#include <string>

#include "nk/nanokernel/platform_config.hpp"

namespace nk {
namespace {

// Lines 7-12: a linux guest; lines 13-18: an rt guest. `linux_extra` and `rt_extra` follow each.
std::string platform(const std::string& linux_extra, const std::string& rt_extra = {}) {
    return "[platform]\n"               // 1
           "name = \"p\"\n"             // 2
           "[areas]\n"                  // 3
           "link_size = 65536\n"        // 4
           "common_size = 65536\n"      // 5
           "pnv_size = 65536\n"         // 6
           "[[guests]]\n"               // 7
           "id = 1\n"                   // 8
           "name = \"lin_ux\"\n"        // 9
           "kind = \"linux\"\n"         // 10
           "memory = 65536\n"           // 11
           "cpus = [0]\n"               // 12
           + linux_extra +              // 13...
           "\n[[guests]]\n"
           "id = 2\n"
           "name = \"rt\"\n"
           "kind = \"rt\"\n"
           "memory = 65536\n"
           "cpus = [0]\n"
           "priority = 50\n" +
           rt_extra + "\n";
}

std::string error_of(const std::string& text) {
    auto config = parse_platform_config(text, "p.toml");
    return config ? std::string("<no error>") : config.error().message;
}

TEST(GuestPartitionConfig, DefaultsWhenNothingIsSaid) {
    auto config = parse_platform_config(platform(""), "p.toml");
    ASSERT_TRUE(config) << config.error().message;
    const GuestConfig& linux = config->guests[0];
    EXPECT_EQ(linux.hostname, "lin-ux");  // '_' is not allowed in host names
    EXPECT_TRUE(linux.services.empty());
    EXPECT_EQ(linux.restart, RestartPolicy::OnFailure);
    EXPECT_EQ(linux.restart_limit, 5U);
    EXPECT_EQ(linux.memory_limit, 0U);
    EXPECT_EQ(linux.cpu_weight, 100U);
    EXPECT_TRUE(linux.runnable());  // nk-init alone
    EXPECT_FALSE(config->guests[1].runnable());  // an rt guest with nothing to run
}

TEST(GuestPartitionConfig, EveryFieldIsRead) {
    auto config = parse_platform_config(
        platform("hostname = \"box.one\"\nservices = [[\"sleep\", \"infinity\"], [\"/usr/sbin/vsftpd\"]]\n"
                 "restart = \"always\"\nrestart_limit = 2\nmemory_limit = \"64 MiB\"\ncpu_weight = 300",
                 "run = [\"/opt/rt-app\", \"--hz\", \"1000\"]\nrestart = \"never\""),
        "p.toml");
    ASSERT_TRUE(config) << config.error().message;
    const GuestConfig& linux = config->guests[0];
    EXPECT_EQ(linux.hostname, "box.one");
    ASSERT_EQ(linux.services.size(), 2U);
    EXPECT_EQ(linux.services[0], (std::vector<std::string>{"sleep", "infinity"}));
    EXPECT_EQ(linux.services[1], (std::vector<std::string>{"/usr/sbin/vsftpd"}));
    EXPECT_EQ(linux.restart, RestartPolicy::Always);
    EXPECT_EQ(linux.restart_limit, 2U);
    EXPECT_EQ(linux.memory_limit, 64U << 20);
    EXPECT_EQ(linux.cpu_weight, 300U);
    const GuestConfig& rt = config->guests[1];
    EXPECT_EQ(rt.run, (std::vector<std::string>{"/opt/rt-app", "--hz", "1000"}));
    EXPECT_EQ(rt.restart, RestartPolicy::Never);
    EXPECT_TRUE(rt.runnable());
}

TEST(GuestPartitionConfig, MistakesNameFileLineAndField) {
    EXPECT_EQ(error_of(platform("hostname = \"a b\"")),
              "p.toml:13: guests[0].hostname: 'a b' is not a host name (1 to 63 of A-Z, a-z, 0-9, '-' and '.')");
    EXPECT_EQ(error_of(platform("services = \"sleep 1\"")),
              "p.toml:13: guests[0].services: must be an array of commands, e.g. [[\"/usr/sbin/vsftpd\"], "
              "[\"sleep\", \"1\"]]");
    EXPECT_EQ(error_of(platform("services = [[]]")),
              "p.toml:13: guests[0].services[0]: must be a command: a non-empty array of strings, e.g. "
              "[\"sleep\", \"infinity\"]");
    EXPECT_EQ(error_of(platform("services = [[\"sleep\", 1]]")), "p.toml:13: guests[0].services[0]: must hold strings");
    EXPECT_EQ(error_of(platform("run = [\"x\"]")),
              "p.toml:13: guests[0].run: a linux guest runs nk-init and its `services`; `run` is for rt guests");
    EXPECT_EQ(error_of(platform("", "services = [[\"x\"]]")),
              "p.toml:21: guests[1].services: only linux guests have services; an rt guest names its one process "
              "in `run`");
    EXPECT_EQ(error_of(platform("restart = \"sometimes\"")),
              "p.toml:13: guests[0].restart: 'sometimes' is not a restart policy (on-failure, always or never)");
    EXPECT_EQ(error_of(platform("restart_limit = -1")),
              "p.toml:13: guests[0].restart_limit: -1 is not a restart limit (0 to 1000)");
    EXPECT_EQ(error_of(platform("cpu_weight = 0")),
              "p.toml:13: guests[0].cpu_weight: 0 is not a CPU weight (1 to 10000)");
    EXPECT_EQ(error_of(platform("memory_limit = 100")),
              "p.toml:13: guests[0].memory_limit: 100 bytes is not a multiple of 4096");
    EXPECT_EQ(error_of(platform("", "run = [\"\"]")), "p.toml:21: guests[1].run: the program name is empty");
}

TEST(GuestPartitionConfig, DevicesAndExclusiveCpusArePartitioned) {
    auto config = parse_platform_config(platform("devices = [\"/dev/ttyS1\"]\nexclusive_cpus = false"), "p.toml");
    ASSERT_TRUE(config) << config.error().message;
    EXPECT_EQ(config->guests[0].devices, (std::vector<std::string>{"/dev/ttyS1"}));
    EXPECT_EQ(error_of(platform("devices = [\"/dev/ttyS1\"]", "devices = [\"/dev/ttyS1\"]")),
              "p.toml:21: guests[1].devices: /dev/ttyS1 is already owned by guest 'lin_ux' (line 7); a device "
              "belongs to one guest");
    // Both guests are on CPU 0: allowed unless one of them wants its CPUs for itself.
    EXPECT_EQ(error_of(platform("exclusive_cpus = true")),
              "p.toml:19: guests[1].cpus: CPU 0 is also guest 'lin_ux''s (line 7), and 'lin_ux''s CPUs are exclusive");
    EXPECT_EQ(error_of(platform("", "exclusive_cpus = true")),
              "p.toml:19: guests[1].cpus: CPU 0 is also guest 'lin_ux''s (line 7), and this guest's CPUs are exclusive");
    EXPECT_EQ(error_of(platform("devices = [\"/etc/passwd\"]")),
              "p.toml:13: guests[0].devices: must hold device paths under /dev/, e.g. \"/dev/ttyS1\"");
    EXPECT_EQ(error_of(platform("devices = \"/dev/ttyS1\"")),
              "p.toml:13: guests[0].devices: must be an array of device paths, e.g. [\"/dev/ttyS1\"]");
}

TEST(GuestPartitionConfig, PoliciesPrintAsTheConfigSpellsThem) {
    EXPECT_EQ(to_string(RestartPolicy::OnFailure), "on-failure");
    EXPECT_EQ(to_string(RestartPolicy::Always), "always");
    EXPECT_EQ(to_string(RestartPolicy::Never), "never");
}

}  // namespace
}  // namespace nk
