// Loading and validating the platform config (platform_config.hpp).
//
// toml++ is built with exceptions here; they are caught in parse_platform_config() and become an
// nk::Error, so nothing above this file ever sees one (STYLE.md, "Errors").
//
// Every message has the form `FILE:LINE: FIELD: what is wrong`. LINE is the line of the offending
// value; for a missing field it is the line of the table header that should hold it (line 1 for
// a missing top-level table). The first error found is the one reported: one clear message beats
// a cascade of consequences of the first mistake.
#include "nk/nanokernel/platform_config.hpp"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <new>
#include <set>
#include <utility>

#include <toml++/toml.h>

#include "nk/nanokernel/layout.hpp"
#include "nk/nanokernel/syscall.hpp"
#include "nk/nanokernel/unique_fd.hpp"

namespace nk {
namespace {

constexpr std::size_t kMaxPlatformName = 31;
constexpr std::size_t kMaxGuestName = 15;
constexpr std::size_t kMaxObjectsPattern = 47;
constexpr std::int64_t kMaxGuestId = 254;
constexpr std::uint64_t kSizeMultiple = layout::kSmallPage;
// A platform config is a few KiB; this only stops `--config /dev/zero` from eating the memory.
constexpr std::size_t kMaxConfigBytes = 1U << 20;

// The names end up in fixed-size fields of the management tables (with their NUL).
static_assert(kMaxPlatformName < layout::kNameCapacity);
static_assert(kMaxGuestName < layout::kNameCapacity);
static_assert(kMaxObjectsPattern < layout::kRulePatternCapacity);

class ConfigErrorCategory final : public std::error_category {
public:
    const char* name() const noexcept override { return "nk.config"; }
    std::string message(int value) const override {
        switch (static_cast<ConfigError>(value)) {
            case ConfigError::Unreadable: return "config file cannot be read";
            case ConfigError::Syntax: return "config is not valid TOML";
            case ConfigError::MissingField: return "config field missing";
            case ConfigError::UnknownField: return "unknown config field";
            case ConfigError::BadValue: return "bad config value";
            case ConfigError::Conflict: return "config contradicts itself";
        }
        return "config error " + std::to_string(value);
    }
};

std::uint32_t line_of(const toml::node& node) {
    return std::max<std::uint32_t>(1, node.source().begin.line);
}

// Levenshtein distance, for "did you mean" on unknown keys; keys are short.
std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diagonal = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t above = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0U : 1U)});
            diagonal = above;
        }
    }
    return row[b.size()];
}

// The CPUs a guest may be given: every configured CPU (sysconf counts them, online or not) plus
// any CPU in our affinity mask, should the kernel number them sparsely.
std::vector<std::uint32_t> machine_cpus() {
    std::set<std::uint32_t> cpus;
    const long configured = ::sysconf(_SC_NPROCESSORS_CONF);
    for (long cpu = 0; cpu < configured && cpu < CPU_SETSIZE; ++cpu) cpus.insert(static_cast<std::uint32_t>(cpu));
    cpu_set_t mask;
    CPU_ZERO(&mask);
    if (::sched_getaffinity(0, sizeof mask, &mask) == 0) {
        for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu)
            if (CPU_ISSET(cpu, &mask)) cpus.insert(static_cast<std::uint32_t>(cpu));
    }
    if (cpus.empty()) cpus.insert(0);  // sysconf and affinity both failed: there is at least one CPU
    return {cpus.begin(), cpus.end()};
}

bool is_name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

bool valid_name(std::string_view name, std::size_t max) {
    return !name.empty() && name.size() <= max && std::all_of(name.begin(), name.end(), is_name_char);
}

bool valid_hostname(std::string_view name) {
    return !name.empty() && name.size() <= 63 && std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
    });
}

std::string quoted(std::string_view text) { return "'" + std::string(text) + "'"; }

// Reads one parsed document into a PlatformConfig. Each step returns false once an error is
// recorded; parse() then returns that error.
class Parser {
public:
    explicit Parser(std::string file) : file_(std::move(file)) {}

    Result<PlatformConfig> parse(const toml::table& root) {
        config_.source_file = file_;
        if (!parse_document(root)) return tl::unexpected<Error>(std::move(*error_));
        return std::move(config_);
    }

private:
    bool parse_document(const toml::table& root) {
        return check_keys(root, "", {"platform", "areas", "guests", "links", "access", "interrupts"}) &&
               parse_platform(root) && parse_areas(root) && parse_guests(root) && check_watchdogs() && parse_links(root) &&
               parse_access(root) && parse_interrupts(root);
    }

    bool parse_platform(const toml::table& root) {
        const toml::table* platform = require_table(root, "platform");
        if (platform == nullptr) return false;
        config_.where = where(*platform);
        const std::string prefix = "platform.";
        if (!check_keys(*platform, prefix, {"name", "region_size", "hugepages", "lock_memory"})) return false;
        if (!read_string(*platform, prefix, "name", config_.name, true)) return false;
        if (!valid_name(config_.name, kMaxPlatformName))
            return bad_name(*platform, prefix, "name", config_.name, kMaxPlatformName);
        return read_size(*platform, prefix, "region_size", config_.region_size, false) &&
               read_bool(*platform, prefix, "hugepages", config_.hugepages) &&
               read_bool(*platform, prefix, "lock_memory", config_.lock_memory);
    }

    bool parse_areas(const toml::table& root) {
        const toml::table* areas = require_table(root, "areas");
        if (areas == nullptr) return false;
        const std::string prefix = "areas.";
        return check_keys(*areas, prefix, {"link_size", "common_size", "pnv_size"}) &&
               read_size(*areas, prefix, "link_size", config_.link_size, true) &&
               read_size(*areas, prefix, "common_size", config_.common_size, true) &&
               read_size(*areas, prefix, "pnv_size", config_.pnv_size, true);
    }

