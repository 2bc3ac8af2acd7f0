// nkctl net: every guest's place on the netbridge (address, stack) and each of its routes'
// counters, read from the stats table its router or lwIP netif keeps in the region
// (net_stats.hpp). The tables are guest-written: read_net_stats() checks them, and a damaged one
// is listed as such.
#include <cstdio>

#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "format.hpp"
#include "nk/netbridge/net_stats.hpp"

namespace nk::ctl {

int net_command(const Target& target, bool json) {
    auto region = connect(target, Identity::observer());
    if (!region) {
        std::fprintf(stderr, "nkctl net: %s\n", region.error().message.c_str());
        return 1;
    }
    const auto guests = region->guests();
    auto name_of = [&](std::uint16_t id) {
        for (const auto& g : guests)
            if (g.id == id) return g.name;
        return "guest " + std::to_string(id);
    };
    nlohmann::json out = nlohmann::json::array();
    Table guest_table({"GUEST", "STATE", "STACK", "ADDRESS", "ADDRESS6", "NO ROUTE", "MALFORMED", "ICMP SENT", "ERRORS"});
    Table route_table({"FROM", "TO", "TX PKTS", "TX BYTES", "RX PKTS", "RX BYTES", "DOWN", "FULL", "TOO LARGE", "SEGMENTED"});
    for (const auto& g : guests) {
        nlohmann::json entry{{"guest", g.name}, {"id", g.id}, {"state", std::string(to_string(g.state))}};
        auto stats = netbridge::read_net_stats(*region, g.name);
        if (!stats) {
            const bool absent = stats.error().code == make_error_code(RegionError::NotFound);
            entry["netbridge"] = absent ? "none" : "corrupt";
            if (!absent) entry["error"] = stats.error().message;
            entry["address"] = nullptr;
            entry["routes"] = nlohmann::json::array();
            out.push_back(entry);
            guest_table.add({g.name, std::string(to_string(g.state)), absent ? "-" : "corrupt", "-", "-", "-", "-", "-", "-"});
            continue;
        }
        const std::string stack = stats->header.is_linux ? "tun " + stats->interface : "lwip";
        entry["netbridge"] = stats->header.is_linux ? "tun" : "lwip";
        entry["interface"] = stats->interface;
        entry["address"] = stats->address ? nlohmann::json(stats->address->text()) : nlohmann::json(nullptr);
        entry["address6"] = stats->address6 ? nlohmann::json(stats->address6->text()) : nlohmann::json(nullptr);
        entry["no_route"] = stats->header.no_route;
        entry["malformed"] = stats->header.malformed;
        entry["icmp_sent"] = stats->header.icmp_sent;
        entry["local_errors"] = stats->header.local_errors;
        nlohmann::json routes = nlohmann::json::array();
        for (const auto& r : stats->routes) {
            routes.push_back({{"to", name_of(r.guest_id)}, {"tx_packets", r.tx_packets}, {"tx_bytes", r.tx_bytes},
                              {"rx_packets", r.rx_packets}, {"rx_bytes", r.rx_bytes},
                              {"drops", {{"peer_down", r.drop_peer_down}, {"full", r.drop_full}, {"too_large", r.drop_too_large}}},
                              {"segmented", r.segmented}});
            route_table.add({g.name, name_of(r.guest_id), std::to_string(r.tx_packets), std::to_string(r.tx_bytes),
                             std::to_string(r.rx_packets), std::to_string(r.rx_bytes), std::to_string(r.drop_peer_down),
                             std::to_string(r.drop_full), std::to_string(r.drop_too_large), std::to_string(r.segmented)});
        }
        entry["routes"] = routes;
        out.push_back(entry);
        guest_table.add({g.name, std::string(to_string(g.state)), stack, stats->address ? stats->address->text() : "-",
                         stats->address6 ? stats->address6->text() : "-", std::to_string(stats->header.no_route),
                         std::to_string(stats->header.malformed), std::to_string(stats->header.icmp_sent),
                         std::to_string(stats->header.local_errors)});
    }
    if (json) {
        std::printf("%s\n", out.dump(2).c_str());
        return 0;
    }
    std::printf("%s\n%s", guest_table.render().c_str(), route_table.render().c_str());
    return 0;
}

}  // namespace nk::ctl
