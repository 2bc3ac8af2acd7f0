// nk::guest_hosts_lines: what a linux guest's /etc/hosts holds before the host's own lines.
//
// Every guest of the platform that has a netbridge address, by its name (and its host name where
// that differs), so that `telnet beta` and `ftp beta` work as `telnet 10.77.2.1` does; and the
// guest's own host name, which many programs look up as they start (sudo, mail, Java, daemons
// that log their FQDN). A name /etc/hosts lacks goes to DNS: in a guest without a network each
// lookup fails only after the resolver has tried, and in a guest with one it waits on a name
// server it may not reach. A guest with no address of its own has its host name on 127.0.1.1, as
// Debian's installer writes it.
//
// nkd passes the lines to nk-init (`--host LINE`), which puts them first in a copy of the host's
// /etc/hosts that it mounts over /etc/hosts in the guest's own mount namespace: the host's file
// is never written.
//
//   for (const auto& line : nk::guest_hosts_lines(config, guest)) argv.insert(argv.end(), {"--host", line});
//   // "10.77.1.1 alpha", "fd77:1::1 alpha", "10.77.2.1 beta", ...
#pragma once

#include <string>
#include <vector>

#include "nk/nanokernel/platform_config.hpp"

namespace nk {

// One line per address ("ADDRESS NAME [HOSTNAME]"), the guest itself first, then the others in
// config order; IPv6 lines after each guest's IPv4 line.
[[nodiscard]] std::vector<std::string> guest_hosts_lines(const PlatformConfig& config, const GuestConfig& self);

}  // namespace nk
