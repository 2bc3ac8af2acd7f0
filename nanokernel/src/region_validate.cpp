#include "nk/nanokernel/region_validate.hpp"

#include <cstring>
#include <string>

#include "nk/nanokernel/platform_config.hpp"
#include "nk/nanokernel/region_error.hpp"

namespace nk {
namespace {

using layout::AreaKind;

bool aligned(std::uint64_t value, std::uint64_t to) { return value % to == 0; }

bool valid_area_kind(AreaKind kind) {
    const auto k = static_cast<std::uint16_t>(kind);
    return k >= static_cast<std::uint16_t>(AreaKind::Management) && k <= static_cast<std::uint16_t>(AreaKind::Common);
}

Result<void> corrupt(std::string message) { return fail(RegionError::Corrupt, std::move(message)); }

std::string area_ref(std::uint32_t index) { return "area table entry " + std::to_string(index); }

}  // namespace

std::string_view bounded_name(const char* field, std::size_t capacity) {
    const void* nul = std::memchr(field, '\0', capacity);
    if (nul == nullptr) return {};
    const auto length = static_cast<std::size_t>(static_cast<const char*>(nul) - field);
    for (std::size_t i = 0; i < length; ++i) {
        const auto c = static_cast<unsigned char>(field[i]);
        if (c < 0x20 || c > 0x7e) return {};
    }
    return {field, length};
}

Result<void> validate_tables(const layout::ManagementTables& tables, std::uint64_t file_size) {
    const auto& header = tables.header;
    if (header.magic != layout::kRegionMagic)
        return fail(RegionError::BadMagic, "not an nk region: the management area has no region magic");
    if (header.layout_version != layout::kLayoutVersion)
        return fail(RegionError::VersionMismatch,
                    "region layout version " + std::to_string(header.layout_version) + ", this build reads version " +
                        std::to_string(layout::kLayoutVersion) + ": restart the platform with this build");
    if (header.header_size != sizeof(layout::ManagementTables))
        return fail(RegionError::SizeMismatch, "management tables are " + std::to_string(header.header_size) +
                                                   " bytes, this build expects " +
                                                   std::to_string(sizeof(layout::ManagementTables)));
    if (header.page_size != layout::kSmallPage && header.page_size != layout::kHugePage)
        return corrupt("region page size " + std::to_string(header.page_size) + " is neither 4 KiB nor 2 MiB");
    const std::uint64_t page = header.page_size;
    if (header.region_size == 0 || !aligned(header.region_size, page) || header.region_size > (1ULL << 46))
        return fail(RegionError::SizeMismatch, "region size " + std::to_string(header.region_size) + " is not valid");
    if (bounded_name(header.platform_name, sizeof header.platform_name).empty())
        return corrupt("platform name is not a terminated printable string");
    if (std::memchr(header.config_file, '\0', sizeof header.config_file) == nullptr)
        return corrupt("config file name is not terminated");
    if (header.area_count == 0 || header.area_count > layout::kMaxAreas || header.guest_count > layout::kMaxGuests ||
        header.link_count > layout::kMaxLinks || header.rule_count > layout::kMaxAccessRules ||
        header.line_count > layout::kMaxInterruptLines)
        return corrupt("table counts out of range (areas " + std::to_string(header.area_count) + ", guests " +
                       std::to_string(header.guest_count) + ", links " + std::to_string(header.link_count) +
                       ", rules " + std::to_string(header.rule_count) + ")");

    // Areas: page-aligned, inside the region, in increasing order without overlap.
    std::uint64_t previous_end = 0;
    for (std::uint32_t i = 0; i < header.area_count; ++i) {
        const auto& area = tables.areas[i];
        if (!valid_area_kind(area.kind)) return corrupt(area_ref(i) + " has an unknown kind");
        if (bounded_name(area.label, sizeof area.label).empty())
            return corrupt(area_ref(i) + " has no terminated label");
        if (area.size == 0 || !aligned(area.offset, page) || !aligned(area.size, page))
            return corrupt(area_ref(i) + " is not page-aligned");
        if (area.offset < previous_end || area.offset > header.region_size ||
            area.size > header.region_size - area.offset)
            return corrupt(area_ref(i) + " overlaps another area or leaves the region");
        previous_end = area.offset + area.size;
        if ((i == 0) != (area.kind == AreaKind::Management))
            return corrupt("the management area must be area 0, and only area 0");
    }
    if (tables.areas[0].size != file_size)
        return fail(RegionError::SizeMismatch, "management area is " + std::to_string(file_size) +
                                                   " bytes but the table says " +
                                                   std::to_string(tables.areas[0].size));
    if (tables.areas[0].size < sizeof(layout::ManagementTables))
        return fail(RegionError::SizeMismatch, "management area is smaller than the tables");

    // Guests: unique ids and names; their three areas exist, have the right kind and owner.
    for (std::uint32_t g = 0; g < header.guest_count; ++g) {
        const auto& guest = tables.guests[g];
        const std::string ref = "guest table entry " + std::to_string(g);
        if (guest.id == layout::kNoGuest || guest.id > 254) return corrupt(ref + " has an invalid id");
        if (bounded_name(guest.name, sizeof guest.name).empty()) return corrupt(ref + " has no terminated name");
        if (guest.kind != static_cast<std::uint8_t>(GuestKind::Linux) && guest.kind != static_cast<std::uint8_t>(GuestKind::Rt))
            return corrupt(ref + " has an unknown kind");
        for (std::uint32_t other = 0; other < g; ++other) {
            if (tables.guests[other].id == guest.id ||
                std::strncmp(tables.guests[other].name, guest.name, sizeof guest.name) == 0)
                return corrupt(ref + " repeats the id or name of entry " + std::to_string(other));
        }
        // Readers of its PNV area: guests of the table, never itself (it holds the area anyway).
        if ((guest.pnv_readers >> header.guest_count) != 0 || ((guest.pnv_readers >> g) & 1U) != 0)
            return corrupt(ref + " lets guests that are not in the table, or itself, read its PNV area");
        const std::pair<std::uint16_t, AreaKind> owned[] = {
            {guest.control_area, AreaKind::Control}, {guest.private_area, AreaKind::Private}, {guest.pnv_area, AreaKind::Pnv}};
        for (const auto& [index, kind] : owned) {
            if (index >= header.area_count || tables.areas[index].kind != kind ||
                tables.areas[index].owner_guest != guest.id)
                return corrupt(ref + " points at a wrong area (" + std::to_string(index) + ")");
        }
    }
    // Every per-guest or link area names guests that exist.
    auto guest_exists = [&](std::uint16_t id) {
        for (std::uint32_t g = 0; g < header.guest_count; ++g)
            if (tables.guests[g].id == id) return true;
        return false;
    };
    for (std::uint32_t i = 0; i < header.area_count; ++i) {
        const auto& area = tables.areas[i];
        const bool per_guest = area.kind == AreaKind::Control || area.kind == AreaKind::Private || area.kind == AreaKind::Pnv;
        if ((per_guest || area.kind == AreaKind::Link) && !guest_exists(area.owner_guest))
            return corrupt(area_ref(i) + " belongs to an unknown guest");
        if (area.kind == AreaKind::Link && (!guest_exists(area.peer_guest) || area.peer_guest == area.owner_guest))
            return corrupt(area_ref(i) + " links an unknown guest");
        if (area.kind != AreaKind::Management && area.kind != AreaKind::Control &&
            area.size <= sizeof(layout::AreaHeader))
            return corrupt(area_ref(i) + " is too small for its directory");
    }
    for (std::uint32_t l = 0; l < header.link_count; ++l) {
        const auto& link = tables.links[l];
        if (link.area >= header.area_count || tables.areas[link.area].kind != AreaKind::Link ||
            tables.areas[link.area].owner_guest != link.first_guest ||
            tables.areas[link.area].peer_guest != link.second_guest)
            return corrupt("link table entry " + std::to_string(l) + " points at a wrong area");
    }
    for (std::uint32_t r = 0; r < header.rule_count; ++r) {
        const auto& rule = tables.rules[r];
        const std::string ref = "access rule " + std::to_string(r + 1);
        if (bounded_name(rule.objects, sizeof rule.objects).empty()) return corrupt(ref + " has no terminated pattern");
        if (rule.rights != static_cast<std::uint8_t>(Rights::None) && rule.rights != static_cast<std::uint8_t>(Rights::Read) &&
            rule.rights != static_cast<std::uint8_t>(Rights::ReadWrite))
            return corrupt(ref + " has unknown rights");
        if (header.guest_count < 32 && (rule.guest_mask >> header.guest_count) != 0)
            return corrupt(ref + " names guests that do not exist");
    }
    for (std::uint32_t i = 0; i < header.line_count; ++i) {
        const auto& line = tables.lines[i];
        const std::string ref = "interrupt line " + std::to_string(i);
        if (bounded_name(line.name, sizeof line.name).empty()) return corrupt(ref + " has no terminated name");
        if (!guest_exists(line.owner_guest)) return corrupt(ref + " belongs to no guest");
        if (line.line < layout::kFirstConfiguredLine || line.line >= layout::kLinesPerGuest)
            return corrupt(ref + " has number " + std::to_string(line.line));
        if (header.guest_count < 32 && (line.raiser_mask >> header.guest_count) != 0)
            return corrupt(ref + " names raisers that do not exist");
    }
    return {};
}

Result<void> validate_area_header(const layout::AreaHeader& header, const layout::AreaDescriptor& descriptor,
                                  std::uint16_t area_index, std::uint64_t page_size) {
    const std::string label = bounded_name(descriptor.label, sizeof descriptor.label).empty()
                                  ? "area " + std::to_string(area_index)
                                  : std::string(bounded_name(descriptor.label, sizeof descriptor.label));
    if (header.magic != layout::kAreaMagic)
        return fail(RegionError::BadMagic, "area '" + label + "' has no area magic: it was overwritten");
    if (header.layout_version != layout::kLayoutVersion)
        return fail(RegionError::VersionMismatch, "area '" + label + "' has layout version " +
                                                      std::to_string(header.layout_version));
    if (header.area != area_index || header.kind != descriptor.kind || header.area_size != descriptor.size)
        return fail(RegionError::Corrupt, "area '" + label + "' header disagrees with the partition map");
    if (header.entry_capacity != layout::kDirectoryEntries || header.data_offset < sizeof(layout::AreaHeader) ||
        header.data_offset % page_size != 0 || header.data_offset >= descriptor.size)
        return fail(RegionError::Corrupt, "area '" + label + "' directory header is damaged");
    return {};
}

Result<void> validate_entry(const layout::DirectoryEntry& entry, std::uint64_t area_size, std::uint64_t data_offset,
                            std::uint64_t page_size) {
    const auto state = static_cast<layout::EntryState>(entry.state);
    if (state == layout::EntryState::Free) return {};
    if (state != layout::EntryState::Reserved && state != layout::EntryState::Live &&
        state != layout::EntryState::Quarantined)
        return corrupt("directory entry has an unknown state " + std::to_string(entry.state));
    if (bounded_name(entry.name, sizeof entry.name).empty()) return corrupt("directory entry has no terminated name");
    const auto kind = static_cast<std::uint16_t>(entry.kind);
    if (kind < static_cast<std::uint16_t>(layout::ObjectKind::Segment) || kind > layout::kLastObjectKind)
        return corrupt("directory entry '" + std::string(entry.name) + "' has an unknown kind");
    if (entry.size == 0 || entry.offset < data_offset || entry.offset % page_size != 0 || entry.offset > area_size ||
        entry.size > area_size - entry.offset)
        return corrupt("directory entry '" + std::string(entry.name) + "' points outside its area");
    return {};
}

}  // namespace nk
