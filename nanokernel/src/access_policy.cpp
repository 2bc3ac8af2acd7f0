#include "nk/nanokernel/access_policy.hpp"

#include <fnmatch.h>

#include <string>

#include "nk/nanokernel/region_validate.hpp"

namespace nk {
namespace {

std::string_view wanted_text(Rights rights) { return rights == Rights::ReadWrite ? "write" : "read"; }

}  // namespace

Result<void> check_access(const Region& region, std::string_view object, Rights wanted) {
    const Identity& who = region.identity();
    if (who.role == Role::Creator || who.role == Role::Operator) return {};
    if (who.role == Role::Observer) {
        if (wanted == Rights::Read) return {};
        return fail(RegionError::AccessDenied, "an observer may only read '" + std::string(object) + "'");
    }
    const auto& tables = region.tables();
    std::uint32_t guest_bit = 0;
    std::string guest_name;
    for (std::uint32_t g = 0; g < tables.header.guest_count; ++g) {
        if (tables.guests[g].id != who.guest_id) continue;
        guest_bit = 1U << g;
        guest_name = std::string(bounded_name(tables.guests[g].name, sizeof tables.guests[g].name));
    }
    const std::string file(region.config_file());
    const std::string object_text(object);
    for (std::uint32_t r = 0; r < tables.header.rule_count; ++r) {
        const auto& rule = tables.rules[r];
        if (rule.all_guests == 0 && (rule.guest_mask & guest_bit) == 0) continue;
        const std::string pattern(bounded_name(rule.objects, sizeof rule.objects));
        if (::fnmatch(pattern.c_str(), object_text.c_str(), 0) != 0) continue;
        const auto granted = static_cast<std::uint8_t>(rule.rights);
        const auto need = static_cast<std::uint8_t>(wanted);
        if ((granted & need) == need) return {};
        return fail(RegionError::AccessDenied,
                    "guest '" + guest_name + "' may not " + std::string(wanted_text(wanted)) + " '" + object_text +
                        "': refused by access rule " + std::to_string(r + 1) + " (" + file + ":" +
                        std::to_string(rule.source_line) + ": objects = \"" + pattern + "\", rights = \"" +
                        std::string(to_string(static_cast<Rights>(rule.rights))) + "\")");
    }
    return fail(RegionError::AccessDenied, "guest '" + guest_name + "' may not " + std::string(wanted_text(wanted)) +
                                               " '" + object_text + "': no access rule in " + file +
                                               " grants it (rules are tried in order; none matched)");
}

}  // namespace nk
