#include "nk/nanokernel/region_plan.hpp"

#include <string>

#include "nk/nanokernel/region_error.hpp"

namespace nk {
namespace {

std::uint64_t round_up(std::uint64_t value, std::uint64_t to) { return (value + to - 1) / to * to; }

std::string where(const SourceLocation& loc) {
    return loc.file + ":" + std::to_string(loc.line) + ": ";
}

std::string mib(std::uint64_t bytes) {
    return std::to_string(bytes / 1024) + " KiB";
}

}  // namespace

std::uint64_t area_data_offset(layout::AreaKind kind, std::uint64_t page_size) {
    switch (kind) {
        case layout::AreaKind::Management:
            return round_up(sizeof(layout::ManagementTables), page_size);
        case layout::AreaKind::Control:
            return round_up(sizeof(layout::ControlPage), page_size);
        default:
            return round_up(sizeof(layout::AreaHeader), page_size);
    }
}

Result<RegionPlan> plan_region(const PlatformConfig& config) {
    RegionPlan plan;
    plan.page_size = config.hugepages ? layout::kHugePage : layout::kSmallPage;
    const std::uint64_t page = plan.page_size;

    if (config.guests.size() > layout::kMaxGuests)
        return fail(RegionError::InvalidArgument, where(config.where) + "guests: at most " +
                                                       std::to_string(layout::kMaxGuests) + " guests");
    if (config.links.size() > layout::kMaxLinks)
        return fail(RegionError::InvalidArgument,
                    where(config.where) + "links: at most " + std::to_string(layout::kMaxLinks) + " links");

    std::uint64_t next = 0;
    // Adds one area; a data area must hold its header plus at least one page of objects.
    auto add = [&](layout::AreaKind kind, std::uint16_t owner, std::uint16_t peer, std::string label,
                   std::uint64_t asked, const SourceLocation& loc, std::string_view field) -> Result<void> {
        const std::uint64_t header = area_data_offset(kind, page);
        std::uint64_t size = asked;
        if (kind == layout::AreaKind::Management || kind == layout::AreaKind::Control) size = header;
        if (size % page != 0)
            return fail(RegionError::InvalidArgument,
                        where(loc) + std::string(field) + ": " + std::to_string(size) +
                            " bytes is not a multiple of the page size (" + mib(page) + ")");
        if (kind != layout::AreaKind::Management && kind != layout::AreaKind::Control && size < header + page)
            return fail(RegionError::InvalidArgument,
                        where(loc) + std::string(field) + ": " + mib(size) + " is too small for area '" +
                            label + "': it needs at least " + mib(header + page) +
                            " (its directory takes " + mib(header) + ")");
        plan.areas.push_back(AreaPlan{kind, owner, peer, std::move(label), next, size});
        next += size;
        return {};
    };

    if (auto r = add(layout::AreaKind::Management, 0, 0, "management", 0, config.where, "platform"); !r)
        return fail(r.error());
    for (const auto& guest : config.guests) {
        const auto id = guest.id;
        if (auto r = add(layout::AreaKind::Control, id, 0, guest.name + ".control", 0, guest.where, "guests"); !r)
            return fail(r.error());
        if (auto r = add(layout::AreaKind::Private, id, 0, guest.name + ".private", guest.memory_size, guest.where,
                         "memory");
            !r)
            return fail(r.error());
        if (auto r = add(layout::AreaKind::Pnv, id, 0, guest.name + ".pnv", guest.pnv_size, guest.where, "pnv_size");
            !r)
            return fail(r.error());
    }
    for (const auto& link : config.links) {
        const GuestConfig* first = config.find_guest(link.first);
        const GuestConfig* second = config.find_guest(link.second);
        if (first == nullptr || second == nullptr)
            return fail(RegionError::InvalidArgument, where(link.where) + "links: unknown guest");
        if (auto r = add(layout::AreaKind::Link, first->id, second->id, "link." + link.first + "-" + link.second,
                         link.size, link.where, "size");
            !r)
            return fail(r.error());
    }
    if (auto r = add(layout::AreaKind::Common, 0, 0, "common", config.common_size, config.where, "areas.common_size");
        !r)
        return fail(r.error());

    for (const auto& area : plan.areas) {
        if (area.label.size() >= layout::kNameCapacity)
            return fail(RegionError::InvalidArgument, where(config.where) + "area label '" + area.label +
                                                          "' is too long (guest names too long?)");
    }

    plan.region_size = next;
    if (config.region_size != 0) {
        if (config.region_size < next)
            return fail(RegionError::InvalidArgument,
                        where(config.where) + "platform.region_size: the areas need " + mib(next) +
                            " but region_size is " + mib(config.region_size));
        plan.region_size = round_up(config.region_size, page);
    }
    return plan;
}

}  // namespace nk
