// A dual-stack TCP listener on lwIP's sockets API, for the rt guest's services (the console, the
// discard service): IPv4 clients arrive as mapped addresses on the one IPv6 socket.
#pragma once

#include <cstdint>
#include <string_view>

#include "nk/nanokernel/result.hpp"

namespace nk::netbridge::detail {

// The listening lwIP socket on `port`, or an error naming `service` and the port.
[[nodiscard]] Result<int> listen_tcp(std::uint16_t port, std::string_view service);

}  // namespace nk::netbridge::detail
