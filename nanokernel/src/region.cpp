#include "nk/nanokernel/clock.hpp"
#include "nk/nanokernel/region.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>

#include "nk/nanokernel/region_plan.hpp"
#include "nk/nanokernel/region_validate.hpp"
#include "nk/nanokernel/syscall.hpp"
#include "region_files.hpp"

namespace nk {
namespace {

using layout::AreaKind;

void copy_name(char* field, std::size_t capacity, std::string_view name) {
    std::memset(field, 0, capacity);
    std::memcpy(field, name.data(), std::min(name.size(), capacity - 1));
}

std::string basename_of(const std::string& path) {
    const auto slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

// How `who` may hold an area: not at all, read-only, or read-write.
enum class Hold { None, Read, Write };

// Whether the guest with id `reader` may read the PNV area of guest `owner` (it watches it).
bool reads_pnv_of(const layout::ManagementTables& t, std::uint16_t reader, std::uint16_t owner) {
    std::uint32_t reader_index = layout::kMaxGuests;
    for (std::uint32_t g = 0; g < t.header.guest_count && g < layout::kMaxGuests; ++g)
        if (t.guests[g].id == reader) reader_index = g;
    if (reader_index == layout::kMaxGuests) return false;
    for (std::uint32_t g = 0; g < t.header.guest_count && g < layout::kMaxGuests; ++g)
        if (t.guests[g].id == owner) return (t.guests[g].pnv_readers >> reader_index) & 1U;
    return false;
}

Hold hold_for(const Identity& who, const layout::AreaDescriptor& area, const layout::ManagementTables& tables) {
    switch (who.role) {
        case Role::Creator: return Hold::Write;
        case Role::Observer: return Hold::Read;
        case Role::Operator: return area.kind == AreaKind::Management ? Hold::Read : Hold::Write;
        case Role::Guest: break;
    }
    switch (area.kind) {
        case AreaKind::Management: return Hold::Read;
        case AreaKind::Common: return Hold::Write;
        // Every guest reads the others' control pages (their heartbeats and failure records, for
        // the watchdogs that watch each other: nk-watchdog); it writes only its own.
        case AreaKind::Control: return area.owner_guest == who.guest_id ? Hold::Write : Hold::Read;
        case AreaKind::Private: return area.owner_guest == who.guest_id ? Hold::Write : Hold::None;
        // A watcher reads the PNV area of the guests it watches: a failed peer's console tail.
        case AreaKind::Pnv:
            if (area.owner_guest == who.guest_id) return Hold::Write;
            return reads_pnv_of(tables, who.guest_id, area.owner_guest) ? Hold::Read : Hold::None;
        case AreaKind::Link:
            return area.owner_guest == who.guest_id || area.peer_guest == who.guest_id ? Hold::Write : Hold::None;
    }
    return Hold::None;
}

}  // namespace

struct Region::Impl {
    Identity who;
    layout::ManagementTables snapshot{};        // validated copy; static fields are read here
    layout::ManagementTables* live = nullptr;   // the mapping, for fields that change
    std::byte* base = nullptr;
    std::uint64_t reserved_size = 0;
    std::vector<AreaInfo> areas;
    std::vector<UniqueFd> fds;                  // by area index; empty where not held
    std::unique_ptr<std::mutex[]> mutexes;

    ~Impl() {
        if (base != nullptr) ::munmap(base, reserved_size);
    }

