// sd_notify without libsystemd: one datagram to $NOTIFY_SOCKET ("READY=1", "STATUS=...").
// Does nothing when not started by systemd.
#pragma once

#include <cstdint>
#include <string_view>

namespace nk::daemon {

// Takes NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID into nkd's own keeping and removes them from
// the environment, which every guest inherits: systemd talks to nkd alone, and a guest's programs
// (nk-watchdog would tell systemd WATCHDOG=1 every period) must not speak to it in nkd's name.
// Call first, before any thread or guest starts.
void adopt_notify_environment();

void notify(std::string_view state);

// systemd's watchdog interval for this process (WATCHDOG_USEC, when WATCHDOG_PID is unset or
// ours); 0 when there is none. Send WATCHDOG=1 at half of it.
[[nodiscard]] std::uint64_t watchdog_usec();

}  // namespace nk::daemon
