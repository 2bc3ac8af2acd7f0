#include "nk/nanokernel/clock.hpp"
#include "nk/nanokernel/area_directory.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>

#include "nk/nanokernel/region_error.hpp"
#include "nk/nanokernel/region_validate.hpp"

// Ordering contract (see docs/ARCHITECTURE.md, "Directories"):
//  - Writers hold the area's exclusive lock. The lock's fcntl() is a full barrier between one
//    holder's last store and the next holder's first load, so stores inside a change can be
//    relaxed, except entry.state = Live, a release that pairs with the acquire load of state in
//    readers that hold only a shared lock taken before a hostile writer bypassed the lock.
//  - `dirty` is set before the first change and cleared after the last; a holder that finds it
//    set runs recover() before anything else.

namespace nk {
namespace {

using layout::DirectoryEntry;
using layout::EntryState;

std::uint64_t round_up(std::uint64_t value, std::uint64_t to) { return (value + to - 1) / to * to; }

EntryState load_state(DirectoryEntry& entry) {
    // pairs with the release store of Live in reserve()/create()
    return static_cast<EntryState>(layout::atomic(entry.state).load(std::memory_order_acquire));
}

void store_state(DirectoryEntry& entry, EntryState state) {
    // publishes the entry's fields; pairs with the acquire in load_state()
    layout::atomic(entry.state).store(static_cast<std::uint32_t>(state), std::memory_order_release);
}

}  // namespace

Result<void> validate_object_name(std::string_view name) {
    if (name.empty() || name.size() >= layout::kObjectNameCapacity)
        return fail(RegionError::InvalidArgument, "object name '" + std::string(name) + "' must be 1 to " +
                                                      std::to_string(layout::kObjectNameCapacity - 1) + " characters");
    for (const char c : name) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x21 || u > 0x7e || c == '/')
            return fail(RegionError::InvalidArgument,
                        "object name '" + std::string(name) + "' may hold only printable characters other than '/' and space");
    }
    return {};
}

AreaDirectory::AreaDirectory(std::byte* bytes, std::uint64_t area_size, std::uint16_t area_index,
                             const layout::AreaDescriptor& descriptor, std::uint64_t page_size, bool writable)
    : bytes_(bytes),
      area_size_(area_size),
      area_index_(area_index),
      descriptor_(descriptor),
      page_size_(page_size),
      writable_(writable) {}

layout::AreaHeader& AreaDirectory::header() const { return *reinterpret_cast<layout::AreaHeader*>(bytes_); }

Result<void> AreaDirectory::open() {
    if (area_size_ < sizeof(layout::AreaHeader) || descriptor_.size != area_size_)
        return fail(RegionError::Corrupt, "area is too small for a directory");
    // Copy the fixed part of the header, then validate the copy: the live one may change.
    layout::AreaHeader fixed;
    std::memcpy(static_cast<void*>(&fixed), bytes_, offsetof(layout::AreaHeader, entries));
    if (auto valid = validate_area_header(fixed, descriptor_, area_index_, page_size_); !valid) return valid;
    data_offset_ = fixed.data_offset;
    if (writable_ && layout::atomic(header().dirty).load(std::memory_order_relaxed) != 0) recover();
    return {};
}

bool AreaDirectory::entry_snapshot(std::uint32_t index, DirectoryEntry& out) const {
    auto& live = header().entries[index];
    const auto state = load_state(live);
    std::memcpy(static_cast<void*>(&out), &live, sizeof out);
    out.state = static_cast<std::uint32_t>(state);
    return validate_entry(out, area_size_, data_offset_, page_size_).has_value();
}

ObjectInfo AreaDirectory::info_of(const DirectoryEntry& entry) const {
    ObjectInfo info;
    info.name = std::string(bounded_name(entry.name, sizeof entry.name));
    info.kind = entry.kind;
    info.state = static_cast<EntryState>(entry.state);
    info.owner_guest = entry.owner_guest;
    info.owner_incarnation = entry.owner_incarnation;
    info.area = area_index_;
    info.area_offset = entry.offset;
    info.size = entry.size;
    info.created_unix_ns = entry.created_unix_ns;
    info.last_attach_unix_ns = entry.last_attach_unix_ns;
    info.attach_count = entry.attach_count;
    return info;
}

