// nk_watchdog_*: critical processes of a linux guest in C, over nk::watchdog (watchdog_client.hpp).
// No region handle: the protocol is datagrams to the guest's own nk-watchdog.
#include <cstring>
#include <string_view>

#include "c_support.hpp"
#include "nk/nanokernel/watchdog_client.hpp"

namespace {

using nk::c::guarded;
using nk::c::invalid;

nk_result_t done(const nk::Result<void>& result) { return result ? NK_OK : nk::c::from_error(result.error()); }

// The longest period a critical process may ask for: nk-watchdog's own heartbeat limit.
constexpr std::uint64_t kLongestPeriodNs = 60'000ULL * NK_MILLISECOND;
constexpr std::size_t kLongestName = 64;

}  // namespace

extern "C" {

nk_result_t nk_watchdog_register_critical(uint64_t period_ns, const char* name) {
    // The protocol counts in microseconds and the C++ API in milliseconds: whole milliseconds only,
    // so that what the daemon enforces is what the caller asked for.
    if (period_ns < NK_MILLISECOND || period_ns > kLongestPeriodNs || period_ns % NK_MILLISECOND != 0)
        return invalid("nk_watchdog_register_critical: period_ns must be whole milliseconds from 1 ms to 60 s");
    std::string_view name_view;
    if (name != nullptr) {
        const std::size_t length = ::strnlen(name, kLongestName + 1);
        if (length > kLongestName) return invalid("nk_watchdog_register_critical: name is longer than 64 bytes");
        name_view = std::string_view(name, length);
        // A newline would start another line of the datagram: another field, in the caller's name.
        if (name_view.find_first_of("\n\r=") != std::string_view::npos)
            return invalid("nk_watchdog_register_critical: name must not hold a newline or '='");
    }
    return guarded([&] {
        return done(nk::watchdog::register_critical(
            std::chrono::milliseconds(static_cast<std::int64_t>(period_ns / NK_MILLISECOND)), name_view));
    });
}

nk_result_t nk_watchdog_kick(void) {
    return guarded([] { return done(nk::watchdog::kick()); });
}

nk_result_t nk_watchdog_set_health(uint64_t health) {
    return guarded([&] { return done(nk::watchdog::set_health(health)); });
}

nk_result_t nk_watchdog_stopping(void) {
    return guarded([] { return done(nk::watchdog::unregister()); });
}

}  // extern "C"
