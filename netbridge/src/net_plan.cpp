#include "nk/netbridge/net_plan.hpp"

#include <charconv>

namespace nk::netbridge {
namespace {

bool linked(const PlatformConfig& config, std::string_view a, std::string_view b) {
    for (const LinkConfig& link : config.links)
        if ((link.first == a && link.second == b) || (link.first == b && link.second == a)) return true;
    return false;
}

std::vector<std::string_view> split(std::string_view text, char separator) {
    std::vector<std::string_view> parts;
    while (!text.empty()) {
        const auto at = text.find(separator);
        parts.push_back(text.substr(0, at));
        if (at == std::string_view::npos) break;
        text.remove_prefix(at + 1);
    }
    return parts;
}

template <typename Number>
bool parse_number(std::string_view text, Number& out) {
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc{} && end == text.data() + text.size() && !text.empty();
}

Error bad(std::string_view what) { return Error{RegionError::InvalidArgument, "netbridge plan: " + std::string(what)}; }

}  // namespace

Result<NetPlan> plan_for(const PlatformConfig& config, const GuestConfig& guest) {
    if (!guest.net.enabled)
        return fail(RegionError::InvalidArgument, "guest '" + guest.name + "' has no net table in " + config.source_file);
    NetPlan plan;
    plan.guest = guest.name;
    plan.guest_id = guest.id;
    plan.is_linux = guest.kind == GuestKind::Linux;
    plan.mtu = guest.net.mtu;
    plan.tun = guest.net.tun;
    plan.address = guest.net.address;
    plan.address6 = guest.net.address6;
    plan.forward = guest.net.forward;
    plan.outside = guest.net.outside;
    plan.outside_address = guest.net.outside_address;
    for (const GuestConfig& other : config.guests) {
        if (other.id == guest.id || !other.net.enabled || !linked(config, guest.name, other.name)) continue;
        NetPeer peer{other.name, other.id, other.kind == GuestKind::Linux, other.net.forward, {other.net.address}};
        if (other.net.address6) peer.subnets.push_back(*other.net.address6);
        if (other.net.outside_address) peer.subnets.push_back(*other.net.outside_address);
        plan.peers.push_back(std::move(peer));
    }
    return plan;
}

std::string encode(const NetPlan& plan) {
    std::string line = "self=" + plan.guest + ";id=" + std::to_string(plan.guest_id) +
                       ";kind=" + (plan.is_linux ? "linux" : "rt") + ";mtu=" + std::to_string(plan.mtu) +
                       ";tun=" + plan.tun + ";address=" + plan.address.text();
    if (plan.address6) line += ";address6=" + plan.address6->text();
    if (plan.forward) line += ";forward=1";
    if (!plan.outside.empty()) line += ";outside=" + plan.outside + ";outside_address=" + plan.outside_address->text();
    for (const NetPeer& peer : plan.peers) {
        line += ";peer=" + peer.guest + "," + std::to_string(peer.guest_id) + "," +
                (peer.gateway ? "gateway" : peer.is_linux ? "linux" : "rt");
        for (const IpPrefix& subnet : peer.subnets) line += "," + subnet.text();
    }
    return line;
}

Result<NetPlan> decode_plan(std::string_view line) {
    NetPlan plan;
    bool have_self = false, have_address = false;
    for (std::string_view field : split(line, ';')) {
        const auto eq = field.find('=');
        if (eq == std::string_view::npos) return fail(bad("field '" + std::string(field) + "' has no '='"));
        const std::string_view key = field.substr(0, eq), value = field.substr(eq + 1);
        if (key == "self") {
            plan.guest = std::string(value);
            have_self = !value.empty();
        } else if (key == "id") {
            if (!parse_number(value, plan.guest_id)) return fail(bad("id '" + std::string(value) + "' is not a number"));
        } else if (key == "kind") {
            if (value != "linux" && value != "rt") return fail(bad("kind '" + std::string(value) + "' is not linux or rt"));
            plan.is_linux = value == "linux";
        } else if (key == "mtu") {
            if (!parse_number(value, plan.mtu) || plan.mtu < 576 || plan.mtu > 65535)
                return fail(bad("mtu '" + std::string(value) + "' is not 576..65535"));
        } else if (key == "tun") {
            plan.tun = std::string(value);
        } else if (key == "address" || key == "address6" || key == "outside_address") {
            auto prefix = IpPrefix::parse(value);
            if (!prefix) return fail(bad(std::string(key) + " '" + std::string(value) + "' is not ADDRESS/LENGTH"));
            if (key == "address") {
                plan.address = *prefix;
                have_address = prefix->is_v4();
            } else if (key == "address6") {
                plan.address6 = *prefix;
            } else {
                plan.outside_address = *prefix;
            }
        } else if (key == "forward") {
            plan.forward = value == "1";
        } else if (key == "outside") {
            plan.outside = std::string(value);
        } else if (key == "peer") {
            const auto parts = split(value, ',');
            if (parts.size() < 4) return fail(bad("peer '" + std::string(value) + "' needs NAME,ID,KIND,PREFIX..."));
            NetPeer peer;
            peer.guest = std::string(parts[0]);
            if (!parse_number(parts[1], peer.guest_id)) return fail(bad("peer id '" + std::string(parts[1]) + "'"));
            if (parts[2] != "linux" && parts[2] != "rt" && parts[2] != "gateway")
                return fail(bad("peer kind '" + std::string(parts[2]) + "' is not linux, rt or gateway"));
            peer.is_linux = parts[2] != "rt";
            peer.gateway = parts[2] == "gateway";
            for (std::size_t i = 3; i < parts.size(); ++i) {
                auto prefix = IpPrefix::parse(parts[i]);
                if (!prefix) return fail(bad("peer subnet '" + std::string(parts[i]) + "' is not ADDRESS/LENGTH"));
                peer.subnets.push_back(*prefix);
            }
            plan.peers.push_back(std::move(peer));
        } else {
            return fail(bad("unknown field '" + std::string(key) + "'"));
        }
    }
    if (!have_self || !have_address) return fail(bad("needs self= and an IPv4 address="));
    return plan;
}

}  // namespace nk::netbridge
