// Unit tests of the platform config loader (nanokernel/include/nk/nanokernel/platform_config.hpp).
//
// Most tests take one valid config and change one line of it, then check the whole message:
// the file, the line of the offending value, the dotted field and what is wrong. Valid configs
// use CPU 0 only and the missing CPU is 4095, so the tests pass on any machine.
#include <gtest/gtest.h>

#include <string>

#include "nk/nanokernel/platform_config.hpp"
#include "nk/nanokernel/rt_watchdog_settings.hpp"

namespace nk {
namespace {

// A valid platform; the comments give each line's number, which the expected messages use.
const std::string kValid =
    "[platform]\n"                    // 1
    "name = \"p\"\n"                  // 2
    "[areas]\n"                       // 3
    "link_size = \"64 KiB\"\n"        // 4
    "common_size = 65536\n"           // 5
    "pnv_size = \"64K\"\n"            // 6
    "[[guests]]\n"                    // 7
    "id = 1\n"                        // 8
    "name = \"linux\"\n"              // 9
    "kind = \"linux\"\n"              // 10
    "memory = \"1 MiB\"\n"            // 11
    "cpus = [0]\n"                    // 12
    "[[guests]]\n"                    // 13
    "id = 2\n"                        // 14
    "name = \"rt\"\n"                 // 15
    "kind = \"rt\"\n"                 // 16
    "memory = \"1M\"\n"               // 17
    "cpus = [0]\n"                    // 18
    "priority = 70\n"                 // 19
    "[[links]]\n"                     // 20
    "guests = [\"linux\", \"rt\"]\n"  // 21
    "[[access]]\n"                    // 22
    "objects = \"*\"\n"               // 23
    "guests = [\"*\"]\n"              // 24
    "rights = \"rw\"\n";              // 25

// `text` with line `line` (1-based) replaced; the replacement may hold several lines.
std::string replace_line(std::string text, int line, const std::string& replacement) {
    std::size_t start = 0;
    for (int i = 1; i < line; ++i) start = text.find('\n', start) + 1;
    const std::size_t end = text.find('\n', start);
    text.replace(start, end - start, replacement);
    return text;
}

std::string with_line(int line, const std::string& replacement) { return replace_line(kValid, line, replacement); }

// The error message for `text`, or "<no error>".
std::string error_of(const std::string& text) {
    auto config = parse_platform_config(text, "platform.toml");
    return config ? std::string("<no error>") : config.error().message;
}

std::error_code code_of(const std::string& text) {
    auto config = parse_platform_config(text, "platform.toml");
    return config ? std::error_code() : config.error().code;
}

bool starts_with(const std::string& text, const std::string& prefix) { return text.rfind(prefix, 0) == 0; }

// ----- valid configs -----

TEST(PlatformConfig, ValidConfigIsReadWithDefaultsAndPlaces) {
    auto config = parse_platform_config(kValid, "platform.toml");
    ASSERT_TRUE(config) << config.error().message;
    EXPECT_EQ(config->name, "p");
    EXPECT_EQ(config->source_file, "platform.toml");
    EXPECT_EQ(config->where.file, "platform.toml");
    EXPECT_EQ(config->where.line, 1U);
    EXPECT_EQ(config->region_size, 0U);  // absent: what the areas need
    EXPECT_TRUE(config->lock_memory);
    EXPECT_FALSE(config->hugepages);
    EXPECT_EQ(config->link_size, 65536U);
    EXPECT_EQ(config->common_size, 65536U);
    EXPECT_EQ(config->pnv_size, 65536U);

    ASSERT_EQ(config->guests.size(), 2U);
    const GuestConfig& linux_guest = config->guests[0];
    EXPECT_EQ(linux_guest.id, 1);
    EXPECT_EQ(linux_guest.kind, GuestKind::Linux);
    EXPECT_EQ(linux_guest.sched, SchedClass::General);  // linux guests default to the general class
    EXPECT_EQ(linux_guest.priority, 0);
    EXPECT_EQ(linux_guest.memory_size, 1U << 20);
    EXPECT_EQ(linux_guest.cpus, std::vector<std::uint32_t>{0});
    EXPECT_EQ(linux_guest.where.line, 7U);
    const GuestConfig& rt_guest = config->guests[1];
    EXPECT_EQ(rt_guest.kind, GuestKind::Rt);
    EXPECT_EQ(rt_guest.sched, SchedClass::Rt);  // rt guests default to the rt class
    EXPECT_EQ(rt_guest.priority, 70);
    EXPECT_EQ(rt_guest.pnv_size, 65536U);  // [areas].pnv_size
    EXPECT_EQ(rt_guest.where.file, "platform.toml");
    EXPECT_EQ(rt_guest.where.line, 13U);

    ASSERT_EQ(config->links.size(), 1U);
    EXPECT_EQ(config->links[0].first, "linux");
    EXPECT_EQ(config->links[0].second, "rt");
    EXPECT_EQ(config->links[0].size, 65536U);  // [areas].link_size
    EXPECT_EQ(config->links[0].where.line, 20U);

    ASSERT_EQ(config->access.size(), 1U);
    EXPECT_EQ(config->access[0].objects, "*");
    EXPECT_EQ(config->access[0].guests, std::vector<std::string>{"*"});
    EXPECT_EQ(config->access[0].rights, Rights::ReadWrite);
    EXPECT_EQ(config->access[0].where.line, 22U);
}

TEST(PlatformConfig, ShippedDefaultPlatformLoads) {
    const std::string path = std::string(NK_SOURCE_DIR) + "/examples/platforms/two-guests.toml";
    auto config = load_platform_config(path);
    ASSERT_TRUE(config) << config.error().message;
    EXPECT_EQ(config->name, "two-guests");
    EXPECT_EQ(config->source_file, path);
    EXPECT_TRUE(config->lock_memory);
    EXPECT_FALSE(config->hugepages);
    ASSERT_EQ(config->guests.size(), 2U);
    EXPECT_EQ(config->guests[0].name, "linux");
    EXPECT_EQ(config->guests[0].kind, GuestKind::Linux);
    EXPECT_EQ(config->guests[0].sched, SchedClass::General);
    EXPECT_EQ(config->guests[1].name, "rt");
    EXPECT_EQ(config->guests[1].kind, GuestKind::Rt);
    EXPECT_EQ(config->guests[1].sched, SchedClass::Rt);
    EXPECT_GE(config->guests[1].priority, 1);
    EXPECT_EQ(config->guests[1].where.file, path);
    ASSERT_EQ(config->links.size(), 1U);
    EXPECT_EQ(config->links[0].size, config->link_size);
    ASSERT_FALSE(config->access.empty());
    EXPECT_EQ(config->access.back().guests, std::vector<std::string>{"*"});
    for (const GuestConfig& guest : config->guests) EXPECT_EQ(guest.pnv_size, config->pnv_size);
}

TEST(PlatformConfig, OptionalFieldsOverrideTheDefaults) {
    std::string text = with_line(2, "name = \"p\"\nregion_size = \"64 MiB\"\nhugepages = true\nlock_memory = false");
    auto config = parse_platform_config(text, "platform.toml");
    ASSERT_TRUE(config) << config.error().message;
    EXPECT_EQ(config->region_size, 64U << 20);
    EXPECT_TRUE(config->hugepages);
    EXPECT_FALSE(config->lock_memory);

    // Line 21 first, so that line 12 still has its number.
    text = replace_line(kValid, 21, "guests = [\"linux\", \"rt\"]\nsize = \"128 KiB\"");
    text = replace_line(text, 12, "cpus = [0]\npnv_size = \"2 MiB\"\nsched = \"rt\"\npriority = 10");
    config = parse_platform_config(text, "platform.toml");
    ASSERT_TRUE(config) << config.error().message;
    EXPECT_EQ(config->guests[0].pnv_size, 2U << 20);
    EXPECT_EQ(config->guests[0].sched, SchedClass::Rt);  // a linux guest may be scheduled rt
    EXPECT_EQ(config->guests[0].priority, 10);
    EXPECT_EQ(config->guests[1].pnv_size, 65536U);
    EXPECT_EQ(config->links[0].size, 128U << 10);
}

TEST(PlatformConfig, LinksAndAccessRulesAreOptional) {
    auto config = parse_platform_config(kValid.substr(0, kValid.find("[[links]]")), "platform.toml");
    ASSERT_TRUE(config) << config.error().message;
    EXPECT_TRUE(config->links.empty());
    EXPECT_TRUE(config->access.empty());  // no rules: every access is refused later
}

TEST(PlatformConfig, GeneralGuestMayWritePriorityZero) {
    auto config = parse_platform_config(with_line(12, "cpus = [0]\npriority = 0"), "platform.toml");
    ASSERT_TRUE(config) << config.error().message;
    EXPECT_EQ(config->guests[0].priority, 0);
}

TEST(PlatformConfig, GuestsAreFoundByNameAndById) {
    auto config = parse_platform_config(kValid, "platform.toml");
    ASSERT_TRUE(config) << config.error().message;
    ASSERT_NE(config->find_guest("rt"), nullptr);
    EXPECT_EQ(config->find_guest("rt")->id, 2);
    ASSERT_NE(config->find_guest(std::uint16_t{1}), nullptr);
    EXPECT_EQ(config->find_guest(std::uint16_t{1})->name, "linux");
    EXPECT_EQ(config->find_guest("nobody"), nullptr);
    EXPECT_EQ(config->find_guest(std::uint16_t{3}), nullptr);
}

// ----- file and syntax errors -----

TEST(PlatformConfig, MissingFileIsUnreadableWithPathAndReason) {
    auto config = load_platform_config("/nonexistent/nk.toml");
    ASSERT_FALSE(config);
    EXPECT_EQ(config.error().code, make_error_code(ConfigError::Unreadable));
    EXPECT_EQ(config.error().message, "/nonexistent/nk.toml: cannot read: No such file or directory");
}

TEST(PlatformConfig, DirectoryIsUnreadable) {
    auto config = load_platform_config(NK_SOURCE_DIR);
    ASSERT_FALSE(config);
    EXPECT_EQ(config.error().code, make_error_code(ConfigError::Unreadable));
    EXPECT_EQ(config.error().message, std::string(NK_SOURCE_DIR) + ": cannot read: Is a directory");
}

TEST(PlatformConfig, SyntaxErrorGivesFileLineAndColumn) {
    auto config = parse_platform_config(with_line(9, "name = \"linux"), "platform.toml");
    ASSERT_FALSE(config);
    EXPECT_EQ(config.error().code, make_error_code(ConfigError::Syntax));
    EXPECT_TRUE(starts_with(config.error().message, "platform.toml:9:14: syntax error: ")) << config.error().message;
}

TEST(PlatformConfig, RedefinedKeyIsASyntaxError) {
    auto config = parse_platform_config(with_line(8, "id = 1\nid = 2"), "platform.toml");
    ASSERT_FALSE(config);
    EXPECT_EQ(config.error().code, make_error_code(ConfigError::Syntax));
    EXPECT_TRUE(starts_with(config.error().message, "platform.toml:9:")) << config.error().message;
}

TEST(PlatformConfig, EmptyTextMissesThePlatformTable) {
    auto config = parse_platform_config("", "empty.toml");
    ASSERT_FALSE(config);
    EXPECT_EQ(config.error().code, make_error_code(ConfigError::MissingField));
    EXPECT_EQ(config.error().message, "empty.toml:1: platform: required table [platform] is missing");
}

// ----- unknown and missing fields -----

TEST(PlatformConfig, UnknownFieldSuggestsTheNearestKnownOne) {
    EXPECT_EQ(error_of(with_line(12, "cpu = [0]")), "platform.toml:12: guests[0].cpu: unknown field (did you mean cpus?)");
    EXPECT_EQ(code_of(with_line(12, "cpu = [0]")), make_error_code(ConfigError::UnknownField));
    EXPECT_EQ(error_of(with_line(1, "[platfrom]")), "platform.toml:1: platfrom: unknown field (did you mean platform?)");
    EXPECT_EQ(error_of(with_line(5, "comon_size = 65536")),
              "platform.toml:5: areas.comon_size: unknown field (did you mean common_size?)");
    EXPECT_EQ(error_of(with_line(25, "right = \"rw\"")),
              "platform.toml:25: access[0].right: unknown field (did you mean rights?)");
}

TEST(PlatformConfig, UnknownFieldFarFromAnyKnownHasNoSuggestion) {
    EXPECT_EQ(error_of(with_line(2, "name = \"p\"\ncolour = \"blue\"")), "platform.toml:3: platform.colour: unknown field");
}

TEST(PlatformConfig, FirstUnknownFieldInFileOrderIsReported) {
    EXPECT_EQ(error_of(with_line(8, "zzz = 1\nid = 1\naaa = 2")), "platform.toml:8: guests[0].zzz: unknown field");
}

TEST(PlatformConfig, MissingFieldPointsAtItsTableHeader) {
    EXPECT_EQ(error_of(with_line(11, "")), "platform.toml:7: guests[0].memory: required field is missing");
    EXPECT_EQ(code_of(with_line(11, "")), make_error_code(ConfigError::MissingField));
    EXPECT_EQ(error_of(with_line(2, "")), "platform.toml:1: platform.name: required field is missing");
    EXPECT_EQ(error_of(with_line(4, "")), "platform.toml:3: areas.link_size: required field is missing");
    EXPECT_EQ(error_of(with_line(18, "")), "platform.toml:13: guests[1].cpus: required field is missing");
    EXPECT_EQ(error_of(with_line(16, "")), "platform.toml:13: guests[1].kind: required field is missing");
    EXPECT_EQ(error_of(with_line(21, "")), "platform.toml:20: links[0].guests: required field is missing");
    EXPECT_EQ(error_of(with_line(25, "")), "platform.toml:22: access[0].rights: required field is missing");
}

TEST(PlatformConfig, MissingTablesAreRefused) {
    const std::string no_areas = kValid.substr(0, kValid.find("[areas]")) + kValid.substr(kValid.find("[[guests]]"));
    EXPECT_EQ(error_of(no_areas), "platform.toml:1: areas: required table [areas] is missing");
    const std::string no_guests = kValid.substr(0, kValid.find("[[guests]]"));
    EXPECT_EQ(error_of(no_guests), "platform.toml:1: guests: at least one [[guests]] table is required");
    EXPECT_EQ(code_of(no_guests), make_error_code(ConfigError::MissingField));
    EXPECT_EQ(error_of("guests = []\n" + no_guests), "platform.toml:1: guests: at least one [[guests]] table is required");
}

// ----- wrong types -----

TEST(PlatformConfig, WrongTypesNameTheExpectedType) {
    EXPECT_EQ(error_of(with_line(2, "name = 5")), "platform.toml:2: platform.name: must be a string");
    EXPECT_EQ(code_of(with_line(2, "name = 5")), make_error_code(ConfigError::BadValue));
    EXPECT_EQ(error_of(with_line(2, "name = \"p\"\nhugepages = \"yes\"")),
              "platform.toml:3: platform.hugepages: must be a boolean (true or false)");
    EXPECT_EQ(error_of(with_line(8, "id = \"1\"")), "platform.toml:8: guests[0].id: must be an integer");
    EXPECT_EQ(error_of(with_line(19, "priority = 7.5")), "platform.toml:19: guests[1].priority: must be an integer");
    EXPECT_EQ(error_of(with_line(11, "memory = true")),
              "platform.toml:11: guests[0].memory: must be a size: an integer (bytes) or a string like \"4 MiB\"");
    EXPECT_EQ(error_of(with_line(12, "cpus = 0")),
              "platform.toml:12: guests[0].cpus: must be a non-empty array of CPU numbers, e.g. [0, 1]");
    EXPECT_EQ(error_of(with_line(12, "cpus = [\"0\"]")),
              "platform.toml:12: guests[0].cpus: must hold CPU numbers (integers 0, 1, ...)");
    EXPECT_EQ(error_of(with_line(21, "guests = \"linux,rt\"")),
              "platform.toml:21: links[0].guests: must be an array of guest names");
    EXPECT_EQ(error_of(with_line(21, "guests = [\"linux\", 2]")),
              "platform.toml:21: links[0].guests: must hold guest names (strings)");
    EXPECT_EQ(error_of("platform = \"p\"\n" + kValid.substr(kValid.find("[areas]"))),
              "platform.toml:1: platform: must be a table ([platform])");
    EXPECT_EQ(error_of(with_line(22, "[access]")), "platform.toml:22: access: must be an array of tables ([[access]])");
}

// ----- sizes -----

TEST(PlatformConfig, SizesMustBePositivePageMultiples) {
    EXPECT_EQ(error_of(with_line(4, "link_size = \"12 parsecs\"")),
              "platform.toml:4: areas.link_size: is not a size (bytes, or a string like \"64 KiB\", \"4M\", \"1 GiB\")");
    EXPECT_EQ(error_of(with_line(5, "common_size = 1000")),
              "platform.toml:5: areas.common_size: 1000 bytes is not a multiple of 4096");
    EXPECT_EQ(error_of(with_line(5, "common_size = 0")), "platform.toml:5: areas.common_size: must be more than 0 bytes");
    EXPECT_EQ(error_of(with_line(5, "common_size = -4096")),
              "platform.toml:5: areas.common_size: is not a size (bytes, or a string like \"64 KiB\", \"4M\", \"1 GiB\")");
    EXPECT_EQ(error_of(with_line(6, "pnv_size = \"0 KiB\"")), "platform.toml:6: areas.pnv_size: must be more than 0 bytes");
    EXPECT_EQ(error_of(with_line(17, "memory = \"6000\"")),
              "platform.toml:17: guests[1].memory: 6000 bytes is not a multiple of 4096");
    EXPECT_EQ(error_of(with_line(2, "name = \"p\"\nregion_size = \"1 MB\"")),
              "platform.toml:3: platform.region_size: is not a size (bytes, or a string like \"64 KiB\", \"4M\", \"1 GiB\")");
    EXPECT_EQ(error_of(with_line(21, "guests = [\"linux\", \"rt\"]\nsize = 4097")),
              "platform.toml:22: links[0].size: 4097 bytes is not a multiple of 4096");
    EXPECT_EQ(error_of(with_line(18, "cpus = [0]\npnv_size = \"1.5 MiB\"")),
              "platform.toml:19: guests[1].pnv_size: is not a size (bytes, or a string like \"64 KiB\", \"4M\", \"1 GiB\")");
}

TEST(PlatformConfig, ParseSizeAcceptsBytesAndBinaryUnits) {
    EXPECT_EQ(parse_size("4096"), 4096U);
    EXPECT_EQ(parse_size("0"), 0U);
    EXPECT_EQ(parse_size("64 KiB"), 65536U);
    EXPECT_EQ(parse_size("64KiB"), 65536U);
    EXPECT_EQ(parse_size("512K"), 512U << 10);
    EXPECT_EQ(parse_size("512k"), 512U << 10);
    EXPECT_EQ(parse_size("4M"), 4U << 20);
    EXPECT_EQ(parse_size("4 MiB"), 4U << 20);
    EXPECT_EQ(parse_size("4 mib"), 4U << 20);
    EXPECT_EQ(parse_size("1G"), 1ULL << 30);
    EXPECT_EQ(parse_size(" 1 GiB "), 1ULL << 30);
    EXPECT_EQ(parse_size("16 GiB"), 16ULL << 30);
}

TEST(PlatformConfig, ParseSizeRefusesWhatIsNotASize) {
    EXPECT_FALSE(parse_size(""));
    EXPECT_FALSE(parse_size("MiB"));
    EXPECT_FALSE(parse_size("-4 KiB"));
    EXPECT_FALSE(parse_size("+4 KiB"));
    EXPECT_FALSE(parse_size("4 XB"));
    EXPECT_FALSE(parse_size("4 MB"));  // decimal or binary? refused rather than guessed
    EXPECT_FALSE(parse_size("1.5 MiB"));
    EXPECT_FALSE(parse_size("4 M iB"));
    EXPECT_FALSE(parse_size("4 KiB 4"));
    EXPECT_FALSE(parse_size("99999999999999999999"));
    EXPECT_FALSE(parse_size("17179869184 GiB"));  // 2^64 bytes
    EXPECT_EQ(parse_size("17179869183 GiB"), 17179869183ULL << 30);
}

// ----- guests -----

TEST(PlatformConfig, UnknownCpuIsRefusedWithFileLineAndField) {
    const std::string text = with_line(18, "cpus = [4095]");
    EXPECT_EQ(code_of(text), make_error_code(ConfigError::BadValue));
    const std::string expected = "platform.toml:18: guests[1].cpus: CPU 4095 does not exist (this machine has CPUs 0";
    const std::string message = error_of(text);
    EXPECT_TRUE(starts_with(message, expected)) << message;
    EXPECT_EQ(message.back(), ')') << message;
}

TEST(PlatformConfig, CpuErrorPointsAtTheLineOfThatCpu) {
    EXPECT_TRUE(starts_with(error_of(with_line(18, "cpus = [\n  0,\n  4095,\n]")),
                            "platform.toml:20: guests[1].cpus: CPU 4095 does not exist"));
}

TEST(PlatformConfig, BadCpuListsAreRefused) {
    EXPECT_EQ(error_of(with_line(12, "cpus = [0, 0]")), "platform.toml:12: guests[0].cpus: CPU 0 is listed twice");
    EXPECT_EQ(error_of(with_line(12, "cpus = []")),
              "platform.toml:12: guests[0].cpus: must be a non-empty array of CPU numbers, e.g. [0, 1]");
    EXPECT_EQ(error_of(with_line(12, "cpus = [-1]")),
              "platform.toml:12: guests[0].cpus: must hold CPU numbers (integers 0, 1, ...)");
}

TEST(PlatformConfig, DuplicateGuestIdIsAConflict) {
    const std::string text = with_line(14, "id = 1");
    EXPECT_EQ(code_of(text), make_error_code(ConfigError::Conflict));
    EXPECT_EQ(error_of(text), "platform.toml:14: guests[1].id: id 1 is already used by guest 'linux' (line 7)");
}

TEST(PlatformConfig, DuplicateGuestNameIsAConflict) {
    const std::string text = with_line(15, "name = \"linux\"");
    EXPECT_EQ(code_of(text), make_error_code(ConfigError::Conflict));
    EXPECT_EQ(error_of(text),
              "platform.toml:15: guests[1].name: name 'linux' is already used by the guest with id 1 (line 7)");
}

TEST(PlatformConfig, GuestIdNameAndKindAreChecked) {
    EXPECT_EQ(error_of(with_line(8, "id = 0")), "platform.toml:8: guests[0].id: 0 is not a guest id (1 to 254)");
    EXPECT_EQ(error_of(with_line(8, "id = 255")), "platform.toml:8: guests[0].id: 255 is not a guest id (1 to 254)");
    EXPECT_EQ(error_of(with_line(8, "id = 254")), "<no error>");
    EXPECT_EQ(error_of(with_line(9, "name = \"has space\"")),
              "platform.toml:9: guests[0].name: 'has space' must be 1 to 15 characters from A-Z, a-z, 0-9, '_' and '-'");
    EXPECT_EQ(error_of(with_line(9, "name = \"\"")),
              "platform.toml:9: guests[0].name: '' must be 1 to 15 characters from A-Z, a-z, 0-9, '_' and '-'");
    EXPECT_TRUE(starts_with(error_of(with_line(9, "name = \"sixteen-chars-xx\"")), "platform.toml:9: guests[0].name: "));
    const std::string unlinked = kValid.substr(0, kValid.find("[[links]]"));
    EXPECT_EQ(error_of(replace_line(unlinked, 9, "name = \"fifteen_chars-x\"")), "<no error>");
    EXPECT_EQ(error_of(with_line(10, "kind = \"windows\"")),
              "platform.toml:10: guests[0].kind: 'windows' is not a guest kind (linux or rt)");
    EXPECT_EQ(error_of(with_line(12, "cpus = [0]\nsched = \"fifo\"")),
              "platform.toml:13: guests[0].sched: 'fifo' is not a scheduling class (general or rt)");
}

TEST(PlatformConfig, PlatformNameIsChecked) {
    EXPECT_EQ(error_of(with_line(2, "name = \"a/b\"")),
              "platform.toml:2: platform.name: 'a/b' must be 1 to 31 characters from A-Z, a-z, 0-9, '_' and '-'");
    EXPECT_EQ(error_of(with_line(2, "name = \"" + std::string(31, 'x') + "\"")), "<no error>");
    EXPECT_TRUE(starts_with(error_of(with_line(2, "name = \"" + std::string(32, 'x') + "\"")),
                            "platform.toml:2: platform.name: "));
}

TEST(PlatformConfig, RtGuestWithoutPriorityIsRefused) {
    const std::string text = with_line(19, "");
    EXPECT_EQ(code_of(text), make_error_code(ConfigError::MissingField));
    EXPECT_EQ(error_of(text), "platform.toml:13: guests[1].priority: required field is missing");
    EXPECT_EQ(error_of(with_line(12, "cpus = [0]\nsched = \"rt\"")),
              "platform.toml:7: guests[0].priority: required field is missing");
}

TEST(PlatformConfig, RtPriorityMustBeAFifoPriority) {
    EXPECT_EQ(error_of(with_line(19, "priority = 100")),
              "platform.toml:19: guests[1].priority: 100 is not a SCHED_FIFO priority (1 to 99)");
    EXPECT_EQ(error_of(with_line(19, "priority = 0")),
              "platform.toml:19: guests[1].priority: 0 is not a SCHED_FIFO priority (1 to 99)");
    EXPECT_EQ(error_of(with_line(19, "priority = 99")), "<no error>");
}

TEST(PlatformConfig, GeneralGuestWithPriorityIsRefused) {
    EXPECT_EQ(error_of(with_line(12, "cpus = [0]\npriority = 5")),
              "platform.toml:13: guests[0].priority: only sched = \"rt\" guests have a priority "
              "(leave it out or set sched = \"rt\")");
    EXPECT_EQ(error_of(with_line(19, "sched = \"general\"\npriority = 70")),
              "platform.toml:20: guests[1].priority: only sched = \"rt\" guests have a priority "
              "(leave it out or set sched = \"rt\")");
}

// A config with `count` guests named g1.. with ids 1.., each [[guests]] header 6 lines apart.
std::string config_with_guests(int count) {
    std::string text = "[platform]\nname = \"p\"\n[areas]\nlink_size = 4096\ncommon_size = 4096\npnv_size = 4096\n";
    for (int i = 1; i <= count; ++i)
        text += "[[guests]]\nid = " + std::to_string(i) + "\nname = \"g" + std::to_string(i) +
                "\"\nkind = \"linux\"\nmemory = 4096\ncpus = [0]\n";
    return text;
}

TEST(PlatformConfig, AtMostSixteenGuests) {
    EXPECT_EQ(error_of(config_with_guests(16)), "<no error>");
    EXPECT_EQ(error_of(config_with_guests(17)), "platform.toml:103: guests: at most 16 are allowed, this is number 17");
}

// ----- links -----

TEST(PlatformConfig, LinkWithUnknownGuestIsRefused) {
    const std::string text = with_line(21, "guests = [\"linux\", \"nope\"]");
    EXPECT_EQ(code_of(text), make_error_code(ConfigError::BadValue));
    EXPECT_EQ(error_of(text), "platform.toml:21: links[0].guests: no guest is named 'nope' (guests: linux, rt)");
}

TEST(PlatformConfig, SelfLinkIsRefused) {
    EXPECT_EQ(error_of(with_line(21, "guests = [\"rt\", \"rt\"]")),
              "platform.toml:21: links[0].guests: guest 'rt' cannot be linked to itself");
}

TEST(PlatformConfig, LinkJoinsExactlyTwoGuests) {
    EXPECT_EQ(error_of(with_line(21, "guests = [\"rt\"]")),
              "platform.toml:21: links[0].guests: a link joins exactly two guests, 1 given");
    EXPECT_EQ(error_of(with_line(21, "guests = [\"rt\", \"linux\", \"rt\"]")),
              "platform.toml:21: links[0].guests: a link joins exactly two guests, 3 given");
    EXPECT_EQ(error_of(with_line(21, "guests = []")), "platform.toml:21: links[0].guests: must be an array of guest names");
}

TEST(PlatformConfig, DuplicateLinkPairInEitherOrderIsAConflict) {
    const std::string reversed = with_line(21, "guests = [\"linux\", \"rt\"]\n[[links]]\nguests = [\"rt\", \"linux\"]");
    EXPECT_EQ(code_of(reversed), make_error_code(ConfigError::Conflict));
    EXPECT_EQ(error_of(reversed), "platform.toml:23: links[1].guests: guests 'rt' and 'linux' are already linked");
    const std::string same = with_line(21, "guests = [\"linux\", \"rt\"]\n[[links]]\nguests = [\"linux\", \"rt\"]");
    EXPECT_EQ(error_of(same), "platform.toml:23: links[1].guests: guests 'linux' and 'rt' are already linked");
}

// ----- access rules -----

TEST(PlatformConfig, AccessRuleWithUnknownGuestIsRefused) {
    EXPECT_EQ(error_of(with_line(24, "guests = [\"ghost\"]")),
              "platform.toml:24: access[0].guests: no guest is named 'ghost' (guests: linux, rt)");
    EXPECT_EQ(error_of(with_line(24, "guests = []")),
              "platform.toml:24: access[0].guests: must be a non-empty array of guest names, or [\"*\"]");
    EXPECT_EQ(error_of(with_line(24, "guests = [\"rt\", \"linux\"]")), "<no error>");
}

TEST(PlatformConfig, AccessRuleWithBadRightsIsRefused) {
    EXPECT_EQ(error_of(with_line(25, "rights = \"rwx\"")), "platform.toml:25: access[0].rights: 'rwx' is not a right (none, r or rw)");
    EXPECT_EQ(code_of(with_line(25, "rights = \"rwx\"")), make_error_code(ConfigError::BadValue));
    auto none = parse_platform_config(with_line(25, "rights = \"none\""), "platform.toml");
    ASSERT_TRUE(none) << none.error().message;
    EXPECT_EQ(none->access[0].rights, Rights::None);
    auto read = parse_platform_config(with_line(25, "rights = \"r\""), "platform.toml");
    ASSERT_TRUE(read) << read.error().message;
    EXPECT_EQ(read->access[0].rights, Rights::Read);
}

TEST(PlatformConfig, AccessPatternIsOneTo47Characters) {
    EXPECT_EQ(error_of(with_line(23, "objects = \"\"")),
              "platform.toml:23: access[0].objects: the pattern must be 1 to 47 characters, not 0");
    EXPECT_EQ(error_of(with_line(23, "objects = \"" + std::string(48, 'o') + "\"")),
              "platform.toml:23: access[0].objects: the pattern must be 1 to 47 characters, not 48");
    EXPECT_EQ(error_of(with_line(23, "objects = \"" + std::string(47, 'o') + "\"")), "<no error>");
}

TEST(PlatformConfig, AccessRulesKeepFileOrder) {
    const std::string text = with_line(25, "rights = \"rw\"\n[[access]]\nobjects = \"secret.*\"\nguests = [\"rt\"]\nrights = \"none\"");
    auto config = parse_platform_config(text, "platform.toml");
    ASSERT_TRUE(config) << config.error().message;
    ASSERT_EQ(config->access.size(), 2U);
    EXPECT_EQ(config->access[0].objects, "*");
    EXPECT_EQ(config->access[1].objects, "secret.*");
    EXPECT_EQ(config->access[1].guests, std::vector<std::string>{"rt"});
    EXPECT_EQ(config->access[1].where.line, 26U);
}

// ----- enums, codes, helpers -----

TEST(PlatformConfig, ErrorCodesBelongToTheNkConfigCategory) {
    const std::error_code code = make_error_code(ConfigError::Conflict);
    EXPECT_STREQ(code.category().name(), "nk.config");
    EXPECT_EQ(code.value(), static_cast<int>(ConfigError::Conflict));
    EXPECT_FALSE(code.message().empty());
    const std::error_code implicit = ConfigError::BadValue;  // is_error_code_enum
    EXPECT_EQ(implicit, make_error_code(ConfigError::BadValue));
    EXPECT_NE(implicit, make_error_code(ConfigError::UnknownField));
}

TEST(PlatformConfig, EnumsPrintAsTheConfigSpellsThem) {
    EXPECT_EQ(to_string(GuestKind::Linux), "linux");
    EXPECT_EQ(to_string(GuestKind::Rt), "rt");
    EXPECT_EQ(to_string(SchedClass::General), "general");
    EXPECT_EQ(to_string(SchedClass::Rt), "rt");
    EXPECT_EQ(to_string(Rights::None), "none");
    EXPECT_EQ(to_string(Rights::Read), "r");
    EXPECT_EQ(to_string(Rights::ReadWrite), "rw");
}

TEST(PlatformConfig, CpuListTextUsesKernelRanges) {
    EXPECT_EQ(cpu_list_text({}), "");
    EXPECT_EQ(cpu_list_text({0}), "0");
    EXPECT_EQ(cpu_list_text({0, 1}), "0-1");
    EXPECT_EQ(cpu_list_text({0, 1, 2, 3, 6}), "0-3,6");
    EXPECT_EQ(cpu_list_text({6, 3, 1, 2, 0}), "0-3,6");
    EXPECT_EQ(cpu_list_text({1, 3, 5}), "1,3,5");
}

}  // namespace
}  // namespace nk

