// nkctl queues, nkctl events and nkctl ports: every SPSC ring, MPMC queue, event variable and port in the link and common areas,
// read from their shared headers through read-only mappings. The headers are checked as the
// library checks them; a damaged one is listed as corrupt with the reason, never followed.
#include <cstdio>
#include <cstring>

#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "format.hpp"
#include "nk/ipc/event.hpp"
#include "nk/ipc/message_ring.hpp"
#include "nk/ipc/mpmc_queue.hpp"
#include "nk/ipc/spsc_ring.hpp"
#include "nk/ipc/port.hpp"
#include "nk/nanokernel/directory.hpp"

namespace nk::ctl {
namespace {

using ipc::EventHeader, ipc::PortHeader, ipc::MessageRingView, ipc::MessageRingStats;
using ipc::kEventMagic, ipc::kEventLayoutVersion, ipc::kPortMagic, ipc::kPortLayoutVersion;

struct Found {
    ObjectInfo object;
    std::string area;
    const std::byte* bytes = nullptr;  // the object, mapped read-only; null when not readable
};

// Every live object of `kind` in the areas the observer holds that hold shared objects.
std::vector<Found> objects_of(const Region& region, layout::ObjectKind kind) {
    std::vector<Found> out;
    for (const auto& area : region.areas()) {
        if (!area.mapped || (area.kind != layout::AreaKind::Link && area.kind != layout::AreaKind::Common)) continue;
        auto listed = Directory(region, area.index).list();
        if (!listed) continue;
        for (auto& object : *listed) {
            if (object.kind != kind || object.state != layout::EntryState::Live) continue;
            auto bytes = region.bytes(area.offset + object.area_offset, object.size, false);
            out.push_back({object, area.label, bytes ? *bytes : nullptr});
        }
    }
    return out;
}

std::string owner_name(const Region& region, std::uint16_t id) {
    if (id == 0) return "operator";
    auto g = region.guest(id);
    return g ? g->name : std::to_string(id);
}

// The event's problem, or "" when its header is sound.
std::string event_problem(const EventHeader& h) {
    if (layout::snapshot(h.magic) != kEventMagic) return "bad magic";
    if (h.layout_version != kEventLayoutVersion) return "layout version " + std::to_string(h.layout_version);
    if (h.mode != 1 && h.mode != 2) return "mode " + std::to_string(h.mode);
    if (layout::snapshot(h.state) > 1) return "state " + std::to_string(layout::snapshot(h.state));
    return {};
}

nlohmann::json event_json(const EventHeader& h) {
    return {{"mode", h.mode == 1 ? "auto-reset" : "manual-reset"}, {"set", layout::snapshot(h.state) == 1},
            {"waiters", layout::snapshot(h.waiters)},                            {"signals", layout::snapshot(h.signal_count)},
            {"broadcasts", layout::snapshot(h.broadcast_count)},                 {"wakeups", layout::snapshot(h.wakeup_count)},
            {"timeouts", layout::snapshot(h.timeout_count)}};
}

}  // namespace

int events_command(const Target& target, bool json) {
    auto region = connect(target, Identity::observer());
    if (!region) {
        std::fprintf(stderr, "nkctl events: %s\n", region.error().message.c_str());
        return 1;
    }
    nlohmann::json list = nlohmann::json::array();
    Table table({"NAME", "AREA", "OWNER", "MODE", "SET", "WAITERS", "SIGNALS", "BROADCASTS", "WAKEUPS", "TIMEOUTS"});
    for (const auto& f : objects_of(*region, layout::ObjectKind::Event)) {
        nlohmann::json item{{"name", f.object.name}, {"area", f.area}, {"owner", owner_name(*region, f.object.owner_guest)}};
        const std::string problem = f.bytes == nullptr || f.object.size < sizeof(EventHeader)
                                        ? "not readable"
                                        : event_problem(*reinterpret_cast<const EventHeader*>(f.bytes));
        if (!problem.empty()) {
            item["corrupt"] = problem;
            table.add({f.object.name, f.area, item["owner"], "corrupt: " + problem});
        } else {
            const auto& h = *reinterpret_cast<const EventHeader*>(f.bytes);
            item.update(event_json(h));
            table.add({f.object.name, f.area, item["owner"], item["mode"], item["set"] ? "yes" : "no",
                       std::to_string(layout::snapshot(h.waiters)), std::to_string(layout::snapshot(h.signal_count)),
                       std::to_string(layout::snapshot(h.broadcast_count)), std::to_string(layout::snapshot(h.wakeup_count)),
                       std::to_string(layout::snapshot(h.timeout_count))});
        }
        list.push_back(item);
    }
    if (json) std::printf("%s\n", list.dump(2).c_str());
    else if (list.empty()) std::printf("(no event variables)\n");
    else std::printf("%s", table.render().c_str());
    return 0;
}

int ports_command(const Target& target, bool json) {
    auto region = connect(target, Identity::observer());
    if (!region) {
        std::fprintf(stderr, "nkctl ports: %s\n", region.error().message.c_str());
        return 1;
    }
    nlohmann::json list = nlohmann::json::array();
    Table table({"NAME", "AREA", "OWNER", "STATE", "CAPACITY", "MAX MSG", "QUEUED", "SENT", "RECEIVED", "FULL",
                 "ABANDONED", "REFUSED DOWN"});
    for (const auto& f : objects_of(*region, layout::ObjectKind::Port)) {
        nlohmann::json item{{"name", f.object.name}, {"area", f.area}};
        std::string problem;
        PortHeader h{};
        if (f.bytes == nullptr || f.object.size < sizeof(PortHeader)) {
            problem = "not readable";
        } else {
            std::memcpy(static_cast<void*>(&h), f.bytes, sizeof h);  // read once, then checked
            if (h.magic != kPortMagic) problem = "bad magic";
            else if (h.layout_version != kPortLayoutVersion) problem = "layout version " + std::to_string(h.layout_version);
            else if (!MessageRingView::check_shape(h.capacity, h.max_message, f.object.name) ||
                     h.ring_offset != sizeof(PortHeader) + 2 * sizeof(EventHeader) ||
                     h.ring_offset + MessageRingView::bytes_for(h.capacity) > f.object.size)
                problem = "ring shape or offsets out of range";
        }
        std::optional<MessageRingStats> stats;
        if (problem.empty()) {
            // The ring is only read: stats() loads its counters.
            auto ring = MessageRingView::attach({const_cast<std::byte*>(f.bytes) + h.ring_offset,
                                                 MessageRingView::bytes_for(h.capacity)}, f.object.name);
            if (ring) stats = ring->stats();
            else problem = ring.error().message;
        }
        const std::string owner = problem.empty() ? owner_name(*region, h.owner_guest) : owner_name(*region, f.object.owner_guest);
        item["owner"] = owner;
        if (!problem.empty()) {
            item["corrupt"] = problem;
            table.add({f.object.name, f.area, owner, "corrupt: " + problem});
            list.push_back(item);
            continue;
        }
        auto guest = region->guest(h.owner_guest);
        const bool up = guest && guest->incarnation == h.owner_incarnation &&
                        guest->state != layout::GuestState::Down && guest->state != layout::GuestState::Stopped &&
                        guest->state != layout::GuestState::Restarting;
        item.update({{"owner_up", up},
                     {"capacity", h.capacity},
                     {"max_message", h.max_message},
                     {"queued_bytes", stats->used_bytes},
                     {"sent", layout::snapshot(reinterpret_cast<const PortHeader*>(f.bytes)->sent)},
                     {"received", stats->records},
                     {"full", stats->full},
                     {"abandoned", stats->abandoned},
                     {"refused_down", layout::snapshot(reinterpret_cast<const PortHeader*>(f.bytes)->refused_down)}});
        table.add({f.object.name, f.area, owner, up ? "up" : "owner down", human_size(h.capacity),
                   std::to_string(h.max_message), human_size(stats->used_bytes), item["sent"].dump(),
                   std::to_string(stats->records), std::to_string(stats->full), std::to_string(stats->abandoned),
                   item["refused_down"].dump()});
        list.push_back(item);
    }
    if (json) std::printf("%s\n", list.dump(2).c_str());
    else if (list.empty()) std::printf("(no ports)\n");
    else std::printf("%s", table.render().c_str());
    return 0;
}

int queues_command(const Target& target, bool json) {
    auto region = connect(target, Identity::observer());
    if (!region) {
        std::fprintf(stderr, "nkctl queues: %s\n", region.error().message.c_str());
        return 1;
    }
    nlohmann::json list = nlohmann::json::array();
    Table table({"NAME", "KIND", "AREA", "OWNER", "ITEM", "CAPACITY", "DEPTH", "FULL REFUSALS"});
    // SPSC rings and MPMC queues share their first line's shape (queue_support.hpp); the indices
    // are the producers' and consumers' counters on lines 1 and 2.
    auto add = [&](const Found& f, const char* kind, std::uint64_t magic, std::uint32_t version, std::uint64_t header_size,
                   std::size_t produced_at, std::size_t consumed_at, std::size_t full_at) {
        nlohmann::json item{{"name", f.object.name}, {"kind", kind}, {"area", f.area},
                            {"owner", owner_name(*region, f.object.owner_guest)}};
        std::string problem;
        if (f.bytes == nullptr || f.object.size < header_size) problem = "not readable";
        std::uint64_t seen_magic = 0;
        std::uint32_t layout_version = 0, item_size = 0, capacity = 0;
        if (problem.empty()) {
            std::memcpy(&seen_magic, f.bytes, 8);
            std::memcpy(&layout_version, f.bytes + 8, 4);
            std::memcpy(&item_size, f.bytes + 16, 4);
            std::memcpy(&capacity, f.bytes + 20, 4);
            if (seen_magic != magic) problem = "bad magic";
            else if (layout_version != version) problem = "layout version " + std::to_string(layout_version);
            else if (capacity == 0 || (capacity & (capacity - 1)) != 0) problem = "capacity " + std::to_string(capacity);
        }
        if (!problem.empty()) {
            item["corrupt"] = problem;
            table.add({f.object.name, kind, f.area, item["owner"], "corrupt: " + problem});
            list.push_back(item);
            return;
        }
        auto word = [&](std::size_t at) { return layout::snapshot(*reinterpret_cast<const std::uint64_t*>(f.bytes + at)); };
        const std::uint64_t produced = word(produced_at), consumed = word(consumed_at);
        // A scribbled index shows as a depth beyond the capacity: reported, not believed.
        const std::uint64_t depth = produced - consumed;
        item.update({{"item_size", item_size}, {"capacity", capacity}, {"depth", depth},
                     {"full_refusals", word(full_at)}, {"depth_in_range", depth <= capacity}});
        table.add({f.object.name, kind, f.area, item["owner"], std::to_string(item_size), std::to_string(capacity),
                   depth <= capacity ? std::to_string(depth) : "corrupt (" + std::to_string(depth) + ")",
                   std::to_string(word(full_at))});
        list.push_back(item);
    };
    for (const auto& f : objects_of(*region, layout::ObjectKind::SpscRing))
        add(f, "spsc-ring", ipc::kSpscRingMagic, ipc::kSpscRingLayoutVersion, sizeof(ipc::SpscRingHeader),
            offsetof(ipc::SpscRingHeader, head), offsetof(ipc::SpscRingHeader, tail),
            offsetof(ipc::SpscRingHeader, full_count));
    for (const auto& f : objects_of(*region, layout::ObjectKind::MpmcQueue))
        add(f, "mpmc-queue", ipc::kMpmcQueueMagic, ipc::kMpmcQueueLayoutVersion, sizeof(ipc::MpmcQueueHeader),
            offsetof(ipc::MpmcQueueHeader, enqueue_pos), offsetof(ipc::MpmcQueueHeader, dequeue_pos),
            offsetof(ipc::MpmcQueueHeader, full_count));
    if (json) std::printf("%s\n", list.dump(2).c_str());
    else if (list.empty()) std::printf("(no queues)\n");
    else std::printf("%s", table.render().c_str());
    return 0;
}

}  // namespace nk::ctl