    bool parse_guests(const toml::table& root) {
        const toml::array* guests = nullptr;
        if (!table_array(root, "guests", layout::kMaxGuests, guests)) return false;
        if (guests == nullptr || guests->empty()) {
            const std::uint32_t line = guests == nullptr ? 1 : line_of(*guests);
            return set_error(line, ConfigError::MissingField, "guests", "at least one [[guests]] table is required");
        }
        const std::vector<std::uint32_t> cpus_here = machine_cpus();
        for (std::size_t i = 0; i < guests->size(); ++i)
            if (!parse_guest(*(*guests)[i].as_table(), "guests[" + std::to_string(i) + "].", cpus_here)) return false;
        return true;
    }

    bool parse_guest(const toml::table& t, const std::string& prefix, const std::vector<std::uint32_t>& cpus_here) {
        if (!check_keys(t, prefix, {"id", "name", "kind", "memory", "cpus", "sched", "priority", "pnv_size", "hostname",
                                  "services", "run", "restart", "restart_limit", "memory_limit", "cpu_weight",
                                  "exclusive_cpus", "devices", "watchdog", "net"}))
            return false;
        GuestConfig g;
        g.where = where(t);

        std::int64_t id = 0;
        if (!read_int(t, prefix, "id", id, true)) return false;
        if (id < 1 || id > kMaxGuestId)
            return set_error(value_line(t, "id"), ConfigError::BadValue, prefix + "id",
                             std::to_string(id) + " is not a guest id (1 to " + std::to_string(kMaxGuestId) + ")");
        g.id = static_cast<std::uint16_t>(id);

        if (!read_string(t, prefix, "name", g.name, true)) return false;
        if (!valid_name(g.name, kMaxGuestName)) return bad_name(t, prefix, "name", g.name, kMaxGuestName);

        std::string kind;
        if (!read_string(t, prefix, "kind", kind, true)) return false;
        if (kind == "linux") {
            g.kind = GuestKind::Linux;
        } else if (kind == "rt") {
            g.kind = GuestKind::Rt;
        } else {
            return set_error(value_line(t, "kind"), ConfigError::BadValue, prefix + "kind",
                             quoted(kind) + " is not a guest kind (linux or rt)");
        }

        if (!read_size(t, prefix, "memory", g.memory_size, true)) return false;
        g.pnv_size = config_.pnv_size;
        if (!read_size(t, prefix, "pnv_size", g.pnv_size, false)) return false;
        if (!read_cpus(t, prefix, cpus_here, g.cpus)) return false;
        if (!read_sched(t, prefix, g)) return false;
        if (!read_partition(t, prefix, g)) return false;

        // Duplicates are reported on the later guest, pointing back at the earlier one.
        for (const GuestConfig& other : config_.guests) {
            if (other.id == g.id)
                return set_error(value_line(t, "id"), ConfigError::Conflict, prefix + "id",
                                 "id " + std::to_string(g.id) + " is already used by guest " + quoted(other.name) +
                                     " (line " + std::to_string(other.where.line) + ")");
            if (other.name == g.name)
                return set_error(value_line(t, "name"), ConfigError::Conflict, prefix + "name",
                                 "name " + quoted(g.name) + " is already used by the guest with id " +
                                     std::to_string(other.id) + " (line " + std::to_string(other.where.line) + ")");
        }
        config_.guests.push_back(std::move(g));
        return true;
    }

    bool read_cpus(const toml::table& t, const std::string& prefix, const std::vector<std::uint32_t>& cpus_here,
                   std::vector<std::uint32_t>& out) {
        const std::string field = prefix + "cpus";
        const toml::node* node = t.get("cpus");
        if (node == nullptr) return missing(t, field);
        const toml::array* cpus = node->as_array();
        if (cpus == nullptr || cpus->empty())
            return set_error(line_of(*node), ConfigError::BadValue, field,
                             "must be a non-empty array of CPU numbers, e.g. [0, 1]");
        for (const toml::node& item : *cpus) {
            const toml::value<std::int64_t>* number = item.as_integer();
            if (number == nullptr || number->get() < 0)
                return set_error(line_of(item), ConfigError::BadValue, field,
                                 "must hold CPU numbers (integers 0, 1, ...)");
            const auto cpu = static_cast<std::uint64_t>(number->get());
            if (!std::binary_search(cpus_here.begin(), cpus_here.end(), cpu))
                return set_error(line_of(item), ConfigError::BadValue, field,
                                 "CPU " + std::to_string(cpu) + " does not exist (this machine has CPUs " +
                                     cpu_list_text(cpus_here) + ")");
            if (std::find(out.begin(), out.end(), cpu) != out.end())
                return set_error(line_of(item), ConfigError::BadValue, field,
                                 "CPU " + std::to_string(cpu) + " is listed twice");
            out.push_back(static_cast<std::uint32_t>(cpu));
        }
        std::sort(out.begin(), out.end());
        return true;
    }

    // sched defaults from the kind; priority belongs to rt scheduling only.
    bool read_sched(const toml::table& t, const std::string& prefix, GuestConfig& g) {
        std::string sched(to_string(g.kind == GuestKind::Rt ? SchedClass::Rt : SchedClass::General));
        if (!read_string(t, prefix, "sched", sched, false)) return false;
        if (sched == "general") {
            g.sched = SchedClass::General;
        } else if (sched == "rt") {
            g.sched = SchedClass::Rt;
        } else {
            return set_error(value_line(t, "sched"), ConfigError::BadValue, prefix + "sched",
                             quoted(sched) + " is not a scheduling class (general or rt)");
        }
        std::int64_t priority = 0;
        const bool rt = g.sched == SchedClass::Rt;
        if (!read_int(t, prefix, "priority", priority, rt)) return false;
        if (rt && (priority < 1 || priority > 99))
            return set_error(value_line(t, "priority"), ConfigError::BadValue, prefix + "priority",
                             std::to_string(priority) + " is not a SCHED_FIFO priority (1 to 99)");
        if (!rt && priority != 0)
            return set_error(value_line(t, "priority"), ConfigError::BadValue, prefix + "priority",
                             "only sched = \"rt\" guests have a priority (leave it out or set sched = \"rt\")");
        g.priority = static_cast<int>(priority);
        return true;
    }

