#include <cstdio>

#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "format.hpp"
#include "nk/ipc/pnv.hpp"
#include "nk/ipc/segment.hpp"

namespace nk::ctl {
namespace {

std::string guest_name(const Region& region, std::uint16_t id) {
    if (id == 0) return "operator";
    auto g = region.guest(id);
    return g ? g->name : std::to_string(id);
}

nlohmann::json object_json(const Region& region, const ObjectInfo& o, std::uint64_t region_offset) {
    return {{"name", o.name},
            {"kind", to_string(o.kind)},
            {"state", to_string(o.state)},
            {"owner", guest_name(region, o.owner_guest)},
            {"owner_incarnation", o.owner_incarnation},
            {"offset", region_offset},
            {"size", o.size},
            {"created", iso_time(o.created_unix_ns)},
            {"last_attach", iso_time(o.last_attach_unix_ns)},
            {"attach_count", o.attach_count}};
}

}  // namespace

int segments_command(const Target& target, bool json) {
    auto region = connect(target, Identity::observer());
    if (!region) {
        std::fprintf(stderr, "nkctl segments: %s\n", region.error().message.c_str());
        return 1;
    }
    auto segments = ipc::Segment::list(*region);
    if (!segments) {
        std::fprintf(stderr, "nkctl segments: %s\n", segments.error().message.c_str());
        return 1;
    }
    if (json) {
        nlohmann::json out = nlohmann::json::array();
        for (const auto& s : *segments) {
            auto item = object_json(*region, s.object, s.region_offset);
            item["area"] = s.area_label;
            out.push_back(item);
        }
        std::printf("%s\n", out.dump(2).c_str());
        return 0;
    }
    Table table({"NAME", "AREA", "OWNER", "OFFSET", "SIZE", "STATE", "CREATED"});
    for (const auto& s : *segments)
        table.add({s.object.name, s.area_label, guest_name(*region, s.object.owner_guest), hex_offset(s.region_offset),
                   human_size(s.object.size), std::string(to_string(s.object.state)), iso_time(s.object.created_unix_ns)});
    std::printf("%s", table.render().c_str());
    if (segments->empty()) std::printf("(no segments)\n");
    return 0;
}

int pnv_list_command(const Target& target, bool json) {
    auto region = connect(target, Identity::observer());
    if (!region) {
        std::fprintf(stderr, "nkctl pnv: %s\n", region.error().message.c_str());
        return 1;
    }
    auto listing = pnv::list(*region);
    if (!listing) {
        std::fprintf(stderr, "nkctl pnv: %s\n", listing.error().message.c_str());
        return 1;
    }
    if (json) {
        nlohmann::json out = nlohmann::json::array();
        for (const auto& l : *listing) {
            auto item = object_json(*region, l.object, l.region_offset);
            item["guest"] = l.guest;
            out.push_back(item);
        }
        std::printf("%s\n", out.dump(2).c_str());
        return 0;
    }
    Table table({"GUEST", "ID", "OFFSET", "SIZE", "ATTACHES", "INCARNATION", "LAST ATTACH", "STATE"});
    for (const auto& l : *listing)
        table.add({l.guest, l.object.name, hex_offset(l.region_offset), human_size(l.object.size),
                   std::to_string(l.object.attach_count), std::to_string(l.object.owner_incarnation),
                   iso_time(l.object.last_attach_unix_ns), std::string(to_string(l.object.state))});
    std::printf("%s", table.render().c_str());
    if (listing->empty()) std::printf("(no PNV allocations)\n");
    return 0;
}

int pnv_free_command(const Target& target, const std::string& guest, const std::string& id) {
    auto region = connect(target, Identity::operator_());
    if (!region) {
        std::fprintf(stderr, "nkctl pnv free: %s\n", region.error().message.c_str());
        return 1;
    }
    if (auto freed = pnv::free(*region, guest, id); !freed) {
        std::fprintf(stderr, "nkctl pnv free: %s's '%s': %s\n", guest.c_str(), id.c_str(), freed.error().message.c_str());
        return 1;
    }
    std::printf("freed PNV allocation '%s' of guest '%s'\n", id.c_str(), guest.c_str());
    return 0;
}

}  // namespace nk::ctl