    // Reserves the region's address range and maps every held area into it.
    Result<void> map_areas(bool lock_memory) {
        reserved_size = snapshot.header.region_size;
        void* range = ::mmap(nullptr, reserved_size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (range == MAP_FAILED)
            return fail(RegionError::NoSpace, "cannot reserve " + std::to_string(reserved_size) +
                                                  " bytes of address space for the region: " + std::strerror(errno));
        base = static_cast<std::byte*>(range);
        for (auto& area : areas) {
            if (!area.mapped) continue;
            const int prot = area.writable ? PROT_READ | PROT_WRITE : PROT_READ;
            void* at = ::mmap(base + area.offset, area.size, prot, MAP_SHARED | MAP_FIXED | MAP_POPULATE,
                              fds[area.index].get(), 0);
            if (at == MAP_FAILED)
                return fail(Error{std::error_code(errno, std::system_category()),
                                  "cannot map area '" + area.label + "': " + std::strerror(errno)});
            if (lock_memory && ::mlock(at, area.size) != 0)
                return fail(Error{std::error_code(errno, std::system_category()),
                                  "cannot lock area '" + area.label + "' (" + std::to_string(area.size >> 10) +
                                      " KiB) in memory: " + std::strerror(errno) +
                                      "; raise RLIMIT_MEMLOCK (ulimit -l) or run with CAP_IPC_LOCK"});
        }
        live = reinterpret_cast<layout::ManagementTables*>(base);
        mutexes = std::make_unique<std::mutex[]>(areas.size());
        return {};
    }

    void build_area_infos(const Identity& identity) {
        areas.clear();
        for (std::uint16_t i = 0; i < snapshot.header.area_count; ++i) {
            const auto& d = snapshot.areas[i];
            const Hold hold = hold_for(identity, d, snapshot);
            areas.push_back(AreaInfo{i, d.kind, d.owner_guest, d.peer_guest,
                                     std::string(bounded_name(d.label, sizeof d.label)), d.offset, d.size,
                                     hold != Hold::None, hold == Hold::Write});
        }
    }
};

Region::Region(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Region::Region(Region&&) noexcept = default;
Region& Region::operator=(Region&&) noexcept = default;
Region::~Region() = default;

Result<Region> Region::create(const PlatformConfig& config) {
    auto plan = plan_region(config);
    if (!plan) return fail(std::move(plan.error()));

    auto impl = std::make_unique<Impl>();
    impl->who = Identity{Role::Creator, 0};
    auto& t = impl->snapshot;
    auto& h = t.header;
    h.magic = layout::kRegionMagic;
    h.layout_version = layout::kLayoutVersion;
    h.header_size = sizeof(layout::ManagementTables);
    h.region_size = plan->region_size;
    h.page_size = plan->page_size;
    h.created_unix_ns = clock::unix_ns();
    h.generation = 1;
    h.flags = (config.hugepages ? layout::kRegionFlagHugepages : 0U) | (config.lock_memory ? layout::kRegionFlagLocked : 0U);
    h.area_count = static_cast<std::uint32_t>(plan->areas.size());
    h.guest_count = static_cast<std::uint32_t>(config.guests.size());
    h.link_count = static_cast<std::uint32_t>(config.links.size());
    h.rule_count = static_cast<std::uint32_t>(std::min<std::size_t>(config.access.size(), layout::kMaxAccessRules));
    if (config.access.size() > layout::kMaxAccessRules)
        return fail(RegionError::InvalidArgument, config.source_file + ": at most " +
                                                      std::to_string(layout::kMaxAccessRules) + " access rules");
    copy_name(h.platform_name, sizeof h.platform_name, config.name);
    copy_name(h.config_file, sizeof h.config_file, basename_of(config.source_file));

    for (std::size_t i = 0; i < plan->areas.size(); ++i) {
        const auto& p = plan->areas[i];
        auto& d = t.areas[i];
        d.offset = p.offset;
        d.size = p.size;
        d.kind = p.kind;
        d.owner_guest = p.owner_guest;
        d.peer_guest = p.peer_guest;
        copy_name(d.label, sizeof d.label, p.label);
    }
    auto area_of = [&](AreaKind kind, std::uint16_t owner, std::uint16_t peer = 0) -> std::uint16_t {
        for (std::uint16_t i = 0; i < h.area_count; ++i)
            if (t.areas[i].kind == kind && t.areas[i].owner_guest == owner && t.areas[i].peer_guest == peer) return i;
        return 0;
    };
    std::uint32_t guest_bit_of_name[256] = {};
    for (std::size_t g = 0; g < config.guests.size(); ++g) {
        const auto& gc = config.guests[g];
        auto& e = t.guests[g];
        e.id = gc.id;
        e.kind = static_cast<std::uint8_t>(gc.kind);
        e.sched = static_cast<std::uint8_t>(gc.sched);
        e.priority = gc.priority;
        e.state = static_cast<std::uint32_t>(layout::GuestState::Configured);
        e.incarnation = 0;
        e.last_exit_status = -1;  // the rest of the runtime fields start at zero
        e.memory_size = gc.memory_size;
        for (auto cpu : gc.cpus)
            if (cpu < 256) e.cpu_mask[cpu / 64] |= 1ULL << (cpu % 64);
        e.control_area = area_of(AreaKind::Control, gc.id);
        e.private_area = area_of(AreaKind::Private, gc.id);
        e.pnv_area = area_of(AreaKind::Pnv, gc.id);
        copy_name(e.name, sizeof e.name, gc.name);
        guest_bit_of_name[gc.id] = 1U << g;
    }
    // Each watchdog reads the PNV areas of the guests it watches (their console tails).
    for (std::size_t g = 0; g < config.guests.size(); ++g) {
        if (!config.guests[g].watchdog.enabled) continue;
        for (const auto& name : config.guests[g].watchdog.watch)
            for (std::size_t w = 0; w < config.guests.size(); ++w)
                if (config.guests[w].name == name) t.guests[w].pnv_readers |= static_cast<std::uint16_t>(1U << g);
    }
    for (std::size_t l = 0; l < config.links.size(); ++l) {
        const auto* first = config.find_guest(config.links[l].first);
        const auto* second = config.find_guest(config.links[l].second);
        t.links[l] = layout::LinkEntry{first->id, second->id, area_of(AreaKind::Link, first->id, second->id), 0};
    }
    for (std::size_t r = 0; r < h.rule_count; ++r) {
        const auto& rc = config.access[r];
        auto& rule = t.rules[r];
        if (rc.objects.size() >= sizeof rule.objects)
            return fail(RegionError::InvalidArgument, rc.where.file + ":" + std::to_string(rc.where.line) +
                                                          ": access[" + std::to_string(r) + "].objects: pattern too long");
        copy_name(rule.objects, sizeof rule.objects, rc.objects);
        rule.rights = static_cast<std::uint8_t>(rc.rights);
        rule.source_line = rc.where.line;
        for (const auto& name : rc.guests) {
            if (name == "*") {
                rule.all_guests = 1;
            } else if (const auto* g = config.find_guest(name)) {
                rule.guest_mask |= guest_bit_of_name[g->id];
            }
        }
    }

    h.line_count = static_cast<std::uint32_t>(std::min<std::size_t>(config.interrupts.size(), layout::kMaxInterruptLines));
    for (std::size_t i = 0; i < h.line_count; ++i) {
        const auto& ic = config.interrupts[i];
        auto& line = t.lines[i];
        const auto* owner = config.find_guest(ic.owner);
        if (owner == nullptr || ic.line < layout::kFirstConfiguredLine || ic.line >= layout::kLinesPerGuest)
            return fail(RegionError::InvalidArgument, ic.where.file + ":" + std::to_string(ic.where.line) +
                                                          ": interrupts[" + std::to_string(i) + "]: not a valid line");
        line.owner_guest = owner->id;
        line.line = static_cast<std::uint8_t>(ic.line);
        line.source_line = ic.where.line;
        copy_name(line.name, sizeof line.name, ic.name);
        for (const auto& name : ic.raisers) {
            if (name == "*") {
                // Every guest that can reach the owner's doorbells: the owner and its linked peers.
                line.raiser_mask |= guest_bit_of_name[owner->id];
                for (const auto& link : config.links) {
                    if (link.first == ic.owner) line.raiser_mask |= guest_bit_of_name[config.find_guest(link.second)->id];
                    if (link.second == ic.owner) line.raiser_mask |= guest_bit_of_name[config.find_guest(link.first)->id];
                }
            } else if (const auto* g = config.find_guest(name)) {
                line.raiser_mask |= guest_bit_of_name[g->id];
            }
        }
    }

    // One memfd per area, sized, backed and sealed before anyone else sees it.
    impl->fds.resize(h.area_count);
    for (std::uint16_t i = 0; i < h.area_count; ++i) {
        auto fd = create_area_file(config.name, i, bounded_name(t.areas[i].label, sizeof t.areas[i].label),
                                   t.areas[i].size, config.hugepages);
        if (!fd) return fail(std::move(fd.error()));
        impl->fds[i] = std::move(*fd);
    }
    impl->build_area_infos(impl->who);
    if (auto mapped = impl->map_areas(config.lock_memory); !mapped) return fail(std::move(mapped.error()));

    // Fill the areas: tables first (nobody else holds a descriptor yet), then headers.
    std::memcpy(impl->live, &t, sizeof t);
    for (std::uint16_t i = 0; i < h.area_count; ++i) {
        std::byte* area = impl->base + t.areas[i].offset;
        if (t.areas[i].kind == AreaKind::Control) {
            auto* page = reinterpret_cast<layout::ControlPage*>(area);
            page->magic = layout::kControlMagic;
            page->guest_id = t.areas[i].owner_guest;
            page->area = i;
        } else if (t.areas[i].kind != AreaKind::Management) {
            auto* header = reinterpret_cast<layout::AreaHeader*>(area);
            header->magic = layout::kAreaMagic;
            header->layout_version = layout::kLayoutVersion;
            header->area = i;
            header->kind = t.areas[i].kind;
            header->area_size = t.areas[i].size;
            header->data_offset = area_data_offset(t.areas[i].kind, h.page_size);
            header->entry_capacity = layout::kDirectoryEntries;
        }
    }
    return Region(std::move(impl));
}

Result<Region> Region::attach(std::vector<UniqueFd> fds, Identity who) {
    if (who.role == Role::Creator)
        return fail(RegionError::InvalidArgument, "only Region::create makes a creator; attach as guest, operator or observer");
    return attach_as(std::move(fds), who);
}

Result<Region> Region::adopt(std::vector<UniqueFd> fds) { return attach_as(std::move(fds), Identity{Role::Creator, 0}); }

Result<Region> Region::attach_as(std::vector<UniqueFd> fds, Identity who) {
    auto files = identify_area_files(std::move(fds));
    if (!files) return fail(std::move(files.error()));

    auto impl = std::make_unique<Impl>();
    impl->who = who;
    auto management = std::find_if(files->begin(), files->end(), [](const AreaFile& f) { return f.index == 0; });
    if (management == files->end())
        return fail(RegionError::NotFound, "the descriptors given do not include the region's management area");
    auto snapshot = read_tables(management->fd.get());
    if (!snapshot) return fail(std::move(snapshot.error()));
    impl->snapshot = *snapshot;
    const auto& h = impl->snapshot.header;
    const std::string platform(bounded_name(h.platform_name, sizeof h.platform_name));

    if (who.role == Role::Guest) {
        bool known = false;
        for (std::uint32_t g = 0; g < h.guest_count; ++g) known |= impl->snapshot.guests[g].id == who.guest_id;
        if (!known)
            return fail(RegionError::NotFound, "platform '" + platform + "' has no guest with id " +
                                                   std::to_string(who.guest_id));
    }
    impl->build_area_infos(who);
    impl->fds.resize(h.area_count);
    for (auto& file : *files) {
        if (file.platform != platform)
            return fail(RegionError::InvalidArgument, "descriptor of area '" + file.label + "' belongs to platform '" +
                                                          file.platform + "', not '" + platform + "'");
        if (file.index >= h.area_count)
            return fail(RegionError::Corrupt, "descriptor names area " + std::to_string(file.index) +
                                                  ", which the partition map does not have");
        const auto& info = impl->areas[file.index];
        if (!info.mapped)
            return fail(RegionError::AccessDenied, "area '" + info.label + "' is not one that " +
                                                       std::string(to_string(who.role)) + " may hold");
        if (file.size != info.size)
            return fail(RegionError::SizeMismatch, "area '" + info.label + "' is " + std::to_string(file.size) +
                                                       " bytes but the partition map says " + std::to_string(info.size));
        if (info.writable && !file.writable)
            return fail(RegionError::AccessDenied, "area '" + info.label + "' was given read-only but " +
                                                       std::string(to_string(who.role)) + " needs it writable");
        impl->fds[file.index] = std::move(file.fd);
    }
    for (auto& info : impl->areas) {
        if (info.mapped && !impl->fds[info.index]) {
            // Links and the common area are optional for a guest: it maps what it was given.
            if (who.role == Role::Guest && (info.kind == AreaKind::Link || info.kind == AreaKind::Common)) {
                info.mapped = info.writable = false;
                continue;
            }
            return fail(RegionError::NotFound, "no descriptor was given for area '" + info.label + "'");
        }
    }
    if (auto mapped = impl->map_areas((h.flags & layout::kRegionFlagLocked) != 0); !mapped)
        return fail(std::move(mapped.error()));
    return Region(std::move(impl));
}

Result<Region> Region::attach_from_environment() {
    const char* fd_list = std::getenv("NK_REGION_FDS");
    const char* role = std::getenv("NK_REGION_ROLE");
    if (fd_list == nullptr || role == nullptr)
        return fail(RegionError::NotFound,
                    "NK_REGION_FDS and NK_REGION_ROLE are not set: this process was not started with a region");
    Identity who;
    const std::string_view role_text(role);
    if (role_text == "observer") {
        who = Identity::observer();
    } else if (role_text == "operator") {
        who = Identity::operator_();
    } else if (role_text.starts_with("guest:")) {
        unsigned id = 0;
        const auto digits = role_text.substr(6);
        auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), id);
        if (ec != std::errc{} || end != digits.data() + digits.size() || id == 0 || id > 254)
            return fail(RegionError::InvalidArgument, "NK_REGION_ROLE='" + std::string(role_text) + "' is not valid");
        who = Identity::guest(static_cast<std::uint16_t>(id));
    } else {
        return fail(RegionError::InvalidArgument, "NK_REGION_ROLE='" + std::string(role_text) +
                                                      "' is not one of guest:ID, observer, operator");
    }
    std::vector<UniqueFd> fds;
    std::string_view rest(fd_list);
    while (!rest.empty()) {
        const auto comma = rest.find(',');
        const auto item = rest.substr(0, comma);
        int fd = -1;
        auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), fd);
        if (ec != std::errc{} || end != item.data() + item.size() || fd < 0)
            return fail(RegionError::InvalidArgument, "NK_REGION_FDS='" + std::string(fd_list) + "' is not a list of descriptors");
        // Take a private open file description so this process's OFD locks are its own, then
        // drop the inherited one.
        auto own = reopen_fd(fd);
        if (!own) return fail(std::move(own.error()));
        ::close(fd);
        fds.push_back(std::move(*own));
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
    }
    return attach(std::move(fds), who);
}

