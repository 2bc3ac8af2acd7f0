#include <gtest/gtest.h>

#include "nk/nanokernel/platform_config.hpp"

namespace nk {
namespace {

// A valid platform; tests replace one line of it to break it.
const std::string kValid =
    "[platform]\n"                  // 1
    "name = \"p\"\n"                // 2
    "[areas]\n"                     // 3
    "link_size = \"64 KiB\"\n"      // 4
    "common_size = 65536\n"         // 5
    "pnv_size = \"64K\"\n"          // 6
    "[[guests]]\n"                  // 7
    "id = 1\n"                      // 8
    "name = \"linux\"\n"            // 9
    "kind = \"linux\"\n"            // 10
    "memory = \"1 MiB\"\n"          // 11
    "cpus = [0]\n"                  // 12
    "[[guests]]\n"                  // 13
    "id = 2\n"                      // 14
    "name = \"rt\"\n"               // 15
    "kind = \"rt\"\n"               // 16
    "memory = \"1M\"\n"             // 17
    "cpus = [0]\n"                  // 18
    "priority = 70\n"               // 19
    "[[links]]\n"                   // 20
    "guests = [\"linux\", \"rt\"]\n"  // 21
    "[[access]]\n"                  // 22
    "objects = \"*\"\n"             // 23
    "guests = [\"*\"]\n"            // 24
    "rights = \"rw\"\n";            // 25

std::string with_line(int line, const std::string& replacement) {
    std::string text = kValid;
    std::size_t start = 0;
    for (int i = 1; i < line; ++i) start = text.find('\n', start) + 1;
    const std::size_t end = text.find('\n', start);
    text.replace(start, end - start, replacement);
    return text;
}

std::string error_of(const std::string& text) {
    auto config = parse_platform_config(text, "platform.toml");
    return config ? std::string("<no error>") : config.error().message;
}

TEST(PlatformConfig, ValidConfigIsReadWithDefaultsAndPlaces) {
    auto config = parse_platform_config(kValid, "platform.toml");
    ASSERT_TRUE(config) << config.error().message;
    EXPECT_EQ(config->name, "p");
    EXPECT_TRUE(config->lock_memory);
    EXPECT_FALSE(config->hugepages);
    EXPECT_EQ(config->link_size, 65536U);
    EXPECT_EQ(config->common_size, 65536U);
    ASSERT_EQ(config->guests.size(), 2U);
    EXPECT_EQ(config->guests[0].sched, SchedClass::General);
    EXPECT_EQ(config->guests[1].sched, SchedClass::Rt);  // rt guests default to the rt class
    EXPECT_EQ(config->guests[1].priority, 70);
    EXPECT_EQ(config->guests[1].memory_size, 1U << 20);
    EXPECT_EQ(config->guests[1].pnv_size, 65536U);
    EXPECT_EQ(config->guests[1].where.line, 13U);
    ASSERT_EQ(config->links.size(), 1U);
    EXPECT_EQ(config->links[0].size, 65536U);
    ASSERT_EQ(config->access.size(), 1U);
    EXPECT_EQ(config->access[0].rights, Rights::ReadWrite);
    EXPECT_EQ(config->access[0].where.line, 22U);
    EXPECT_EQ(config->find_guest("rt")->id, 2);
    EXPECT_EQ(config->find_guest(std::uint16_t{1})->name, "linux");
}

TEST(PlatformConfig, ShippedDefaultPlatformLoads) {
    auto config = load_platform_config(std::string(NK_SOURCE_DIR) + "/examples/platforms/two-guests.toml");
    ASSERT_TRUE(config) << config.error().message;
    EXPECT_EQ(config->name, "two-guests");
    ASSERT_EQ(config->guests.size(), 2U);
    EXPECT_EQ(config->guests[0].kind, GuestKind::Linux);
    EXPECT_EQ(config->guests[1].kind, GuestKind::Rt);
}

TEST(PlatformConfig, UnknownCpuIsRefusedWithFileLineAndField) {
    const auto message = error_of(with_line(18, "cpus = [4095]"));
    EXPECT_EQ(message.rfind("platform.toml:18: guests[1].cpus: CPU 4095 does not exist (this machine has CPUs 0", 0), 0U)
        << message;
}

TEST(PlatformConfig, UnreadableFileNamesThePath) {
    auto config = load_platform_config("/nonexistent/nk.toml");
    ASSERT_FALSE(config);
    EXPECT_EQ(config.error().code, make_error_code(ConfigError::Unreadable));
    EXPECT_NE(config.error().message.find("/nonexistent/nk.toml: cannot read"), std::string::npos);
}

TEST(PlatformConfig, SyntaxErrorGivesLineAndColumn) {
    auto config = parse_platform_config(with_line(9, "name = \"linux"), "platform.toml");
    ASSERT_FALSE(config);
    EXPECT_EQ(config.error().code, make_error_code(ConfigError::Syntax));
    EXPECT_EQ(config.error().message.rfind("platform.toml:9:", 0), 0U) << config.error().message;
}

TEST(PlatformConfig, UnknownFieldSuggestsTheKnownOne) {
    const auto message = error_of(with_line(12, "cpu = [0]"));
    EXPECT_EQ(message, "platform.toml:12: guests[0].cpu: unknown field (did you mean cpus?)");
}

TEST(PlatformConfig, MissingFieldNamesTheTable) {
    EXPECT_EQ(error_of(with_line(11, "")), "platform.toml:7: guests[0].memory: required field is missing");
    auto config = parse_platform_config(with_line(2, ""), "platform.toml");
    ASSERT_FALSE(config);
    EXPECT_EQ(config.error().code, make_error_code(ConfigError::MissingField));
}

TEST(PlatformConfig, BadSizesAreRefused) {
    EXPECT_EQ(error_of(with_line(4, "link_size = \"12 parsecs\"")).rfind("platform.toml:4: areas.link_size: is not a size", 0), 0U);
    EXPECT_EQ(error_of(with_line(5, "common_size = 1000")),
              "platform.toml:5: areas.common_size: 1000 bytes is not a multiple of 4096");
    EXPECT_EQ(error_of(with_line(5, "common_size = true")).rfind("platform.toml:5: areas.common_size: must be a size", 0), 0U);
    EXPECT_EQ(error_of(with_line(5, "common_size = 0")).rfind("platform.toml:5: areas.common_size: is not a size above 0", 0), 0U);
}

TEST(PlatformConfig, DuplicateGuestIdOrNameIsAConflict) {
    EXPECT_EQ(error_of(with_line(14, "id = 1")).rfind("platform.toml:14: guests[1].id: id 1 is already used by guest 'linux'", 0), 0U);
    auto config = parse_platform_config(with_line(15, "name = \"linux\""), "platform.toml");
    ASSERT_FALSE(config);
    EXPECT_EQ(config.error().code, make_error_code(ConfigError::Conflict));
    EXPECT_EQ(config.error().message.rfind("platform.toml:15: guests[1].name:", 0), 0U);
}

TEST(PlatformConfig, BadGuestFieldsAreRefused) {
    EXPECT_EQ(error_of(with_line(8, "id = 0")), "platform.toml:8: guests[0].id: must be 1 to 254");
    EXPECT_EQ(error_of(with_line(9, "name = \"has space\"")).rfind("platform.toml:9: guests[0].name:", 0), 0U);
    EXPECT_EQ(error_of(with_line(10, "kind = \"windows\"")),
              "platform.toml:10: guests[0].kind: 'windows' is not a guest kind (linux, rt)");
    EXPECT_EQ(error_of(with_line(12, "cpus = [0, 0]")), "platform.toml:12: guests[0].cpus: CPU 0 is listed twice");
    EXPECT_EQ(error_of(with_line(12, "cpus = []")).rfind("platform.toml:12: guests[0].cpus: must be a non-empty", 0), 0U);
}

TEST(PlatformConfig, RtGuestNeedsAPriorityAndGeneralGuestHasNone) {
    EXPECT_EQ(error_of(with_line(19, "")), "platform.toml:13: guests[1].priority: required field is missing");
    EXPECT_EQ(error_of(with_line(19, "priority = 100")), "platform.toml:19: guests[1].priority: must be 1 to 99 for sched = \"rt\"");
    EXPECT_EQ(error_of(with_line(12, "cpus = [0]\npriority = 5")),
              "platform.toml:13: guests[0].priority: only sched = \"rt\" guests have a priority");
}

TEST(PlatformConfig, LinksMustJoinTwoDistinctKnownGuestsOnce) {
    EXPECT_EQ(error_of(with_line(21, "guests = [\"linux\", \"nope\"]")),
              "platform.toml:21: links[0].guests: no guest named 'nope'");
    EXPECT_EQ(error_of(with_line(21, "guests = [\"rt\", \"rt\"]")),
              "platform.toml:21: links[0].guests: a guest cannot link to itself");
    EXPECT_EQ(error_of(with_line(21, "guests = [\"rt\"]")),
              "platform.toml:21: links[0].guests: a link joins exactly two guests");
    EXPECT_EQ(error_of(with_line(21, "guests = [\"linux\", \"rt\"]\n[[links]]\nguests = [\"rt\", \"linux\"]")),
              "platform.toml:23: links[1].guests: guests 'rt' and 'linux' are already linked");
}

TEST(PlatformConfig, AccessRulesNameKnownGuestsAndRights) {
    EXPECT_EQ(error_of(with_line(24, "guests = [\"ghost\"]")), "platform.toml:24: access[0].guests: no guest named 'ghost'");
    EXPECT_EQ(error_of(with_line(25, "rights = \"rwx\"")),
              "platform.toml:25: access[0].rights: 'rwx' is not one of none, r, rw");
}

TEST(PlatformConfig, SizesAcceptBinaryUnits) {
    EXPECT_EQ(parse_size("4096"), 4096U);
    EXPECT_EQ(parse_size("64 KiB"), 65536U);
    EXPECT_EQ(parse_size("64KiB"), 65536U);
    EXPECT_EQ(parse_size("512k"), 524288U);
    EXPECT_EQ(parse_size("4M"), 4U << 20);
    EXPECT_EQ(parse_size(" 1 GiB "), 1ULL << 30);
    EXPECT_FALSE(parse_size("MiB"));
    EXPECT_FALSE(parse_size("4 XB"));
    EXPECT_FALSE(parse_size("99999999999999999999 GiB"));
}

}  // namespace
}  // namespace nk
