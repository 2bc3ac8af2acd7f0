// nk::Region: the nanokernel's partitioned shared memory, as one process sees it.
//
// The creator (nkd, or a test) builds a region from a platform config: one memfd per area,
// sized, prefaulted, sealed against resizing, and locked in memory. Other processes attach with
// the descriptors they were given: inherited across exec (NK_REGION_FDS) or received from the
// process that serves the platform (attach_by_name, region_client.hpp). A process maps exactly
// the areas whose descriptors it holds, at their fixed offsets in one reserved address range;
// every other area stays PROT_NONE, so touching it faults. Read-only descriptors give read-only
// mappings: a guest's write to the management tables faults.
//
//   auto config = nk::load_platform_config("two-guests.toml");
//   auto region = nk::Region::create(*config);                 // creator: every area, writable
//   auto fds = region->export_fds(nk::Identity::guest(1));      // what guest 1 may have
//   ... pass fds to a child; in the child:
//   auto mine = nk::Region::attach_from_environment();          // maps only guest 1's areas
//
// A Region is used from one thread at a time for attach/detach; its accessors are const and safe
// to call from any thread. Directory operations (directory.hpp) lock per area.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "nk/nanokernel/layout.hpp"
#include "nk/nanokernel/platform_config.hpp"
#include "nk/nanokernel/region_error.hpp"
#include "nk/nanokernel/result.hpp"
#include "nk/nanokernel/unique_fd.hpp"

namespace nk {

// Who a process is on the platform; decides which areas it receives and how.
enum class Role : std::uint8_t {
    Creator = 1,   // made the region: every area writable, management included
    Operator = 2,  // nkctl acting for a person: management read-only, every other area writable
    Observer = 3,  // nkctl listing: every area read-only
    Guest = 4,     // a process of one guest: only that guest's areas, its links, the common area
};

struct Identity {
    Role role = Role::Observer;
    std::uint16_t guest_id = 0;  // set for Role::Guest

    static Identity guest(std::uint16_t id) { return {Role::Guest, id}; }
    static Identity observer() { return {Role::Observer, 0}; }
    static Identity operator_() { return {Role::Operator, 0}; }
};

[[nodiscard]] std::string_view to_string(Role role);

// One area as this process sees it.
struct AreaInfo {
    std::uint16_t index = 0;
    layout::AreaKind kind{};
    std::uint16_t owner_guest = 0;
    std::uint16_t peer_guest = 0;
    std::string label;
    std::uint64_t offset = 0;  // logical offset in the region
    std::uint64_t size = 0;
    bool mapped = false;       // this process holds the area
    bool writable = false;

    [[nodiscard]] bool involves(std::uint16_t guest_id) const {
        return owner_guest == guest_id || peer_guest == guest_id;
    }
};

struct GuestInfo {
    std::uint16_t id = 0;
    std::string name;
    GuestKind kind{};
    SchedClass sched{};
    int priority = 0;
    std::uint64_t memory_size = 0;
    std::vector<std::uint32_t> cpus;
    layout::GuestState state{};
    std::uint32_t incarnation = 0;
    std::uint16_t control_area = 0, private_area = 0, pnv_area = 0;
    // Runtime, as nkd last wrote it (layout::GuestEntry).
    std::uint32_t init_pid = 0;
    std::uint32_t restarts = 0;
    std::uint64_t started_unix_ns = 0;
    std::int32_t last_exit_status = -1;
    layout::FailureKind last_failure = layout::FailureKind::None;
    std::uint64_t last_failure_unix_ns = 0;
    std::uint32_t missed_heartbeats = 0;
    std::uint16_t detected_by = 0;  // a hang reported by this guest's watchdog; 0: found by nkd
};

// What nkd records when a guest's partition starts or ends.
struct GuestRuntimeUpdate {
    std::uint32_t init_pid = 0;
    bool count_restart = false;
    std::uint64_t started_unix_ns = 0;  // 0: leave as is
    std::optional<std::int32_t> exit_status;
    std::optional<layout::FailureKind> failure;
    std::uint64_t failure_unix_ns = 0;
    std::uint32_t missed_heartbeats = 0;  // stored with `failure`
    std::uint16_t detected_by = 0;        // stored with `failure`
};

[[nodiscard]] std::string_view to_string(layout::AreaKind kind);
[[nodiscard]] std::string_view to_string(layout::GuestState state);
[[nodiscard]] std::string_view to_string(layout::FailureKind kind);

class Region {
public:
    // Builds a new region from a validated config. The calling process becomes its creator.
    [[nodiscard]] static Result<Region> create(const PlatformConfig& config);

