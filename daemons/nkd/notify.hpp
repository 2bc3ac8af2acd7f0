// sd_notify without libsystemd: one datagram to $NOTIFY_SOCKET ("READY=1", "STATUS=...").
// Does nothing when not started by systemd.
#pragma once

#include <cstdint>
#include <string_view>

namespace nk::daemon {

void notify(std::string_view state);

// systemd's watchdog interval for this process (WATCHDOG_USEC, when WATCHDOG_PID is unset or
// ours); 0 when there is none. Send WATCHDOG=1 at half of it.
[[nodiscard]] std::uint64_t watchdog_usec();

}  // namespace nk::daemon