Result<ObjectInfo> AreaDirectory::find(std::string_view name) const {
    for (std::uint32_t i = 0; i < layout::kDirectoryEntries; ++i) {
        DirectoryEntry entry;
        if (!entry_snapshot(i, entry)) continue;  // corrupt: never followed
        if (static_cast<EntryState>(entry.state) != EntryState::Live) continue;
        if (bounded_name(entry.name, sizeof entry.name) == name) return info_of(entry);
    }
    return fail(RegionError::NotFound, "no object named '" + std::string(name) + "'");
}

std::vector<ObjectInfo> AreaDirectory::list() const {
    std::vector<ObjectInfo> out;
    for (std::uint32_t i = 0; i < layout::kDirectoryEntries; ++i) {
        DirectoryEntry entry;
        const bool valid = entry_snapshot(i, entry);
        const auto state = static_cast<EntryState>(entry.state);
        // Free and (valid) half-made entries are not objects; anything else that fails its
        // checks is listed as corrupt so the operator sees it, without following it.
        if (state == EntryState::Free || (valid && state == EntryState::Reserved)) continue;
        ObjectInfo info = valid ? info_of(entry) : ObjectInfo{};
        if (!valid) {
            info.name = "<corrupt entry " + std::to_string(i) + ">";
            info.area = area_index_;
        }
        info.state = valid ? state : EntryState::Quarantined;
        out.push_back(std::move(info));
    }
    return out;
}

AreaUsage AreaDirectory::usage() const {
    AreaUsage usage;
    usage.data_bytes = area_size_ - data_offset_;
    std::vector<std::pair<std::uint64_t, std::uint64_t>> extents;
    for (std::uint32_t i = 0; i < layout::kDirectoryEntries; ++i) {
        DirectoryEntry entry;
        const bool valid = entry_snapshot(i, entry);
        const auto state = static_cast<EntryState>(entry.state);
        if (state == EntryState::Quarantined) ++usage.entries_quarantined;
        if (state == EntryState::Free || !valid) continue;
        ++usage.entries_used;
        extents.emplace_back(entry.offset, entry.size);
    }
    std::sort(extents.begin(), extents.end());
    std::uint64_t cursor = data_offset_;
    for (const auto& [offset, size] : extents) {
        if (offset > cursor) usage.largest_free = std::max(usage.largest_free, offset - cursor);
        usage.used_bytes += size;
        cursor = std::max(cursor, offset + size);
    }
    if (area_size_ > cursor) usage.largest_free = std::max(usage.largest_free, area_size_ - cursor);
    usage.recoveries = layout::atomic(header().recoveries).load(std::memory_order_relaxed);
    return usage;
}

Result<std::uint64_t> AreaDirectory::find_gap(std::uint64_t size) const {
    // Every entry that is not free holds its extent, quarantined ones included (while their
    // bounds are still valid): space a corrupt entry claims is not handed out twice.
    std::vector<std::pair<std::uint64_t, std::uint64_t>> extents;
    for (std::uint32_t i = 0; i < layout::kDirectoryEntries; ++i) {
        DirectoryEntry entry;
        if (!entry_snapshot(i, entry)) continue;
        if (static_cast<EntryState>(entry.state) == EntryState::Free) continue;
        extents.emplace_back(entry.offset, entry.size);
    }
    std::sort(extents.begin(), extents.end());
    std::uint64_t cursor = data_offset_;
    for (const auto& [offset, extent_size] : extents) {
        if (offset >= cursor && offset - cursor >= size) return cursor;
        cursor = std::max(cursor, round_up(offset + extent_size, page_size_));
    }
    if (cursor <= area_size_ && area_size_ - cursor >= size) return cursor;
    return fail(RegionError::NoSpace, "no free extent of " + std::to_string(size >> 10) + " KiB in area '" +
                                          std::string(bounded_name(descriptor_.label, sizeof descriptor_.label)) +
                                          "' (largest is " + std::to_string(usage().largest_free >> 10) + " KiB)");
}

