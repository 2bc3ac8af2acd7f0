// Small helpers for the attach protocol's Unix sockets: send/receive one fixed message with
// descriptors (SCM_RIGHTS), with a receive timeout so a stuck peer cannot hang the other side.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "nk/nanokernel/result.hpp"
#include "nk/nanokernel/unique_fd.hpp"

namespace nk::detail {

[[nodiscard]] Result<void> send_with_fds(int socket, const void* data, std::size_t size, const std::vector<int>& fds);

// Receives exactly `size` bytes in one message and up to `max_fds` descriptors.
[[nodiscard]] Result<std::vector<UniqueFd>> receive_with_fds(int socket, void* data, std::size_t size,
                                                              std::size_t max_fds);

[[nodiscard]] Result<void> set_receive_timeout(int socket, int milliseconds);

// A SOCK_SEQPACKET Unix socket bound (listen side) or connected (client side) to `path`.
enum class SocketSide { Bind, Connect };
[[nodiscard]] Result<UniqueFd> seqpacket_socket(const std::string& path, SocketSide side);

}  // namespace nk::detail