const Identity& Region::identity() const { return impl_->who; }
std::string_view Region::platform_name() const {
    return bounded_name(impl_->snapshot.header.platform_name, sizeof impl_->snapshot.header.platform_name);
}
std::string_view Region::config_file() const {
    const auto& h = impl_->snapshot.header;
    return {h.config_file, strnlen(h.config_file, sizeof h.config_file)};
}
std::uint64_t Region::size() const { return impl_->snapshot.header.region_size; }
std::uint64_t Region::page_size() const { return impl_->snapshot.header.page_size; }
std::uint64_t Region::created_unix_ns() const { return impl_->snapshot.header.created_unix_ns; }
std::uint64_t Region::generation() const {
    return layout::atomic(impl_->live->header.generation).load(std::memory_order_acquire);  // pairs with the creator's release
}
bool Region::locked_in_memory() const { return (impl_->snapshot.header.flags & layout::kRegionFlagLocked) != 0; }
bool Region::hugepages() const { return (impl_->snapshot.header.flags & layout::kRegionFlagHugepages) != 0; }
const layout::ManagementTables& Region::tables() const { return impl_->snapshot; }
std::span<const AreaInfo> Region::areas() const { return impl_->areas; }

const AreaInfo* Region::area(std::uint16_t index) const {
    return index < impl_->areas.size() ? &impl_->areas[index] : nullptr;
}

