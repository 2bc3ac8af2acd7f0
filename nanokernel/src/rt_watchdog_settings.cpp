// RtWatchdogSettings (rt_watchdog_settings.hpp): the NK_WATCHDOG line, written by nkd, read by the rt guest.
#include "nk/nanokernel/rt_watchdog_settings.hpp"

#include <charconv>

#include "nk/nanokernel/region_error.hpp"

namespace nk {
namespace {

Result<long> number(std::string_view text, std::string_view key, long low, long high) {
    long value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size() || value < low || value > high)
        return fail(RegionError::InvalidArgument, std::string(kRtWatchdogEnv) + ": " + std::string(key) + "=" +
                                                      std::string(text) + " is not a number in " + std::to_string(low) +
                                                      ".." + std::to_string(high));
    return value;
}

}  // namespace

std::string encode(const RtWatchdogSettings& settings) {
    std::string text = "period_ms=" + std::to_string(settings.period.count()) +
                       ";priority=" + std::to_string(settings.priority) + ";watch=";
    for (std::size_t i = 0; i < settings.watch.size(); ++i) text += (i == 0 ? "" : ",") + settings.watch[i];
    return text;
}

Result<RtWatchdogSettings> decode_rt_watchdog(std::string_view text) {
    RtWatchdogSettings settings;
    while (!text.empty()) {
        const auto end = text.find(';');
        const std::string_view field = text.substr(0, end);
        text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
        const auto eq = field.find('=');
        if (eq == std::string_view::npos)
            return fail(RegionError::InvalidArgument,
                        std::string(kRtWatchdogEnv) + ": '" + std::string(field) + "' is not key=value");
        const std::string_view key = field.substr(0, eq), value = field.substr(eq + 1);
        if (key == "period_ms") {
            auto period = number(value, key, 1, 60000);
            if (!period) return fail(std::move(period.error()));
            settings.period = std::chrono::milliseconds(*period);
        } else if (key == "priority") {
            auto priority = number(value, key, 1, 99);
            if (!priority) return fail(std::move(priority.error()));
            settings.priority = static_cast<int>(*priority);
        } else if (key == "watch") {
            for (std::string_view rest = value; !rest.empty();) {
                const auto comma = rest.find(',');
                const std::string_view name = rest.substr(0, comma);
                if (name.empty())
                    return fail(RegionError::InvalidArgument, std::string(kRtWatchdogEnv) + ": an empty guest name in watch");
                settings.watch.emplace_back(name);
                rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
            }
        } else {
            return fail(RegionError::InvalidArgument,
                        std::string(kRtWatchdogEnv) + ": unknown field '" + std::string(key) + "'");
        }
    }
    return settings;
}

}  // namespace nk