    // How the guest runs as a partition: hostname, what to run, restart policy, cgroup limits.
    bool read_partition(const toml::table& t, const std::string& prefix, GuestConfig& g) {
        g.hostname = g.name;  // guest names may hold '_', which host names may not
        std::replace(g.hostname.begin(), g.hostname.end(), '_', '-');
        if (!read_string(t, prefix, "hostname", g.hostname, false)) return false;
        if (!valid_hostname(g.hostname))
            return set_error(value_line(t, "hostname"), ConfigError::BadValue, prefix + "hostname",
                             quoted(g.hostname) + " is not a host name (1 to 63 of A-Z, a-z, 0-9, '-' and '.')");
        const bool is_linux = g.kind == GuestKind::Linux;
        if (const toml::node* node = t.get("services")) {
            if (!is_linux)
                return set_error(line_of(*node), ConfigError::BadValue, prefix + "services",
                                 "only linux guests have services; an rt guest names its one process in `run`");
            const toml::array* list = node->as_array();
            if (list == nullptr)
                return set_error(line_of(*node), ConfigError::BadValue, prefix + "services",
                                 "must be an array of commands, e.g. [[\"/usr/sbin/vsftpd\"], [\"sleep\", \"1\"]]");
            for (std::size_t i = 0; i < list->size(); ++i) {
                std::vector<std::string> argv;
                if (!read_argv((*list)[i], prefix + "services[" + std::to_string(i) + "]", argv)) return false;
                g.services.push_back(std::move(argv));
            }
        }
        if (const toml::node* node = t.get("run")) {
            if (is_linux)
                return set_error(line_of(*node), ConfigError::BadValue, prefix + "run",
                                 "a linux guest runs nk-init and its `services`; `run` is for rt guests");
            if (!read_argv(*node, prefix + "run", g.run)) return false;
        }
        std::string restart(to_string(g.restart));
        if (!read_string(t, prefix, "restart", restart, false)) return false;
        if (restart == "on-failure") {
            g.restart = RestartPolicy::OnFailure;
        } else if (restart == "always") {
            g.restart = RestartPolicy::Always;
        } else if (restart == "never") {
            g.restart = RestartPolicy::Never;
        } else {
            return set_error(value_line(t, "restart"), ConfigError::BadValue, prefix + "restart",
                             quoted(restart) + " is not a restart policy (on-failure, always or never)");
        }
        std::int64_t limit = g.restart_limit;
        if (!read_int(t, prefix, "restart_limit", limit, false)) return false;
        if (limit < 0 || limit > 1000)
            return set_error(value_line(t, "restart_limit"), ConfigError::BadValue, prefix + "restart_limit",
                             std::to_string(limit) + " is not a restart limit (0 to 1000)");
        g.restart_limit = static_cast<std::uint32_t>(limit);
        if (!read_size(t, prefix, "memory_limit", g.memory_limit, false)) return false;
        std::int64_t weight = g.cpu_weight;
        if (!read_int(t, prefix, "cpu_weight", weight, false)) return false;
        if (weight < 1 || weight > 10000)
            return set_error(value_line(t, "cpu_weight"), ConfigError::BadValue, prefix + "cpu_weight",
                             std::to_string(weight) + " is not a CPU weight (1 to 10000)");
        g.cpu_weight = static_cast<std::uint32_t>(weight);
        if (!read_bool(t, prefix, "exclusive_cpus", g.exclusive_cpus)) return false;
        if (!read_watchdog(t, prefix, g)) return false;
        if (!read_net(t, prefix, g)) return false;
        if (const toml::node* node = t.get("devices")) {
            const toml::array* list = node->as_array();
            if (list == nullptr)
                return set_error(line_of(*node), ConfigError::BadValue, prefix + "devices",
                                 "must be an array of device paths, e.g. [\"/dev/ttyS1\"]");
            for (const toml::node& item : *list) {
                const toml::value<std::string>* path = item.as_string();
                if (path == nullptr || path->get().rfind("/dev/", 0) != 0 || path->get().size() <= 5 ||
                    path->get().find("..") != std::string::npos)
                    return set_error(line_of(item), ConfigError::BadValue, prefix + "devices",
                                     "must hold device paths under /dev/, e.g. \"/dev/ttyS1\"");
                g.devices.push_back(path->get());
            }
        }
        return check_partitioned(t, prefix, g);
    }

    // I/O and processor partitioning: a device belongs to one guest, and an exclusive CPU set is
    // shared with nobody (DESIGN.md, section 1). Reported on the later guest, naming the earlier.
    bool check_partitioned(const toml::table& t, const std::string& prefix, const GuestConfig& g) {
        for (const GuestConfig& other : config_.guests) {
            for (const auto& device : g.devices)
                if (std::find(other.devices.begin(), other.devices.end(), device) != other.devices.end())
                    return set_error(value_line(t, "devices"), ConfigError::Conflict, prefix + "devices",
                                     device + " is already owned by guest " + quoted(other.name) + " (line " +
                                         std::to_string(other.where.line) + "); a device belongs to one guest");
            if (!check_addresses_apart(t, prefix, g, other)) return false;
            if (!g.exclusive_cpus && !other.exclusive_cpus) continue;
            for (std::uint32_t cpu : g.cpus)
                if (std::find(other.cpus.begin(), other.cpus.end(), cpu) != other.cpus.end())
                    return set_error(value_line(t, "cpus"), ConfigError::Conflict, prefix + "cpus",
                                     "CPU " + std::to_string(cpu) + " is also guest " + quoted(other.name) + "'s (line " +
                                         std::to_string(other.where.line) + "), and " +
                                         (g.exclusive_cpus ? std::string("this guest's") : quoted(other.name) + "'s") +
                                         " CPUs are exclusive");
        }
        return true;
    }