const AreaInfo* Region::link_area(std::uint16_t guest_a, std::uint16_t guest_b) const {
    for (const auto& a : impl_->areas)
        if (a.kind == AreaKind::Link && a.involves(guest_a) && a.involves(guest_b) && guest_a != guest_b) return &a;
    return nullptr;
}

const AreaInfo* Region::common_area() const {
    for (const auto& a : impl_->areas)
        if (a.kind == AreaKind::Common) return &a;
    return nullptr;
}

std::vector<GuestInfo> Region::guests() const {
    std::vector<GuestInfo> out;
    for (std::uint32_t g = 0; g < impl_->snapshot.header.guest_count; ++g) {
        const auto& s = impl_->snapshot.guests[g];
        auto& live = impl_->live->guests[g];
        GuestInfo info;
        info.id = s.id;
        info.name = std::string(bounded_name(s.name, sizeof s.name));
        info.kind = static_cast<GuestKind>(s.kind);
        info.sched = static_cast<SchedClass>(s.sched);
        info.priority = s.priority;
        info.memory_size = s.memory_size;
        for (std::uint32_t cpu = 0; cpu < 256; ++cpu)
            if ((s.cpu_mask[cpu / 64] >> (cpu % 64)) & 1U) info.cpus.push_back(cpu);
        // state and incarnation change after creation: read them live (relaxed: each is a
        // self-contained status word; nothing else is published through them).
        const auto state = layout::atomic(live.state).load(std::memory_order_relaxed);
        info.state = state <= layout::kLastGuestState ? static_cast<layout::GuestState>(state) : layout::GuestState::Down;
        info.incarnation = layout::atomic(live.incarnation).load(std::memory_order_relaxed);
        // relaxed: status words for people and tools; each read stands on its own.
        info.init_pid = layout::atomic(live.init_pid).load(std::memory_order_relaxed);
        info.restarts = layout::atomic(live.restarts).load(std::memory_order_relaxed);
        info.started_unix_ns = layout::atomic(live.started_unix_ns).load(std::memory_order_relaxed);
        info.last_exit_status = layout::atomic(live.last_exit_status).load(std::memory_order_relaxed);
        const auto failure = layout::atomic(live.last_failure).load(std::memory_order_relaxed);
        info.last_failure = failure <= layout::kLastFailureKind ? static_cast<layout::FailureKind>(failure)
                                                                 : layout::FailureKind::None;
        info.last_failure_unix_ns = layout::atomic(live.last_failure_unix_ns).load(std::memory_order_relaxed);
        info.missed_heartbeats = layout::atomic(live.missed_heartbeats).load(std::memory_order_relaxed);
        info.detected_by = static_cast<std::uint16_t>(layout::atomic(live.detected_by).load(std::memory_order_relaxed));
        info.control_area = s.control_area;
        info.private_area = s.private_area;
        info.pnv_area = s.pnv_area;
        out.push_back(std::move(info));
    }
    return out;
}

