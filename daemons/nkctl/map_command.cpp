#include <cstdio>

#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "format.hpp"
#include "nk/nanokernel/directory.hpp"

namespace nk::ctl {
namespace {

std::string owner_text(const Region& region, const AreaInfo& area) {
    auto name = [&](std::uint16_t id) {
        auto g = region.guest(id);
        return g ? g->name : std::to_string(id);
    };
    switch (area.kind) {
        case layout::AreaKind::Management: return "nkd";
        case layout::AreaKind::Common: return "all";
        case layout::AreaKind::Link: return name(area.owner_guest) + "+" + name(area.peer_guest);
        default: return name(area.owner_guest);
    }
}

}  // namespace

int map_command(const Target& target, bool json) {
    auto region = connect(target, Identity::observer());
    if (!region) {
        std::fprintf(stderr, "nkctl map: %s\n", region.error().message.c_str());
        return 1;
    }
    nlohmann::json areas = nlohmann::json::array();
    Table table({"AREA", "LABEL", "KIND", "OWNER", "OFFSET", "SIZE", "OBJECTS", "USED"});
    for (const auto& area : region->areas()) {
        std::string objects = "-", used = "-";
        nlohmann::json entry = {{"index", area.index},          {"label", area.label},
                                {"kind", to_string(area.kind)}, {"owner", owner_text(*region, area)},
                                {"offset", area.offset},        {"size", area.size}};
        if (area.kind != layout::AreaKind::Management && area.kind != layout::AreaKind::Control) {
            auto usage = Directory(*region, area.index).usage();
            if (usage) {
                objects = std::to_string(usage->entries_used);
                used = human_size(usage->used_bytes);
                entry["objects"] = usage->entries_used;
                entry["used"] = usage->used_bytes;
                entry["largest_free"] = usage->largest_free;
                entry["quarantined"] = usage->entries_quarantined;
                entry["recoveries"] = usage->recoveries;
            } else {
                objects = "damaged";
                entry["error"] = usage.error().message;
            }
        }
        table.add({std::to_string(area.index), area.label, std::string(to_string(area.kind)), owner_text(*region, area),
                   hex_offset(area.offset), human_size(area.size), objects, used});
        areas.push_back(entry);
    }
    nlohmann::json guests = nlohmann::json::array();
    Table guest_table({"ID", "NAME", "KIND", "SCHED", "PRIO", "CPUS", "MEMORY", "STATE", "INCARNATION"});
    for (const auto& g : region->guests()) {
        guest_table.add({std::to_string(g.id), g.name, std::string(to_string(g.kind)), std::string(to_string(g.sched)),
                         std::to_string(g.priority), cpu_list_text(g.cpus), human_size(g.memory_size),
                         std::string(to_string(g.state)), std::to_string(g.incarnation)});
        guests.push_back({{"id", g.id},
                          {"name", g.name},
                          {"kind", to_string(g.kind)},
                          {"sched", to_string(g.sched)},
                          {"priority", g.priority},
                          {"cpus", g.cpus},
                          {"memory", g.memory_size},
                          {"state", to_string(g.state)},
                          {"incarnation", g.incarnation}});
    }
    if (json) {
        nlohmann::json out = {{"platform", region->platform_name()},
                              {"layout_version", layout::kLayoutVersion},
                              {"region_size", region->size()},
                              {"page_size", region->page_size()},
                              {"hugepages", region->hugepages()},
                              {"locked", region->locked_in_memory()},
                              {"generation", region->generation()},
                              {"created", iso_time(region->created_unix_ns())},
                              {"config_file", region->config_file()},
                              {"areas", areas},
                              {"guests", guests}};
        std::printf("%s\n", out.dump(2).c_str());
        return 0;
    }
    std::printf("platform %s: region %s in %zu areas, %s pages%s%s, layout v%u, generation %llu, created %s from %s\n\n",
                std::string(region->platform_name()).c_str(), human_size(region->size()).c_str(),
                region->areas().size(), human_size(region->page_size()).c_str(),
                region->hugepages() ? " (huge)" : "", region->locked_in_memory() ? ", locked" : "",
                layout::kLayoutVersion, static_cast<unsigned long long>(region->generation()),
                iso_time(region->created_unix_ns()).c_str(), std::string(region->config_file()).c_str());
    std::printf("%s\n%s", table.render().c_str(), guest_table.render().c_str());
    return 0;
}

}  // namespace nk::ctl
