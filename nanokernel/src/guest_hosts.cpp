#include "nk/nanokernel/guest_hosts.hpp"

namespace nk {
namespace {

std::string names_of(const GuestConfig& g) {
    return g.hostname.empty() || g.hostname == g.name ? g.name : g.name + " " + g.hostname;
}

void add_addresses(const GuestConfig& g, std::vector<std::string>& lines) {
    lines.push_back(g.net.address.address_text() + " " + names_of(g));
    if (g.net.address6) lines.push_back(g.net.address6->address_text() + " " + names_of(g));
}

}  // namespace

std::vector<std::string> guest_hosts_lines(const PlatformConfig& config, const GuestConfig& self) {
    std::vector<std::string> lines;
    if (self.net.enabled)
        add_addresses(self, lines);
    else
        lines.push_back("127.0.1.1 " + names_of(self));
    for (const auto& g : config.guests)
        if (g.name != self.name && g.net.enabled) add_addresses(g, lines);
    return lines;
}

}  // namespace nk