std::optional<GuestInfo> Region::guest(std::uint16_t id) const {
    for (auto& g : guests())
        if (g.id == id) return g;
    return std::nullopt;
}

std::optional<GuestStatus> Region::guest_status(std::uint16_t id) const noexcept {
    for (std::uint32_t g = 0; g < impl_->snapshot.header.guest_count; ++g) {
        if (impl_->snapshot.guests[g].id != id) continue;
        auto& live = impl_->live->guests[g];
        // relaxed: as in guests(); each is a self-contained status word.
        const auto state = layout::atomic(live.state).load(std::memory_order_relaxed);
        return GuestStatus{state <= layout::kLastGuestState ? static_cast<layout::GuestState>(state)
                                                             : layout::GuestState::Down,
                           layout::atomic(live.incarnation).load(std::memory_order_relaxed)};
    }
    return std::nullopt;
}

std::optional<GuestInfo> Region::guest(std::string_view name) const {
    for (auto& g : guests())
        if (g.name == name) return g;
    return std::nullopt;
}

std::byte* Region::base() const { return impl_->base; }

Result<std::byte*> Region::bytes(std::uint64_t offset, std::uint64_t length, bool want_write) const {
    for (const auto& a : impl_->areas) {
        if (offset < a.offset || offset >= a.offset + a.size) continue;
        if (length > a.offset + a.size - offset)
            return fail(RegionError::Corrupt, "range at offset " + std::to_string(offset) + " (+" +
                                                  std::to_string(length) + ") runs past area '" + a.label + "'");
        if (!a.mapped)
            return fail(RegionError::NotMapped, "area '" + a.label + "' is not mapped in this process (" +
                                                    std::string(to_string(impl_->who.role)) + ")");
        if (want_write && !a.writable)
            return fail(RegionError::AccessDenied, "area '" + a.label + "' is read-only in this process");
        return impl_->base + offset;
    }
    return fail(RegionError::Corrupt, "offset " + std::to_string(offset) + " is outside the region");
}