    // An address belongs to one guest: no two guests' subnets (nor outside networks) overlap.
    bool check_addresses_apart(const toml::table& t, const std::string& prefix, const GuestConfig& g,
                               const GuestConfig& other) {
        if (!g.net.enabled || !other.net.enabled) return true;
        auto prefixes = [](const NetConfig& n) {
            std::vector<IpPrefix> all{n.address};
            if (n.address6) all.push_back(*n.address6);
            if (n.outside_address) all.push_back(*n.outside_address);
            return all;
        };
        for (const IpPrefix& mine : prefixes(g.net))
            for (const IpPrefix& theirs : prefixes(other.net))
                if (mine.overlaps(theirs))
                    return set_error(g.net.where.line, ConfigError::Conflict, prefix + "net",
                                     mine.text() + " overlaps guest " + quoted(other.name) + "'s " + theirs.text() +
                                         " (line " + std::to_string(other.net.where.line) +
                                         "); an address belongs to one guest");
        if (g.net.forward && other.net.forward)
            return set_error(g.net.where.line, ConfigError::Conflict, prefix + "net.forward",
                             "guest " + quoted(other.name) + " already forwards to the outside (line " +
                                 std::to_string(other.net.where.line) + "); one guest is the gateway");
        if (!g.net.outside.empty() && g.net.outside == other.net.outside)
            return set_error(value_line(*t.get("net")->as_table(), "outside"), ConfigError::Conflict, prefix + "net.outside",
                             "interface " + quoted(g.net.outside) + " is already guest " + quoted(other.name) +
                                 "'s (line " + std::to_string(other.net.where.line) + "); a device belongs to one guest");
        return true;
    }

    bool read_prefix(const toml::table& t, const std::string& sub, const char* key, std::optional<IpPrefix>& out,
                     bool required) {
        std::string text;
        if (!read_string(t, sub, key, text, required)) return false;
        if (text.empty()) return true;
        out = IpPrefix::parse(text);
        if (!out || out->host_part_zero() || out->length == (out->is_v4() ? 32 : 128))
            return set_error(value_line(t, key), ConfigError::BadValue, sub + key,
                             quoted(text) + " is not an address with its subnet, e.g. \"10.77.1.1/24\" or "
                             "\"fd77:1::1/64\" (the host part not zero, the subnet wider than one address)");
        return true;
    }

