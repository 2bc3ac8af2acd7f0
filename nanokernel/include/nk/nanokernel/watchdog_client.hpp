// nk::watchdog: a guest's critical processes register with the guest's nk-watchdog and keep
// telling it they are alive; one that stops makes the whole guest unhealthy (its watchdog stops
// beating the guest's heartbeat, and the guest is recovered as hung).
//
//   nk::watchdog::register_critical(std::chrono::milliseconds(100), "controller");
//   for (;;) { control_step(); (void)nk::watchdog::kick(); }
//
// The protocol is systemd's sd_notify datagrams, so a program written for systemd's watchdog
// works unchanged with NOTIFY_SOCKET pointed at nk-watchdog's socket: `WATCHDOG_USEC=N` registers
// (or changes) the sender's deadline, `WATCHDOG=1` is one kick, `STOPPING=1` unregisters; nk adds
// `NK_NAME=` (a name for the logs) and `NK_HEALTH=` (the guest's health word, 0: healthy). The
// daemon knows the sender by its pid (SO_PASSCRED).
//
// The socket is the abstract name "@nk-watchdog": abstract names belong to a network namespace,
// and every guest has its own, so each guest's processes reach their own guest's watchdog.
// NK_WATCHDOG_SOCKET (a path, or @name) overrides it.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "nk/nanokernel/result.hpp"

namespace nk::watchdog {

inline constexpr std::string_view kDefaultSocket = "@nk-watchdog";

// Where the calling process's watchdog listens: NK_WATCHDOG_SOCKET, else kDefaultSocket.
[[nodiscard]] std::string socket_address();

// Registers the calling process as critical: it must kick() at least once per `period`.
[[nodiscard]] Result<void> register_critical(std::chrono::milliseconds period, std::string_view name = {});
// One kick. Cheap: one datagram.
[[nodiscard]] Result<void> kick();
// Feeds the guest's health word (0: healthy), which its heartbeat carries to the peers.
[[nodiscard]] Result<void> set_health(std::uint64_t health);
// The calling process stops on purpose: no longer critical.
[[nodiscard]] Result<void> unregister();

// Sends one raw sd_notify datagram (lines of KEY=VALUE) to `address`.
[[nodiscard]] Result<void> notify(const std::string& address, std::string_view message);

}  // namespace nk::watchdog
