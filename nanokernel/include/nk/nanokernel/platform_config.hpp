// The platform config: what the region is split into and which guests run on it.
//
// A platform is described by one TOML file (examples/platforms/two-guests.toml is the default).
// Loading validates everything before anything is created; an error names the file, the line and
// the field, e.g. `platform.toml:12: guests[1].cpus: CPU 7 does not exist (this machine has CPUs 0-1)`.
//
//   nk::Result<nk::PlatformConfig> config = nk::load_platform_config("two-guests.toml");
//   if (!config) { std::cerr << config.error().message << '\n'; return 2; }
//
// Sizes in the file are integers (bytes) or strings with a binary unit: "64 KiB", "4M", "1 GiB".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "nk/nanokernel/ip_prefix.hpp"
#include "nk/nanokernel/result.hpp"

namespace nk {

enum class ConfigError {
    Unreadable = 1,  // the file cannot be read
    Syntax,          // not valid TOML
    MissingField,    // a required field is absent
    UnknownField,    // a field nk does not know (usually a typo)
    BadValue,        // a field has the wrong type or an out-of-range value
    Conflict,        // two parts of the config contradict each other (duplicate ids, shared resources)
};
std::error_code make_error_code(ConfigError e);

enum class GuestKind : std::uint8_t { Linux = 1, Rt = 2 };
enum class SchedClass : std::uint8_t { General = 1, Rt = 2 };

// What nkd does when a guest's partition ends (its init, or the rt guest's process, exits).
enum class RestartPolicy : std::uint8_t {
    OnFailure = 1,  // restart after a non-zero exit, a signal or a detected failure (the default)
    Always = 2,     // restart after any end, a clean exit included
    Never = 3,      // leave it down
};

// Rights on a named object, as the [[access]] rules grant them.
enum class Rights : std::uint8_t { None = 0, Read = 1, ReadWrite = 3 };

[[nodiscard]] std::string_view to_string(GuestKind kind);
[[nodiscard]] std::string_view to_string(SchedClass sched);
[[nodiscard]] std::string_view to_string(Rights rights);
[[nodiscard]] std::string_view to_string(RestartPolicy policy);

// Where a config element was written, so later checks (and runtime refusals) can point at it.
struct SourceLocation {
    std::string file;
    std::uint32_t line = 0;
};

// A linux guest's watchdog daemon (nk-watchdog), which nkd starts as one of its services: it beats
// the guest's heartbeat while the guest's init and its registered critical processes keep up, and
// watches the heartbeats of the guests in `watch`.
struct WatchdogConfig {
    bool enabled = false;
    std::uint32_t period_ms = 50;    // 1..60000
    std::uint32_t misses = 3;        // 1..100: a peer older than period * misses has failed
    std::vector<std::string> watch;  // guest names (not itself)
    int priority = 0;                // SCHED_FIFO priority 1..99 of the daemon; 0: SCHED_OTHER
    std::string hook;                // a shell command run for each failure it sees; empty: none
    // 1..65535: it serves the platform's health page (GET /, GET /health.json) on this TCP port
    // of the guest's netbridge address (so the guest needs a `net` table); 0: no page.
    std::uint32_t http_port = 0;
    SourceLocation where;
};

// A guest's place on the netbridge (netbridge/, nk-netbridge): its address, whose subnet is the
// guest's own (no two guests' subnets overlap), and for a linux guest its TUN device and
// optionally an outside interface it forwards between the guests and the outside network.
struct NetConfig {
    bool enabled = false;
    IpPrefix address;                        // required: "10.77.1.1/24"
    std::optional<IpPrefix> address6;        // optional: "fd77:1::1/64"
    std::uint32_t mtu = 1500;                // 576..65535 (1280.. with IPv6)
    std::string tun = "nk0";                 // linux: the TUN device's name
    bool forward = false;                    // linux: route between the guests and `outside`
    std::string outside;                     // linux: a host interface nkd moves into the guest
    std::optional<IpPrefix> outside_address;  // its address there
    SourceLocation where;
};

struct GuestConfig {
    std::uint16_t id = 0;           // 1..254, unique
    std::string name;               // [A-Za-z0-9_-], 1..15 chars, unique
    GuestKind kind = GuestKind::Linux;
    std::uint64_t memory_size = 0;  // size of the guest's private area
    std::uint64_t pnv_size = 0;     // size of the guest's PNV area ([areas].pnv_size unless overridden)
    std::vector<std::uint32_t> cpus;
    SchedClass sched = SchedClass::General;
    int priority = 0;               // SCHED_FIFO priority 1..99 for sched = "rt"; 0 otherwise