    bool read_net(const toml::table& t, const std::string& prefix, GuestConfig& g) {
        const toml::node* node = t.get("net");
        if (node == nullptr) return true;
        const std::string field = prefix + "net";
        const toml::table* n = node->as_table();
        if (n == nullptr)
            return set_error(line_of(*node), ConfigError::BadValue, field,
                             "must be a table, e.g. net = { address = \"10.77.1.1/24\" }");
        const std::string sub = field + ".";
        if (!check_keys(*n, sub, {"address", "address6", "mtu", "tun", "forward", "outside", "outside_address"}))
            return false;
        NetConfig& c = g.net;
        c.enabled = true;
        c.where = where(*n);
        std::optional<IpPrefix> address;
        if (!read_prefix(*n, sub, "address", address, true)) return false;
        if (!address->is_v4())
            return set_error(value_line(*n, "address"), ConfigError::BadValue, sub + "address",
                             "must be an IPv4 address; an IPv6 one goes in address6");
        c.address = *address;
        if (!read_prefix(*n, sub, "address6", c.address6, false)) return false;
        if (c.address6 && c.address6->is_v4())
            return set_error(value_line(*n, "address6"), ConfigError::BadValue, sub + "address6",
                             "must be an IPv6 address");
        std::int64_t mtu = c.mtu;
        if (!read_int(*n, sub, "mtu", mtu, false)) return false;
        const std::int64_t least = c.address6 ? 1280 : 576;
        if (mtu < least || mtu > 65535)
            return set_error(value_line(*n, "mtu"), ConfigError::BadValue, sub + "mtu",
                             std::to_string(mtu) + " is not an MTU (" + std::to_string(least) + " to 65535" +
                                 (c.address6 ? ", IPv6 needs 1280" : "") + ")");
        c.mtu = static_cast<std::uint32_t>(mtu);
        const bool is_linux = g.kind == GuestKind::Linux;
        for (const char* key : {"tun", "forward", "outside", "outside_address"})
            if (!is_linux && n->get(key) != nullptr)
                return set_error(value_line(*n, key), ConfigError::BadValue, sub + key,
                                 "only a linux guest has a TUN device and outside interfaces; an rt guest runs lwIP");
        if (!read_string(*n, sub, "tun", c.tun, false)) return false;
        auto interface_name = [](const std::string& name) {
            return !name.empty() && name.size() <= 15 && name.find_first_not_of(
                "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == std::string::npos;
        };
        if (!interface_name(c.tun))
            return set_error(value_line(*n, "tun"), ConfigError::BadValue, sub + "tun",
                             quoted(c.tun) + " is not an interface name (1 to 15 of A-Z a-z 0-9 _ . -)");
        if (!read_bool(*n, sub, "forward", c.forward)) return false;
        if (!read_string(*n, sub, "outside", c.outside, false)) return false;
        if (!c.outside.empty() && !interface_name(c.outside))
            return set_error(value_line(*n, "outside"), ConfigError::BadValue, sub + "outside",
                             quoted(c.outside) + " is not an interface name (1 to 15 of A-Z a-z 0-9 _ . -)");
        if (!read_prefix(*n, sub, "outside_address", c.outside_address, false)) return false;
        if (c.outside.empty() != !c.outside_address)
            return set_error(c.where.line, ConfigError::MissingField, sub + (c.outside.empty() ? "outside" : "outside_address"),
                             "outside and outside_address go together: the interface and its address");
        if (c.forward && c.outside.empty())
            return set_error(value_line(*n, "forward"), ConfigError::MissingField, sub + "outside",
                             "forward = true needs an outside interface to forward to");
        return true;
    }

    // A command: a non-empty array of strings whose first names the program.
    bool read_argv(const toml::node& node, const std::string& field, std::vector<std::string>& out) {
        const toml::array* words = node.as_array();
        if (words == nullptr || words->empty())
            return set_error(line_of(node), ConfigError::BadValue, field,
                             "must be a command: a non-empty array of strings, e.g. [\"sleep\", \"infinity\"]");
        for (const toml::node& word : *words) {
            const toml::value<std::string>* text = word.as_string();
            if (text == nullptr) return set_error(line_of(word), ConfigError::BadValue, field, "must hold strings");
            if (text->get().find('\0') != std::string::npos)
                return set_error(line_of(word), ConfigError::BadValue, field, "a word holds a NUL character");
            out.push_back(text->get());
        }
        if (out.front().empty())
            return set_error(line_of(node), ConfigError::BadValue, field, "the program name is empty");
        return true;
    }

    bool parse_links(const toml::table& root) {
        const toml::array* links = nullptr;
        if (!table_array(root, "links", layout::kMaxLinks, links)) return false;
        if (links == nullptr) return true;
        std::set<std::pair<std::string, std::string>> seen;  // each pair in (smaller, larger) order
        for (std::size_t i = 0; i < links->size(); ++i) {
            const toml::table& t = *(*links)[i].as_table();
            const std::string prefix = "links[" + std::to_string(i) + "].";
            if (!check_keys(t, prefix, {"guests", "size"})) return false;
            std::vector<std::string> names;
            if (!read_guest_names(t, prefix, names)) return false;
            const std::uint32_t line = value_line(t, "guests");
            const std::string field = prefix + "guests";
            if (names.size() != 2)
                return set_error(line, ConfigError::BadValue, field,
                                 "a link joins exactly two guests, " + std::to_string(names.size()) + " given");
            if (names[0] == names[1])
                return set_error(line, ConfigError::BadValue, field,
                                 "guest " + quoted(names[0]) + " cannot be linked to itself");
            const auto [low, high] = std::minmax(names[0], names[1]);
            if (!seen.emplace(low, high).second)
                return set_error(line, ConfigError::Conflict, field,
                                 "guests " + quoted(names[0]) + " and " + quoted(names[1]) + " are already linked");
            LinkConfig link{names[0], names[1], config_.link_size, where(t)};
            if (!read_size(t, prefix, "size", link.size, false)) return false;
            config_.links.push_back(std::move(link));
        }
        return true;
    }

    bool parse_access(const toml::table& root) {
        const toml::array* rules = nullptr;
        if (!table_array(root, "access", layout::kMaxAccessRules, rules)) return false;
        if (rules == nullptr) return true;
        for (std::size_t i = 0; i < rules->size(); ++i) {
            const toml::table& t = *(*rules)[i].as_table();
            const std::string prefix = "access[" + std::to_string(i) + "].";
            if (!check_keys(t, prefix, {"objects", "guests", "rights"})) return false;
            AccessRuleConfig rule;
            rule.where = where(t);
            if (!read_string(t, prefix, "objects", rule.objects, true)) return false;
            if (rule.objects.empty() || rule.objects.size() > kMaxObjectsPattern)
                return set_error(value_line(t, "objects"), ConfigError::BadValue, prefix + "objects",
                                 "the pattern must be 1 to " + std::to_string(kMaxObjectsPattern) +
                                     " characters, not " + std::to_string(rule.objects.size()));
            if (!read_guest_names(t, prefix, rule.guests, true)) return false;
            std::string rights;
            if (!read_string(t, prefix, "rights", rights, true)) return false;
            if (rights == "none") {
                rule.rights = Rights::None;
            } else if (rights == "r") {
                rule.rights = Rights::Read;
            } else if (rights == "rw") {
                rule.rights = Rights::ReadWrite;
            } else {
                return set_error(value_line(t, "rights"), ConfigError::BadValue, prefix + "rights",
                                 quoted(rights) + " is not a right (none, r or rw)");
            }
            config_.access.push_back(std::move(rule));
        }
        return true;
    }

    bool read_watchdog(const toml::table& t, const std::string& prefix, GuestConfig& g) {
        const toml::node* node = t.get("watchdog");
        if (node == nullptr) return true;
        const std::string field = prefix + "watchdog";
        const toml::table* w = node->as_table();
        if (w == nullptr)
            return set_error(line_of(*node), ConfigError::BadValue, field,
                             "must be a table, e.g. watchdog = { period_ms = 50, misses = 3, watch = [\"rt\"] }");
        const std::string sub = field + ".";
        if (g.kind == GuestKind::Rt) {
            // The rt guest's watchdog is a task of its executive (nk/rt/watchdog_task.hpp) that
            // watches peers; the guest's program arms and beats its own heartbeat.
            for (const char* linux_only : {"misses", "hook", "http_port"})
                if (w->get(linux_only) != nullptr)
                    return set_error(value_line(*w, linux_only), ConfigError::BadValue, sub + linux_only,
                                     "an rt guest's watchdog is a task that watches its peers (period_ms, watch, "
                                     "priority); its program arms its own heartbeat, and it runs no hook or health page");
        }
        if (!check_keys(*w, sub, {"period_ms", "misses", "watch", "priority", "hook", "http_port"})) return false;
        WatchdogConfig& c = g.watchdog;
        c.enabled = true;
        c.where = where(*w);
        std::int64_t period = c.period_ms, misses = c.misses, priority = c.priority;
        if (!read_int(*w, sub, "period_ms", period, false)) return false;
        if (period < 1 || period > 60000)
            return set_error(value_line(*w, "period_ms"), ConfigError::BadValue, sub + "period_ms",
                             std::to_string(period) + " is not a heartbeat period (1 to 60000 ms)");
        if (!read_int(*w, sub, "misses", misses, false)) return false;
        if (misses < 1 || misses > 100)
            return set_error(value_line(*w, "misses"), ConfigError::BadValue, sub + "misses",
                             std::to_string(misses) + " is not a number of misses (1 to 100)");
        if (!read_int(*w, sub, "priority", priority, false)) return false;
        if (priority < 0 || priority > 99)
            return set_error(value_line(*w, "priority"), ConfigError::BadValue, sub + "priority",
                             std::to_string(priority) + " is not a SCHED_FIFO priority (1 to 99, or 0 for none)");
        std::int64_t http_port = c.http_port;
        if (!read_int(*w, sub, "http_port", http_port, false)) return false;
        if (http_port < 0 || http_port > 65535)
            return set_error(value_line(*w, "http_port"), ConfigError::BadValue, sub + "http_port",
                             std::to_string(http_port) + " is not a TCP port (1 to 65535, or 0 for no health page)");
        c.http_port = static_cast<std::uint32_t>(http_port);
        c.period_ms = static_cast<std::uint32_t>(period);
        c.misses = static_cast<std::uint32_t>(misses);
        c.priority = static_cast<int>(priority);
        if (!read_string(*w, sub, "hook", c.hook, false)) return false;
        if (const toml::node* watch = w->get("watch")) {
            const toml::array* names = watch->as_array();
            if (names == nullptr)
                return set_error(line_of(*watch), ConfigError::BadValue, sub + "watch", "must be an array of guest names");
            for (const toml::node& item : *names) {
                const auto* name = item.as_string();
                if (name == nullptr)
                    return set_error(line_of(item), ConfigError::BadValue, sub + "watch", "must hold guest names (strings)");
                c.watch.push_back(name->get());
            }
        }
        return true;
    }

    // After every guest is read: the names each watchdog watches exist and are not its own.
    bool check_watchdogs() {
        for (std::size_t i = 0; i < config_.guests.size(); ++i) {
            const GuestConfig& g = config_.guests[i];
            const std::string field = "guests[" + std::to_string(i) + "].watchdog.watch";
            // The health page is served on the guest's netbridge address: without one, nobody reaches it.
            if (g.watchdog.http_port != 0 && !g.net.enabled)
                return set_error(g.watchdog.where.line, ConfigError::BadValue,
                                 "guests[" + std::to_string(i) + "].watchdog.http_port",
                                 "guest " + quoted(g.name) +
                                     " has no net table: the health page is served on its netbridge address "
                                     "(add net = { address = \"10.77.1.1/24\" })");
            for (const auto& name : g.watchdog.watch) {
                if (name == g.name)
                    return set_error(g.watchdog.where.line, ConfigError::BadValue, field,
                                     "guest " + quoted(name) + " cannot watch itself (its peers watch it)");
                if (config_.find_guest(name) == nullptr)
                    return set_error(g.watchdog.where.line, ConfigError::BadValue, field,
                                     "no guest is named " + quoted(name) + " (guests: " + guest_names() + ")");
            }
        }
        return true;
    }

    bool linked(std::string_view a, std::string_view b) const {
        return std::any_of(config_.links.begin(), config_.links.end(), [&](const LinkConfig& l) {
            return (l.first == a && l.second == b) || (l.first == b && l.second == a);
        });
    }

    bool parse_interrupts(const toml::table& root) {
        const toml::array* lines = nullptr;
        if (!table_array(root, "interrupts", layout::kMaxInterruptLines, lines)) return false;
        if (lines == nullptr) return true;
        std::set<std::string> names;
        std::set<std::pair<std::string, std::int64_t>> numbers;
        for (std::size_t i = 0; i < lines->size(); ++i) {
            const toml::table& t = *(*lines)[i].as_table();
            const std::string prefix = "interrupts[" + std::to_string(i) + "].";
            if (!check_keys(t, prefix, {"name", "owner", "line", "raisers"})) return false;
            InterruptConfig irq;
            irq.where = where(t);
            if (!read_string(t, prefix, "name", irq.name, true)) return false;
            const bool name_ok = !irq.name.empty() && irq.name.size() < layout::kNameCapacity &&
                                 std::all_of(irq.name.begin(), irq.name.end(), [](char c) { return is_name_char(c) || c == '.'; });
            if (!name_ok)
                return set_error(value_line(t, "name"), ConfigError::BadValue, prefix + "name",
                                 quoted(irq.name) + " is not a line name (1 to " +
                                     std::to_string(layout::kNameCapacity - 1) + " of A-Z a-z 0-9 _ - .)");
            if (!names.insert(irq.name).second)
                return set_error(value_line(t, "name"), ConfigError::Conflict, prefix + "name",
                                 "another line is already named " + quoted(irq.name));
            if (!read_string(t, prefix, "owner", irq.owner, true)) return false;
            if (config_.find_guest(irq.owner) == nullptr)
                return set_error(value_line(t, "owner"), ConfigError::BadValue, prefix + "owner",
                                 "no guest is named " + quoted(irq.owner) + " (guests: " + guest_names() + ")");
            std::int64_t number = 0;
            if (!read_int(t, prefix, "line", number, true)) return false;
            if (number < layout::kFirstConfiguredLine || number >= layout::kLinesPerGuest)
                return set_error(value_line(t, "line"), ConfigError::BadValue, prefix + "line",
                                 std::to_string(number) + " is not a configurable line (" +
                                     std::to_string(layout::kFirstConfiguredLine) + " to " + std::to_string(layout::kLinesPerGuest - 1) +
                                     "; 0 to " + std::to_string(layout::kFirstConfiguredLine - 1) + " are the nanokernel's)");
            if (!numbers.emplace(irq.owner, number).second)
                return set_error(value_line(t, "line"), ConfigError::Conflict, prefix + "line",
                                 "guest " + quoted(irq.owner) + " already has a line " + std::to_string(number));
            irq.line = static_cast<std::uint32_t>(number);
            if (!read_guest_names(t, prefix, irq.raisers, true, "raisers")) return false;
            for (const auto& raiser : irq.raisers) {
                if (raiser == "*" || raiser == irq.owner || linked(raiser, irq.owner)) continue;
                return set_error(value_line(t, "raisers"), ConfigError::Conflict, prefix + "raisers",
                                 "guest " + quoted(raiser) + " cannot raise a line of " + quoted(irq.owner) +
                                     ": the two have no link (add [[links]] guests = [\"" + raiser + "\", \"" +
                                     irq.owner + "\"])");
            }
            config_.interrupts.push_back(std::move(irq));
        }
        return true;
    }

    // ----- field readers: each records an error and returns false, or stores the value -----

    SourceLocation where(const toml::node& node) const { return SourceLocation{file_, line_of(node)}; }

    // The line of `key`'s value, or of the table's header when the key is absent.
    static std::uint32_t value_line(const toml::table& table, std::string_view key) {
        const toml::node* node = table.get(key);
        return line_of(node != nullptr ? *node : table);
    }

    bool set_error(std::uint32_t line, ConfigError code, std::string_view field, std::string_view what) {
        if (!error_)
            error_ = Error{make_error_code(code),
                           file_ + ":" + std::to_string(line) + ": " + std::string(field) + ": " + std::string(what)};
        return false;
    }

    bool missing(const toml::table& table, const std::string& field) {
        return set_error(line_of(table), ConfigError::MissingField, field, "required field is missing");
    }

    bool bad_name(const toml::table& table, const std::string& prefix, std::string_view key, std::string_view name,
                  std::size_t max) {
        return set_error(value_line(table, key), ConfigError::BadValue, prefix + std::string(key),
                         quoted(name) + " must be 1 to " + std::to_string(max) +
                             " characters from A-Z, a-z, 0-9, '_' and '-'");
    }

    // Refuses the first key (in file order) that is not in `known`, suggesting the nearest known one.
    bool check_keys(const toml::table& table, const std::string& prefix, std::initializer_list<std::string_view> known) {
        const toml::key* unknown = nullptr;
        const toml::node* unknown_node = nullptr;
        for (const auto& [key, node] : table) {
            if (std::find(known.begin(), known.end(), key.str()) != known.end()) continue;
            if (unknown_node == nullptr || node.source().begin < unknown_node->source().begin) {
                unknown = &key;
                unknown_node = &node;
            }
        }
        if (unknown == nullptr) return true;
        std::string_view best;
        std::size_t best_distance = 3;  // suggest only within edit distance 2
        for (std::string_view candidate : known) {
            const std::size_t distance = edit_distance(unknown->str(), candidate);
            if (distance < best_distance) {
                best = candidate;
                best_distance = distance;
            }
        }
        std::string what = "unknown field";
        if (!best.empty()) what += " (did you mean " + std::string(best) + "?)";
        return set_error(line_of(*unknown_node), ConfigError::UnknownField, prefix + std::string(unknown->str()), what);
    }

    const toml::table* require_table(const toml::table& root, std::string_view key) {
        const toml::node* node = root.get(key);
        if (node == nullptr) {
            set_error(1, ConfigError::MissingField, key, "required table [" + std::string(key) + "] is missing");
            return nullptr;
        }
        if (!node->is_table()) {
            set_error(line_of(*node), ConfigError::BadValue, key, "must be a table ([" + std::string(key) + "])");
            return nullptr;
        }
        return node->as_table();
    }

    // [[key]] tables: `out` is null when there are none. An empty array counts as none.
    bool table_array(const toml::table& root, std::string_view key, std::size_t max, const toml::array*& out) {
        out = nullptr;
        const toml::node* node = root.get(key);
        if (node == nullptr) return true;
        const toml::array* array = node->as_array();
        if (array == nullptr || (!array->empty() && !array->is_array_of_tables()))
            return set_error(line_of(*node), ConfigError::BadValue, key,
                             "must be an array of tables ([[" + std::string(key) + "]])");
        if (array->size() > max)
            return set_error(line_of((*array)[max]), ConfigError::BadValue, key,
                             "at most " + std::to_string(max) + " are allowed, this is number " +
                                 std::to_string(max + 1));
        out = array;
        return true;
    }

    bool read_string(const toml::table& table, const std::string& prefix, std::string_view key, std::string& out,
                     bool required) {
        const toml::node* node = table.get(key);
        if (node == nullptr) return required ? missing(table, prefix + std::string(key)) : true;
        const toml::value<std::string>* value = node->as_string();
        if (value == nullptr)
            return set_error(line_of(*node), ConfigError::BadValue, prefix + std::string(key), "must be a string");
        out = value->get();
        return true;
    }

    bool read_bool(const toml::table& table, const std::string& prefix, std::string_view key, bool& out) {
        const toml::node* node = table.get(key);
        if (node == nullptr) return true;
        const toml::value<bool>* value = node->as_boolean();
        if (value == nullptr)
            return set_error(line_of(*node), ConfigError::BadValue, prefix + std::string(key),
                             "must be a boolean (true or false)");
        out = value->get();
        return true;
    }

    bool read_int(const toml::table& table, const std::string& prefix, std::string_view key, std::int64_t& out,
                  bool required) {
        const toml::node* node = table.get(key);
        if (node == nullptr) return required ? missing(table, prefix + std::string(key)) : true;
        const toml::value<std::int64_t>* value = node->as_integer();
        if (value == nullptr)
            return set_error(line_of(*node), ConfigError::BadValue, prefix + std::string(key), "must be an integer");
        out = value->get();
        return true;
    }

    bool read_size(const toml::table& table, const std::string& prefix, std::string_view key, std::uint64_t& out,
                   bool required) {
        const std::string field = prefix + std::string(key);
        const toml::node* node = table.get(key);
        if (node == nullptr) return required ? missing(table, field) : true;
        const std::uint32_t line = line_of(*node);
        std::optional<std::uint64_t> size;
        if (const auto* integer = node->as_integer()) {
            if (integer->get() >= 0) size = static_cast<std::uint64_t>(integer->get());
        } else if (const auto* text = node->as_string()) {
            size = parse_size(text->get());
        } else {
            return set_error(line, ConfigError::BadValue, field,
                             "must be a size: an integer (bytes) or a string like \"4 MiB\"");
        }
        if (!size)
            return set_error(line, ConfigError::BadValue, field,
                             "is not a size (bytes, or a string like \"64 KiB\", \"4M\", \"1 GiB\")");
        if (*size == 0) return set_error(line, ConfigError::BadValue, field, "must be more than 0 bytes");
        if (*size % kSizeMultiple != 0)
            return set_error(line, ConfigError::BadValue, field,
                             std::to_string(*size) + " bytes is not a multiple of " + std::to_string(kSizeMultiple));
        out = *size;
        return true;
    }

    // The `guests` array of a link or access rule: names of guests parsed above ("*" where allowed).
    bool read_guest_names(const toml::table& table, const std::string& prefix, std::vector<std::string>& out,
                          bool allow_all = false, std::string_view key = "guests") {
        const std::string field = prefix + std::string(key);
        const toml::node* node = table.get(key);
        if (node == nullptr) return missing(table, field);
        const toml::array* names = node->as_array();
        if (names == nullptr || names->empty())
            return set_error(line_of(*node), ConfigError::BadValue, field,
                             allow_all ? "must be a non-empty array of guest names, or [\"*\"]"
                                       : "must be an array of guest names");
        for (const toml::node& item : *names) {
            const toml::value<std::string>* name = item.as_string();
            if (name == nullptr)
                return set_error(line_of(item), ConfigError::BadValue, field, "must hold guest names (strings)");
            const bool everyone = allow_all && name->get() == "*";
            if (!everyone && config_.find_guest(name->get()) == nullptr)
                return set_error(line_of(item), ConfigError::BadValue, field,
                                 "no guest is named " + quoted(name->get()) + " (guests: " + guest_names() + ")");
            out.push_back(name->get());
        }
        return true;
    }

    std::string guest_names() const {
        std::string names;
        for (const GuestConfig& g : config_.guests) names += (names.empty() ? "" : ", ") + g.name;
        return names;
    }

    std::string file_;
    PlatformConfig config_;
    std::optional<Error> error_;
};

}  // namespace