int Region::area_fd(std::uint16_t index) const {
    return index < impl_->fds.size() && impl_->fds[index] ? impl_->fds[index].get() : -1;
}

std::mutex& Region::area_mutex(std::uint16_t index) const { return impl_->mutexes[index]; }

Result<std::vector<UniqueFd>> Region::export_fds(Identity who) const {
    if (impl_->who.role != Role::Creator)
        return fail(RegionError::AccessDenied, "only the region's creator hands out descriptors");
    if (who.role == Role::Creator) return fail(RegionError::InvalidArgument, "cannot export the creator role");
    std::vector<UniqueFd> out;
    for (std::uint16_t i = 0; i < impl_->snapshot.header.area_count; ++i) {
        const Hold hold = hold_for(who, impl_->snapshot.areas[i], impl_->snapshot);
        if (hold == Hold::None) continue;
        auto fd = reopen_fd(impl_->fds[i].get(), hold == Hold::Write ? O_RDWR : O_RDONLY);
        if (!fd) return fail(std::move(fd.error()));
        out.push_back(std::move(*fd));
    }
    return out;
}

layout::ManagementTables* Region::writable_tables() {
    return impl_->who.role == Role::Creator ? impl_->live : nullptr;
}

void Region::set_guest_state(std::uint16_t guest_id, layout::GuestState state, bool new_incarnation) {
    auto* t = writable_tables();
    if (t == nullptr) return;
    for (std::uint32_t g = 0; g < impl_->snapshot.header.guest_count; ++g) {
        if (t->guests[g].id != guest_id) continue;
        if (new_incarnation) layout::atomic(t->guests[g].incarnation).fetch_add(1, std::memory_order_relaxed);
        layout::atomic(t->guests[g].state).store(static_cast<std::uint32_t>(state), std::memory_order_relaxed);
        // publishes the change; pairs with the acquire in generation()
        layout::atomic(t->header.generation).fetch_add(1, std::memory_order_release);
    }
}

