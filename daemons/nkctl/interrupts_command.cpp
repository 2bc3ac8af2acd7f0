// nkctl interrupts: the static line table, every doorbell's pending bits and counters, and every
// guest's virtual timers, read through read-only mappings. Guest-written words are shown as they
// are (a hex mask, counters); nothing read here is followed as an index or offset.
#include <cstdio>

#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "format.hpp"
#include "nk/nanokernel/clock.hpp"
#include "nk/nanokernel/interrupts.hpp"
#include "nk/nanokernel/vtimer.hpp"

namespace nk::ctl {
namespace {

std::string hex(std::uint64_t mask) {
    char text[24];
    std::snprintf(text, sizeof text, "0x%016llx", static_cast<unsigned long long>(mask));
    return text;
}

struct Bell {
    std::string guest;   // who it rings
    std::string source;  // "nanokernel+self", a peer's name, or "to nkd"
    const layout::Doorbell* bell = nullptr;
};

std::vector<Bell> doorbells(const Region& region) {
    std::vector<Bell> out;
    for (const auto& g : region.guests()) {
        const AreaInfo* area = region.area(g.control_area);
        if (area == nullptr) continue;
        auto bytes = region.bytes(area->offset, sizeof(layout::ControlPage), false);
        if (!bytes) continue;
        const auto* page = reinterpret_cast<const layout::ControlPage*>(*bytes);
        out.push_back({g.name, "nanokernel+self", &page->inbox});
        out.push_back({g.name + " -> nkd", "", &page->to_nanokernel});
    }
    for (const auto& area : region.areas()) {
        if (area.kind != layout::AreaKind::Link) continue;
        auto bytes = region.bytes(area.offset, sizeof(layout::AreaHeader), false);
        if (!bytes) continue;
        const auto* header = reinterpret_cast<const layout::AreaHeader*>(*bytes);
        auto first = region.guest(area.owner_guest), second = region.guest(area.peer_guest);
        if (!first || !second) continue;
        out.push_back({first->name, second->name, &header->doorbells[0]});
        out.push_back({second->name, first->name, &header->doorbells[1]});
    }
    return out;
}

}  // namespace

int interrupts_command(const Target& target, bool json) {
    auto region = connect(target, Identity::observer());
    if (!region) {
        std::fprintf(stderr, "nkctl interrupts: %s\n", region.error().message.c_str());
        return 1;
    }
    const auto guests = region->guests();
    auto name_of = [&](std::uint16_t id) {
        for (const auto& g : guests)
            if (g.id == id) return g.name;
        return std::to_string(id);
    };

    nlohmann::json lines = nlohmann::json::array();
    Table line_table({"LINE", "NAME", "OWNER", "RAISERS", "CONFIG"});
    for (const auto& line : irq::lines(*region)) {
        std::vector<std::string> raisers;
        for (std::size_t i = 0; i < guests.size() && i < 32; ++i)
            if ((line.raiser_mask & (1U << i)) != 0) raisers.push_back(guests[i].name);
        std::string raiser_text;
        for (const auto& r : raisers) raiser_text += (raiser_text.empty() ? "" : ",") + r;
        const std::string where = std::string(region->config_file()) + ":" + std::to_string(line.source_line);
        lines.push_back({{"name", line.name}, {"owner", name_of(line.owner)}, {"line", line.line}, {"raisers", raisers},
                         {"config", where}});
        line_table.add({std::to_string(line.line), line.name, name_of(line.owner), raiser_text, where});
    }

    nlohmann::json bells = nlohmann::json::array();
    Table bell_table({"RINGS", "FROM", "PENDING", "RAISED", "WAITERS"});
    for (const auto& b : doorbells(*region)) {
        const std::uint64_t pending = layout::snapshot(b.bell->pending);
        bells.push_back({{"guest", b.guest}, {"from", b.source}, {"pending", hex(pending)}, {"raised", layout::snapshot(b.bell->raised)},
                         {"waiters", layout::snapshot(b.bell->waiters)}});
        bell_table.add({b.guest, b.source, hex(pending), std::to_string(layout::snapshot(b.bell->raised)),
                        std::to_string(layout::snapshot(b.bell->waiters))});
    }

    nlohmann::json timers = nlohmann::json::array();
    Table timer_table({"GUEST", "TIMER", "LINE", "PERIOD", "DELIVERY", "EXPIRATIONS", "LAST FIRED"});
    const std::uint64_t now = clock::monotonic_ns();
    for (const auto& g : guests) {
        for (unsigned t = 0; t < vtimer::kTimers; ++t) {
            auto state = vtimer::read(*region, g.id, t);
            if (!state || (!state->armed && state->expirations == 0)) continue;
            const std::string period = !state->armed ? "disarmed"
                                       : state->period_ns == 0 ? "one-shot"
                                                               : std::to_string(state->period_ns / 1000) + " us";
            const std::string last = state->last_fire_ns == 0 || state->last_fire_ns > now
                                         ? "-"
                                         : std::to_string((now - state->last_fire_ns) / 1'000'000) + " ms ago";
            // "direct": the owner's dispatcher counts the deadlines itself, the core only catches up.
            const char* delivery = state->direct ? "direct" : "raise";
            timers.push_back({{"guest", g.name}, {"timer", t}, {"line", irq::timer_line(t)}, {"armed", state->armed},
                              {"period_ns", state->period_ns}, {"delivery", delivery}, {"expirations", state->expirations},
                              {"last_fire_monotonic_ns", state->last_fire_ns}});
            timer_table.add({g.name, std::to_string(t), std::to_string(irq::timer_line(t)), period,
                             delivery, std::to_string(state->expirations), last});
        }
    }

    if (json) {
        std::printf("%s\n", nlohmann::json{{"lines", lines}, {"doorbells", bells}, {"timers", timers}}.dump(2).c_str());
        return 0;
    }
    std::printf("Configured lines (0-7 timers, 8 peer-down, 9 peer-up are every guest's own):\n%s",
                lines.empty() ? "(none)\n" : line_table.render().c_str());
    std::printf("\nDoorbells:\n%s", bell_table.render().c_str());
    std::printf("\nVirtual timers:\n%s", timers.empty() ? "(none armed)\n" : timer_table.render().c_str());
    return 0;
}

}  // namespace nk::ctl
