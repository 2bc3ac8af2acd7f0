// sd_notify without libsystemd: one datagram to $NOTIFY_SOCKET ("READY=1", "STATUS=...").
// Does nothing when not started by systemd.
#pragma once

#include <string_view>

namespace nk::daemon {

void notify(std::string_view state);

}  // namespace nk::daemon
