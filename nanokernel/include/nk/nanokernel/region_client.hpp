// Attach by the platform's name: ask the process that serves the platform (nkd) for the area
// descriptors of an identity, over a Unix socket in the run directory.
//
//   auto region = nk::attach_by_name("two-guests", nk::Identity::observer());
//
// The run directory is $NK_RUN_DIR, or /run/nk. Each serving process owns
// <run dir>/<platform>.sock. Which identities a caller may ask for is decided by the server
// (region_server.hpp).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "nk/nanokernel/region.hpp"

namespace nk {

[[nodiscard]] std::string run_directory();
[[nodiscard]] std::string platform_socket_path(std::string_view platform);

[[nodiscard]] Result<Region> attach_by_name(std::string_view platform, Identity who);

// The platforms with a socket in the run directory (served or stale).
[[nodiscard]] std::vector<std::string> listed_platforms();

// The platform to use when the caller named none: the only one listed, else an error that says
// to pass --platform or --config.
[[nodiscard]] Result<std::string> sole_platform();

namespace wire {

inline constexpr std::uint32_t kAttachMagic = 0x4e4b4154;  // "NKAT"
inline constexpr std::uint32_t kAttachVersion = 1;

// Fixed-layout messages of the attach protocol (one request, one reply with SCM_RIGHTS).
struct AttachRequest {
    std::uint32_t magic;
    std::uint32_t version;
    std::uint8_t role;       // nk::Role
    std::uint8_t reserved0;
    std::uint16_t guest_id;  // for Role::Guest; 0 = look up guest_name
    char guest_name[32];
};
static_assert(sizeof(AttachRequest) == 44 && std::is_trivially_copyable_v<AttachRequest>);

struct AttachReply {
    std::uint32_t magic;
    std::int32_t status;     // 0, or an nk::RegionError value
    std::uint32_t fd_count;
    std::uint32_t reserved0;
    char message[240];       // the error's message when status != 0
};
static_assert(sizeof(AttachReply) == 256 && std::is_trivially_copyable_v<AttachReply>);

}  // namespace wire
}  // namespace nk