    // Attaches with descriptors this process owns (received or inherited). Each descriptor is
    // identified by its memfd name and checked against the management tables; the management
    // area must be among them. `who` is what the caller claims to be; it must match the set.
    [[nodiscard]] static Result<Region> attach(std::vector<UniqueFd> fds, Identity who);

    // Takes over an existing region as its creator, from writable descriptors of every area (a
    // restarted nkd reopens them from the region keeper, region_keeper.hpp). The region, its
    // objects and its guest table are kept as they are.
    [[nodiscard]] static Result<Region> adopt(std::vector<UniqueFd> fds);

    // Attaches with the descriptors named by NK_REGION_FDS ("3,4,5") and the identity in
    // NK_REGION_ROLE ("guest:1", "observer", "operator"), as export_env() writes them.
    [[nodiscard]] static Result<Region> attach_from_environment();

    Region(Region&&) noexcept;
    Region& operator=(Region&&) noexcept;
    Region(const Region&) = delete;
    Region& operator=(const Region&) = delete;
    ~Region();

    [[nodiscard]] const Identity& identity() const;
    [[nodiscard]] std::string_view platform_name() const;
    [[nodiscard]] std::string_view config_file() const;
    [[nodiscard]] std::uint64_t size() const;
    [[nodiscard]] std::uint64_t page_size() const;
    [[nodiscard]] std::uint64_t created_unix_ns() const;
    [[nodiscard]] std::uint64_t generation() const;
    [[nodiscard]] bool locked_in_memory() const;
    [[nodiscard]] bool hugepages() const;

    // The validated copy of the management tables taken at attach. Fields that change after
    // creation (guest state, incarnation, generation) are read live through guest()/generation().
    [[nodiscard]] const layout::ManagementTables& tables() const;

    [[nodiscard]] std::span<const AreaInfo> areas() const;
    [[nodiscard]] const AreaInfo* area(std::uint16_t index) const;
    [[nodiscard]] const AreaInfo* link_area(std::uint16_t guest_a, std::uint16_t guest_b) const;
    [[nodiscard]] const AreaInfo* common_area() const;

    [[nodiscard]] std::vector<GuestInfo> guests() const;
    [[nodiscard]] std::optional<GuestInfo> guest(std::uint16_t id) const;
    [[nodiscard]] std::optional<GuestInfo> guest(std::string_view name) const;
    // A guest's state and incarnation, read live, without building a GuestInfo: allocates
    // nothing, for hot paths that only ask whether a peer still runs (PortSender::owner_up).
    struct Liveness {
        layout::GuestState state{};
        std::uint32_t incarnation = 0;
    };
    [[nodiscard]] std::optional<Liveness> guest_liveness(std::uint16_t id) const;

    // Start of the reserved address range; area `i` lives at base() + area(i)->offset.
    [[nodiscard]] std::byte* base() const;

    // Bounds- and mapping-checked access to [offset, offset + length) of the region: refused if
    // the range leaves the region, spans two areas, lies in an area this process does not hold,
    // or (for want_write) in one it holds read-only.
    [[nodiscard]] Result<std::byte*> bytes(std::uint64_t offset, std::uint64_t length, bool want_write) const;

    // The descriptor of a held area (-1 if not held). Used for OFD locks and read-only views.
    [[nodiscard]] int area_fd(std::uint16_t index) const;

    // In-process exclusion for one area: OFD locks do not exclude threads of one process that
    // share the descriptor, so directory operations take this first.
    [[nodiscard]] std::mutex& area_mutex(std::uint16_t index) const;

    // Creator only: fresh descriptors (new open file descriptions, close-on-exec) for what
    // `who` may hold, read-only where it may only read.
    [[nodiscard]] Result<std::vector<UniqueFd>> export_fds(Identity who) const;

    // Creator only: the writable management tables (guest state, incarnation, generation).
    [[nodiscard]] layout::ManagementTables* writable_tables();

    // Creator only: the guest's state and incarnation (issue 3's supervisor drives these).
    void set_guest_state(std::uint16_t guest_id, layout::GuestState state, bool new_incarnation);

    // Creator only: the guest's runtime fields (pid, restarts, last failure).
    void set_guest_runtime(std::uint16_t guest_id, const GuestRuntimeUpdate& update);

private:
    struct Impl;
    explicit Region(std::unique_ptr<Impl> impl);
    [[nodiscard]] static Result<Region> attach_as(std::vector<UniqueFd> fds, Identity who);
    std::unique_ptr<Impl> impl_;
};

// The environment a child needs to attach with `fds` as `who` (after the fds are made
// inheritable): {"NK_REGION_FDS=3,4,5", "NK_REGION_ROLE=guest:1"}.
[[nodiscard]] std::vector<std::string> export_env(std::span<const UniqueFd> fds, Identity who);

}  // namespace nk