Result<std::uint32_t> AreaDirectory::free_slot() const {
    for (std::uint32_t i = 0; i < layout::kDirectoryEntries; ++i) {
        if (load_state(header().entries[i]) == EntryState::Free) return i;
    }
    return fail(RegionError::DirectoryFull, "the directory of area '" +
                                                std::string(bounded_name(descriptor_.label, sizeof descriptor_.label)) +
                                                "' has no free entry (" + std::to_string(layout::kDirectoryEntries) +
                                                " objects)");
}

void AreaDirectory::begin_change() {
    layout::atomic(header().dirty).store(1, std::memory_order_seq_cst);
}

void AreaDirectory::end_change() {
    layout::atomic(header().change_count).fetch_add(1, std::memory_order_relaxed);  // a statistic
    layout::atomic(header().dirty).store(0, std::memory_order_seq_cst);
}

Result<std::uint32_t> AreaDirectory::reserve(std::string_view name, layout::ObjectKind kind, std::uint64_t size,
                                             std::uint16_t owner_guest, std::uint32_t owner_incarnation) {
    if (!writable_) return fail(RegionError::AccessDenied, "the area is read-only in this process");
    if (auto valid = validate_object_name(name); !valid) return fail(std::move(valid.error()));
    if (size == 0) return fail(RegionError::InvalidArgument, "object '" + std::string(name) + "' needs a size above 0");
    if (size > area_size_) return fail(RegionError::NoSpace, "object '" + std::string(name) + "' is larger than its area");
    const std::uint64_t rounded = round_up(size, page_size_);
    // Names are unique within an area whatever the state: a reserved or quarantined name is taken.
    for (std::uint32_t i = 0; i < layout::kDirectoryEntries; ++i) {
        DirectoryEntry entry;
        if (!entry_snapshot(i, entry) || static_cast<EntryState>(entry.state) == EntryState::Free) continue;
        if (bounded_name(entry.name, sizeof entry.name) == name)
            return fail(RegionError::Exists, "an object named '" + std::string(name) + "' already exists");
    }
    auto slot = free_slot();
    if (!slot) return fail(std::move(slot.error()));
    auto offset = find_gap(rounded);
    if (!offset) return fail(std::move(offset.error()));

    begin_change();
    auto& entry = header().entries[*slot];
    store_state(entry, EntryState::Reserved);
    entry.kind = kind;
    entry.owner_guest = owner_guest;
    entry.owner_incarnation = owner_incarnation;
    entry.attach_count = 0;
    entry.offset = *offset;
    entry.size = rounded;
    entry.created_unix_ns = clock::unix_ns();
    entry.last_attach_unix_ns = entry.created_unix_ns;
    std::memset(entry.name, 0, sizeof entry.name);
    std::memcpy(entry.name, name.data(), name.size());
    return *slot;
}

Result<ObjectInfo> AreaDirectory::create(std::string_view name, layout::ObjectKind kind, std::uint64_t size,
                                         std::uint16_t owner_guest, std::uint32_t owner_incarnation) {
    auto slot = reserve(name, kind, size, owner_guest, owner_incarnation);
    if (!slot) return fail(std::move(slot.error()));
    auto& entry = header().entries[*slot];
    std::memset(bytes_ + entry.offset, 0, entry.size);
    store_state(entry, EntryState::Live);
    end_change();
    DirectoryEntry copy;
    std::memcpy(static_cast<void*>(&copy), &entry, sizeof copy);
    ObjectInfo info = info_of(copy);
    info.state = EntryState::Live;
    info.created_now = true;
    return info;
}