void Region::set_guest_runtime(std::uint16_t guest_id, const GuestRuntimeUpdate& update) {
    auto* t = writable_tables();
    if (t == nullptr) return;
    for (std::uint32_t g = 0; g < impl_->snapshot.header.guest_count; ++g) {
        auto& e = t->guests[g];
        if (e.id != guest_id) continue;
        // relaxed: status words; the generation bump below publishes them together.
        layout::atomic(e.init_pid).store(update.init_pid, std::memory_order_relaxed);
        if (update.count_restart) layout::atomic(e.restarts).fetch_add(1, std::memory_order_relaxed);
        if (update.started_unix_ns != 0)
            layout::atomic(e.started_unix_ns).store(update.started_unix_ns, std::memory_order_relaxed);
        if (update.exit_status) layout::atomic(e.last_exit_status).store(*update.exit_status, std::memory_order_relaxed);
        if (update.failure) {
            layout::atomic(e.last_failure).store(static_cast<std::uint32_t>(*update.failure), std::memory_order_relaxed);
            layout::atomic(e.last_failure_unix_ns).store(update.failure_unix_ns, std::memory_order_relaxed);
            layout::atomic(e.missed_heartbeats).store(update.missed_heartbeats, std::memory_order_relaxed);
            layout::atomic(e.detected_by).store(update.detected_by, std::memory_order_relaxed);
        }
        // publishes the change; pairs with the acquire in generation()
        layout::atomic(t->header.generation).fetch_add(1, std::memory_order_release);
    }
}

std::vector<std::string> export_env(std::span<const UniqueFd> fds, Identity who) {
    std::string list;
    for (const auto& fd : fds) {
        if (!list.empty()) list += ',';
        list += std::to_string(fd.get());
    }
    std::string role = who.role == Role::Guest ? "guest:" + std::to_string(who.guest_id) : std::string(to_string(who.role));
    return {"NK_REGION_FDS=" + list, "NK_REGION_ROLE=" + role};
}

std::string_view to_string(Role role) {
    switch (role) {
        case Role::Creator: return "creator";
        case Role::Operator: return "operator";
        case Role::Observer: return "observer";
        case Role::Guest: return "guest";
    }
    return "unknown";
}

std::string_view to_string(AreaKind kind) {
    switch (kind) {
        case AreaKind::Management: return "management";
        case AreaKind::Control: return "control";
        case AreaKind::Private: return "private";
        case AreaKind::Pnv: return "pnv";
        case AreaKind::Link: return "link";
        case AreaKind::Common: return "common";
    }
    return "unknown";
}

std::string_view to_string(layout::GuestState state) {
    switch (state) {
        case layout::GuestState::Configured: return "configured";
        case layout::GuestState::Starting: return "starting";
        case layout::GuestState::Running: return "running";
        case layout::GuestState::Down: return "down";
        case layout::GuestState::Restarting: return "restarting";
        case layout::GuestState::Stopped: return "stopped";
    }
    return "unknown";
}

std::string_view to_string(layout::FailureKind kind) {
    switch (kind) {
        case layout::FailureKind::None: return "none";
        case layout::FailureKind::Exited: return "exited";
        case layout::FailureKind::Killed: return "killed";
        case layout::FailureKind::Panic: return "panic";
        case layout::FailureKind::Heartbeat: return "heartbeat";
        case layout::FailureKind::CleanExit: return "clean-exit";
        case layout::FailureKind::Stopped: return "stopped";
    }
    return "unknown";
}

}  // namespace nk