    // How nkd runs the guest as a partition (issue 3). A linux guest runs nk-init as its PID 1,
    // which starts `services`; an rt guest is the one process `run` names. A guest with nothing
    // to run (an rt guest without `run`) is not started: its processes attach by hand.
    std::string hostname;                        // defaults to the name
    std::vector<std::vector<std::string>> services;  // linux: argv of each service
    std::vector<std::string> run;                // rt: argv of its one process
    RestartPolicy restart = RestartPolicy::OnFailure;
    std::uint32_t restart_limit = 5;             // restarts in a row before nkd gives up on it
    std::uint64_t memory_limit = 0;              // cgroup memory limit in bytes; 0: none
    std::uint32_t cpu_weight = 100;              // cgroup CPU weight, 1..10000
    bool exclusive_cpus = false;                 // no other guest may be given any of its CPUs
    std::vector<std::string> devices;            // device nodes it owns ("/dev/ttyS1"); no other guest may open them
    WatchdogConfig watchdog;                     // linux: [guests.watchdog]
    NetConfig net;                               // net = { address = "10.77.1.1/24", ... }
    SourceLocation where;

    // True when nkd has something to start for this guest.
    [[nodiscard]] bool runnable() const { return kind == GuestKind::Linux || !run.empty(); }
};

// A pair of guests that may talk; each link gets its own area, mapped only by the two.
struct LinkConfig {
    std::string first;   // guest names, as written
    std::string second;
    std::uint64_t size = 0;  // [areas].link_size unless overridden
    SourceLocation where;
};

// One [[access]] rule. Rules are tried in file order; the first whose `objects` glob matches the
// object name and whose `guests` list contains the guest decides. No matching rule: refused.
struct AccessRuleConfig {
    std::string objects;              // fnmatch(3) glob over object names
    std::vector<std::string> guests;  // guest names, or "*" for every guest
    Rights rights = Rights::None;
    SourceLocation where;
};

// One [[interrupts]] line: a virtual interrupt line that `owner` receives and `raisers` may raise
// (interrupts.hpp). Every raiser other than the owner must be linked to it: the doorbell lives in
// their link area.
struct InterruptConfig {
    std::string name;                  // [A-Za-z0-9_.-], 1..31 chars, unique
    std::string owner;                 // guest name
    std::uint32_t line = 0;            // 16..63, unique per owner
    std::vector<std::string> raisers;  // guest names, or "*": every guest linked to the owner
    SourceLocation where;
};

struct PlatformConfig {
    std::string name;                 // [A-Za-z0-9_-], 1..31 chars
    std::string source_file;          // the path it was loaded from (or the name given to parse)
    std::uint64_t region_size = 0;    // 0: exactly what the areas need
    bool hugepages = false;           // back the areas with 2 MiB huge pages (memfd MFD_HUGETLB)
    bool lock_memory = true;          // mlock every mapping so the IPC path never page-faults
    std::uint64_t link_size = 0;
    std::uint64_t common_size = 0;
    std::uint64_t pnv_size = 0;
    std::vector<GuestConfig> guests;
    std::vector<LinkConfig> links;
    std::vector<AccessRuleConfig> access;
    std::vector<InterruptConfig> interrupts;
    SourceLocation where;             // the [platform] table

    [[nodiscard]] const GuestConfig* find_guest(std::string_view guest_name) const;
    [[nodiscard]] const GuestConfig* find_guest(std::uint16_t guest_id) const;
};

// Loads and validates `path`. CPUs are checked against the CPUs this machine has.
[[nodiscard]] Result<PlatformConfig> load_platform_config(const std::string& path);

// Same, from text; `source_name` is used in error messages in place of the file name.
[[nodiscard]] Result<PlatformConfig> parse_platform_config(std::string_view toml_text,
                                                           std::string_view source_name);

// "0-3,6": sorted CPU numbers in the form the kernel's cpuset files use.
[[nodiscard]] std::string cpu_list_text(const std::vector<std::uint32_t>& cpus);

// Parses "64 KiB", "4M", "1 GiB", "4096". Exposed for nkctl and tests.
[[nodiscard]] std::optional<std::uint64_t> parse_size(std::string_view text);

}  // namespace nk

template <>
struct std::is_error_code_enum<nk::ConfigError> : std::true_type {};