std::error_code make_error_code(ConfigError e) {
    static const ConfigErrorCategory category;
    return {static_cast<int>(e), category};
}

std::string_view to_string(GuestKind kind) {
    switch (kind) {
        case GuestKind::Linux: return "linux";
        case GuestKind::Rt: return "rt";
    }
    return "unknown";
}

std::string_view to_string(SchedClass sched) {
    switch (sched) {
        case SchedClass::General: return "general";
        case SchedClass::Rt: return "rt";
    }
    return "unknown";
}

std::string_view to_string(Rights rights) {
    switch (rights) {
        case Rights::None: return "none";
        case Rights::Read: return "r";
        case Rights::ReadWrite: return "rw";
    }
    return "unknown";
}

std::string_view to_string(RestartPolicy policy) {
    switch (policy) {
        case RestartPolicy::OnFailure: return "on-failure";
        case RestartPolicy::Always: return "always";
        case RestartPolicy::Never: return "never";
    }
    return "unknown";
}

const GuestConfig* PlatformConfig::find_guest(std::string_view guest_name) const {
    for (const GuestConfig& g : guests)
        if (g.name == guest_name) return &g;
    return nullptr;
}

const GuestConfig* PlatformConfig::find_guest(std::uint16_t guest_id) const {
    for (const GuestConfig& g : guests)
        if (g.id == guest_id) return &g;
    return nullptr;
}