namespace nk {
namespace {

// kValid plus one [[interrupts]] table from line 26 on.
std::string with_interrupt(const std::string& body) { return kValid + "[[interrupts]]\n" + body; }  // 26: [[interrupts]]

TEST(PlatformConfigInterrupts, ALineIsReadWithItsOwnerAndRaisers) {
    auto config = parse_platform_config(
        with_interrupt("name = \"rt.command\"\nowner = \"rt\"\nline = 16\nraisers = [\"linux\"]\n"), "platform.toml");
    ASSERT_TRUE(config) << config.error().message;
    ASSERT_EQ(config->interrupts.size(), 1U);
    EXPECT_EQ(config->interrupts[0].name, "rt.command");
    EXPECT_EQ(config->interrupts[0].owner, "rt");
    EXPECT_EQ(config->interrupts[0].line, 16U);
    EXPECT_EQ(config->interrupts[0].raisers, std::vector<std::string>{"linux"});
    EXPECT_EQ(config->interrupts[0].where.line, 26U);
}

TEST(PlatformConfigInterrupts, BadLinesAreRefusedWithFileLineAndField) {
    EXPECT_EQ(error_of(with_interrupt("name = \"x\"\nowner = \"rt\"\nline = 3\nraisers = [\"linux\"]\n")),
              "platform.toml:29: interrupts[0].line: 3 is not a configurable line (16 to 63; 0 to 15 are the "
              "nanokernel's)");
    EXPECT_EQ(error_of(with_interrupt("name = \"x\"\nowner = \"rt\"\nline = 64\nraisers = [\"linux\"]\n")),
              "platform.toml:29: interrupts[0].line: 64 is not a configurable line (16 to 63; 0 to 15 are the "
              "nanokernel's)");
    EXPECT_EQ(error_of(with_interrupt("name = \"x\"\nowner = \"nobody\"\nline = 16\nraisers = [\"linux\"]\n")),
              "platform.toml:28: interrupts[0].owner: no guest is named 'nobody' (guests: linux, rt)");
    EXPECT_EQ(error_of(with_interrupt("name = \"x\"\nowner = \"rt\"\nline = 16\nraisers = [\"ghost\"]\n")),
              "platform.toml:30: interrupts[0].raisers: no guest is named 'ghost' (guests: linux, rt)");
    EXPECT_EQ(error_of(with_interrupt("name = \"bad name\"\nowner = \"rt\"\nline = 16\nraisers = [\"linux\"]\n")),
              "platform.toml:27: interrupts[0].name: 'bad name' is not a line name (1 to 31 of A-Z a-z 0-9 _ - .)");
    EXPECT_EQ(error_of(with_interrupt("name = \"x\"\nowner = \"rt\"\nline = 16\nraisers = [\"linux\"]\ncolour = 1\n")).substr(0, 31),
              "platform.toml:31: interrupts[0]");
    EXPECT_EQ(code_of(with_interrupt("name = \"x\"\nowner = \"rt\"\nline = 16\n")), make_error_code(ConfigError::MissingField));
}

TEST(PlatformConfigInterrupts, DuplicateNamesAndNumbersConflict) {
    const std::string first = "name = \"a\"\nowner = \"rt\"\nline = 16\nraisers = [\"linux\"]\n";  // 27-30
    EXPECT_EQ(error_of(with_interrupt(first + "[[interrupts]]\nname = \"a\"\nowner = \"rt\"\nline = 17\nraisers = [\"linux\"]\n")),
              "platform.toml:32: interrupts[1].name: another line is already named 'a'");
    EXPECT_EQ(error_of(with_interrupt(first + "[[interrupts]]\nname = \"b\"\nowner = \"rt\"\nline = 16\nraisers = [\"linux\"]\n")),
              "platform.toml:34: interrupts[1].line: guest 'rt' already has a line 16");
    // The same number on another guest is another line.
    EXPECT_EQ(error_of(with_interrupt(first + "[[interrupts]]\nname = \"b\"\nowner = \"linux\"\nline = 16\nraisers = [\"rt\"]\n")),
              "<no error>");
}

TEST(PlatformConfigInterrupts, ARaiserWithoutALinkToTheOwnerIsRefused) {
    // Without the [[links]] table (lines 20-21 blanked), linux cannot ring rt.
    const std::string no_link = replace_line(replace_line(kValid, 21, ""), 20, "");
    EXPECT_EQ(error_of(no_link + "[[interrupts]]\nname = \"x\"\nowner = \"rt\"\nline = 16\nraisers = [\"linux\"]\n"),
              "platform.toml:30: interrupts[0].raisers: guest 'linux' cannot raise a line of 'rt': the two have no link "
              "(add [[links]] guests = [\"linux\", \"rt\"])");
    // The owner itself, and "*", need no link.
    EXPECT_EQ(error_of(no_link + "[[interrupts]]\nname = \"x\"\nowner = \"rt\"\nline = 16\nraisers = [\"rt\", \"*\"]\n"),
              "<no error>");
}

}  // namespace
}  // namespace nk