Result<ObjectInfo> AreaDirectory::attach_or_create(std::string_view name, layout::ObjectKind kind, std::uint64_t size,
                                                   std::uint16_t owner_guest, std::uint32_t owner_incarnation) {
    for (std::uint32_t i = 0; i < layout::kDirectoryEntries; ++i) {
        DirectoryEntry entry;
        if (!entry_snapshot(i, entry) || static_cast<EntryState>(entry.state) != EntryState::Live) continue;
        if (bounded_name(entry.name, sizeof entry.name) != name) continue;
        if (entry.kind != kind)
            return fail(RegionError::Exists, "'" + std::string(name) + "' exists as a " +
                                                 std::string(to_string(entry.kind)) + ", not a " +
                                                 std::string(to_string(kind)));
        if (round_up(size, page_size_) != entry.size)
            return fail(RegionError::SizeConflict, "'" + std::string(name) + "' exists with " +
                                                       std::to_string(entry.size) + " bytes; asked for " +
                                                       std::to_string(size) + " (free it first to change its size)");
        if (!writable_) return info_of(entry);
        auto& live = header().entries[i];
        live.attach_count = entry.attach_count + 1;
        live.last_attach_unix_ns = clock::unix_ns();
        live.owner_incarnation = owner_incarnation;
        entry.attach_count = live.attach_count;
        entry.last_attach_unix_ns = live.last_attach_unix_ns;
        entry.owner_incarnation = owner_incarnation;
        return info_of(entry);
    }
    return create(name, kind, size, owner_guest, owner_incarnation);
}

Result<void> AreaDirectory::remove(std::string_view name) {
    if (!writable_) return fail(RegionError::AccessDenied, "the area is read-only in this process");
    for (std::uint32_t i = 0; i < layout::kDirectoryEntries; ++i) {
        DirectoryEntry entry;
        const bool valid = entry_snapshot(i, entry);
        const auto state = static_cast<EntryState>(entry.state);
        if (state == EntryState::Free || !valid) continue;
        if (bounded_name(entry.name, sizeof entry.name) != name) continue;
        // One store frees it: a crash before it leaves the object, after it leaves nothing.
        begin_change();
        store_state(header().entries[i], EntryState::Free);
        end_change();
        return {};
    }
    return fail(RegionError::NotFound, "no object named '" + std::string(name) + "'");
}

void AreaDirectory::recover() {
    // The last holder died between begin_change() and end_change(). Roll back what it reserved,
    // and quarantine what no longer validates or overlaps an earlier live entry.
    std::vector<std::pair<std::uint64_t, std::uint64_t>> kept;
    std::uint64_t quarantined = 0;
    for (std::uint32_t i = 0; i < layout::kDirectoryEntries; ++i) {
        auto& live = header().entries[i];
        DirectoryEntry entry;
        const bool valid = entry_snapshot(i, entry);
        const auto state = static_cast<EntryState>(entry.state);
        if (state == EntryState::Free || state == EntryState::Quarantined) continue;
        if (state == EntryState::Reserved) {
            store_state(live, EntryState::Free);
            continue;
        }
        bool overlaps = false;
        for (const auto& [offset, size] : kept) overlaps |= entry.offset < offset + size && offset < entry.offset + entry.size;
        if (!valid || overlaps) {
            store_state(live, EntryState::Quarantined);
            ++quarantined;
            continue;
        }
        kept.emplace_back(entry.offset, entry.size);
    }
    layout::atomic(header().quarantined).fetch_add(quarantined, std::memory_order_relaxed);
    layout::atomic(header().recoveries).fetch_add(1, std::memory_order_relaxed);
    layout::atomic(header().dirty).store(0, std::memory_order_seq_cst);
}

Result<void> AreaDirectory::reserve_and_abandon_for_test(std::string_view name, std::uint64_t size) {
    auto slot = reserve(name, layout::ObjectKind::Segment, size, 0, 0);
    if (!slot) return fail(std::move(slot.error()));
    return {};
}

std::string_view to_string(layout::ObjectKind kind) {
    switch (kind) {
        case layout::ObjectKind::Segment: return "segment";
        case layout::ObjectKind::Pnv: return "pnv";
        case layout::ObjectKind::SpscRing: return "spsc-ring";
        case layout::ObjectKind::MpmcQueue: return "mpmc-queue";
        case layout::ObjectKind::MessageRing: return "message-ring";
        case layout::ObjectKind::Event: return "event";
        case layout::ObjectKind::Port: return "port";
    }
    return "unknown";
}

std::string_view to_string(layout::EntryState state) {
    switch (state) {
        case EntryState::Free: return "free";
        case EntryState::Reserved: return "reserved";
        case EntryState::Live: return "live";
        case EntryState::Quarantined: return "quarantined";
    }
    return "unknown";
}

}  // namespace nk