std::string cpu_list_text(const std::vector<std::uint32_t>& cpus) {
    std::vector<std::uint32_t> sorted = cpus;
    std::sort(sorted.begin(), sorted.end());
    sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
    std::string out;
    for (std::size_t i = 0; i < sorted.size();) {
        std::size_t j = i;
        while (j + 1 < sorted.size() && sorted[j + 1] == sorted[j] + 1) ++j;
        if (!out.empty()) out += ',';
        out += std::to_string(sorted[i]);
        if (j > i) out += "-" + std::to_string(sorted[j]);
        i = j + 1;
    }
    return out;
}

std::optional<std::uint64_t> parse_size(std::string_view text) {
    constexpr std::string_view kSpace = " \t";
    const auto trim = [&](std::string_view s) {
        const std::size_t first = s.find_first_not_of(kSpace);
        if (first == std::string_view::npos) return std::string_view{};
        return s.substr(first, s.find_last_not_of(kSpace) - first + 1);
    };
    text = trim(text);
    std::uint64_t number = 0;
    const char* const end = text.data() + text.size();
    const auto [unit_start, ec] = std::from_chars(text.data(), end, number);
    if (ec != std::errc{}) return std::nullopt;  // no digits, a sign, or too large
    std::string unit(trim(std::string_view(unit_start, static_cast<std::size_t>(end - unit_start))));
    std::transform(unit.begin(), unit.end(), unit.begin(),
                   [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; });
    // Binary units only. "MB" is refused rather than guessed: it means 10^6 to some readers.
    unsigned shift = 0;
    if (unit.empty()) {
        shift = 0;
    } else if (unit == "k" || unit == "kib") {
        shift = 10;
    } else if (unit == "m" || unit == "mib") {
        shift = 20;
    } else if (unit == "g" || unit == "gib") {
        shift = 30;
    } else {
        return std::nullopt;
    }
    if (number > (std::numeric_limits<std::uint64_t>::max() >> shift)) return std::nullopt;
    return number << shift;
}