namespace nk {
namespace {

TEST(PlatformConfigWatchdog, ALinuxGuestsWatchdogIsReadWithDefaults) {
    auto config = parse_platform_config(with_line(12, "cpus = [0]\nwatchdog = { watch = [\"rt\"], hook = \"echo x\" }"),
                                        "platform.toml");
    ASSERT_TRUE(config) << config.error().message;
    const auto& w = config->guests[0].watchdog;
    EXPECT_TRUE(w.enabled);
    EXPECT_EQ(w.period_ms, 50U);
    EXPECT_EQ(w.misses, 3U);
    EXPECT_EQ(w.watch, std::vector<std::string>{"rt"});
    EXPECT_EQ(w.priority, 0);
    EXPECT_EQ(w.hook, "echo x");
    EXPECT_FALSE(config->guests[1].watchdog.enabled);
}

TEST(PlatformConfigWatchdog, BadWatchdogsAreRefusedWithFileLineAndField) {
    EXPECT_EQ(error_of(with_line(12, "cpus = [0]\nwatchdog = { period_ms = 0 }")),
              "platform.toml:13: guests[0].watchdog.period_ms: 0 is not a heartbeat period (1 to 60000 ms)");
    EXPECT_EQ(error_of(with_line(12, "cpus = [0]\nwatchdog = { misses = 101 }")),
              "platform.toml:13: guests[0].watchdog.misses: 101 is not a number of misses (1 to 100)");
    EXPECT_EQ(error_of(with_line(12, "cpus = [0]\nwatchdog = { watch = [\"linux\"] }")),
              "platform.toml:13: guests[0].watchdog.watch: guest 'linux' cannot watch itself (its peers watch it)");
    EXPECT_EQ(error_of(with_line(12, "cpus = [0]\nwatchdog = { watch = [\"ghost\"] }")),
              "platform.toml:13: guests[0].watchdog.watch: no guest is named 'ghost' (guests: linux, rt)");
    EXPECT_EQ(error_of(with_line(19, "priority = 70\nwatchdog = { misses = 3 }")),
              "platform.toml:20: guests[1].watchdog.misses: an rt guest's watchdog is a task that watches its peers "
              "(period_ms, watch, priority); its program arms its own heartbeat, and it runs no hook or health page");
    EXPECT_EQ(code_of(with_line(12, "cpus = [0]\nwatchdog = { colour = 1 }")), make_error_code(ConfigError::UnknownField));
    EXPECT_EQ(code_of(with_line(12, "cpus = [0]\nwatchdog = 5")), make_error_code(ConfigError::BadValue));
}

// An rt guest's watchdog table: a task of its executive that watches peers.
TEST(PlatformConfigWatchdog, AnRtGuestsWatchdogWatchesPeersFromATask) {
    auto config = parse_platform_config(with_line(19, "priority = 70\nwatchdog = { period_ms = 25, watch = [\"linux\"], priority = 5 }"),
                                        "platform.toml");
    ASSERT_TRUE(config) << config.error().message;
    const WatchdogConfig& w = config->guests[1].watchdog;
    EXPECT_TRUE(w.enabled);
    EXPECT_EQ(w.period_ms, 25U);
    EXPECT_EQ(w.watch, std::vector<std::string>{"linux"});
    EXPECT_EQ(w.priority, 5);
}

// What nkd hands the rt guest in NK_WATCHDOG, and what the rt guest refuses to read.
TEST(RtWatchdogSettings, EncodeAndDecodeAgreeAndBadFieldsAreNamed) {
    RtWatchdogSettings settings;
    settings.period = std::chrono::milliseconds(25);
    settings.priority = 7;
    settings.watch = {"linux", "beta"};
    EXPECT_EQ(encode(settings), "period_ms=25;priority=7;watch=linux,beta");
    auto back = decode_rt_watchdog(encode(settings));
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(back->period, settings.period);
    EXPECT_EQ(back->priority, 7);
    EXPECT_EQ(back->watch, settings.watch);
    auto bad_period = decode_rt_watchdog("period_ms=0;watch=linux");
    ASSERT_FALSE(bad_period);
    EXPECT_EQ(bad_period.error().message, "NK_WATCHDOG: period_ms=0 is not a number in 1..60000");
    EXPECT_FALSE(decode_rt_watchdog("priority=100"));
    EXPECT_FALSE(decode_rt_watchdog("period_ms=20x"));
    EXPECT_FALSE(decode_rt_watchdog("watch=linux,,beta"));
    auto unknown = decode_rt_watchdog("colour=red");
    ASSERT_FALSE(unknown);
    EXPECT_EQ(unknown.error().message, "NK_WATCHDOG: unknown field 'colour'");
}

TEST(PlatformConfigWatchdog, AHealthPagePortNeedsTheGuestsNetbridgeAddress) {
    auto config = parse_platform_config(
        with_line(12, "cpus = [0]\nnet = { address = \"10.77.1.1/24\" }\nwatchdog = { http_port = 8080 }"), "platform.toml");
    ASSERT_TRUE(config) << config.error().message;
    EXPECT_EQ(config->guests[0].watchdog.http_port, 8080U);
    EXPECT_EQ(error_of(with_line(12, "cpus = [0]\nwatchdog = { http_port = 8080 }")),
              "platform.toml:13: guests[0].watchdog.http_port: guest 'linux' has no net table: the health page is "
              "served on its netbridge address (add net = { address = \"10.77.1.1/24\" })");
    EXPECT_EQ(error_of(with_line(12, "cpus = [0]\nnet = { address = \"10.77.1.1/24\" }\nwatchdog = { http_port = 70000 }")),
              "platform.toml:14: guests[0].watchdog.http_port: 70000 is not a TCP port (1 to 65535, or 0 for no health page)");
    EXPECT_EQ(code_of(with_line(12, "cpus = [0]\nnet = { address = \"10.77.1.1/24\" }\nwatchdog = { http_port = \"80\" }")),
              make_error_code(ConfigError::BadValue));
}

}  // namespace
}  // namespace nk