Result<PlatformConfig> parse_platform_config(std::string_view toml_text, std::string_view source_name) {
    const std::string file(source_name);
    try {
        const toml::table root = toml::parse(toml_text, std::string_view(file));
        return Parser(file).parse(root);
    } catch (const toml::parse_error& e) {
        const toml::source_position& at = e.source().begin;
        return fail(ConfigError::Syntax, file + ":" + std::to_string(at.line) + ":" + std::to_string(at.column) +
                                             ": syntax error: " + std::string(e.description()));
    } catch (const std::bad_alloc&) {
        return fail(std::errc::not_enough_memory, file + ": out of memory while reading the platform config");
    } catch (const std::exception& e) {
        // toml++ throws only parse_error; anything else is a surprise, still not one to let escape.
        return fail(ConfigError::Syntax, file + ": cannot parse: " + e.what());
    }
}

Result<PlatformConfig> load_platform_config(const std::string& path) {
    const auto cannot_read = [&](const Error& error) {
        return fail(ConfigError::Unreadable, path + ": cannot read: " + std::strerror(error.code.value()));
    };
    auto opened = sys::call("open", [&] { return ::open(path.c_str(), O_RDONLY | O_CLOEXEC); });
    if (!opened) return cannot_read(opened.error());
    const UniqueFd fd(*opened);
    std::string text;
    char buffer[8192];
    for (;;) {
        auto got = sys::call("read", [&] { return ::read(fd.get(), buffer, sizeof buffer); });
        if (!got) return cannot_read(got.error());
        if (*got == 0) break;
        text.append(buffer, static_cast<std::size_t>(*got));
        if (text.size() > kMaxConfigBytes)
            return fail(ConfigError::Unreadable, path + ": cannot read: larger than " +
                                                     std::to_string(kMaxConfigBytes >> 10) +
                                                     " KiB, which no platform config is");
    }
    return parse_platform_config(text, path);
}

}  // namespace nk
