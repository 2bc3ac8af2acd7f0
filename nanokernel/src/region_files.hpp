// The region's areas as files: memfds named so that a process can tell which area a descriptor
// it received is ("nk:<platform>:<index>:<label>", visible in /proc/self/fd), created sized,
// backed and sealed, and reopened to get a private open file description.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "nk/nanokernel/layout.hpp"
#include "nk/nanokernel/result.hpp"
#include "nk/nanokernel/unique_fd.hpp"

namespace nk {

struct AreaFile {
    UniqueFd fd;
    std::string platform;
    std::uint16_t index = 0;
    std::string label;
    std::uint64_t size = 0;
    bool writable = false;
};

// Creates the memfd of one area: sized, its pages allocated (so a full /dev/shm or a lack of huge
// pages shows now, not as SIGBUS later), and sealed against shrinking or growing, so no holder can
// truncate it under the others.
[[nodiscard]] Result<UniqueFd> create_area_file(std::string_view platform, std::uint16_t index,
                                                std::string_view label, std::uint64_t size, bool hugepages);

// Names each descriptor by its memfd name and size. Refuses anything that is not an nk area.
[[nodiscard]] Result<std::vector<AreaFile>> identify_area_files(std::vector<UniqueFd> fds);

// Reads and validates the management tables from the management area's descriptor.
[[nodiscard]] Result<layout::ManagementTables> read_tables(int fd);

// A new open file description of the same file, close-on-exec. access_mode: O_RDONLY or
// O_RDWR; -1 keeps the access mode of `fd`.
[[nodiscard]] Result<UniqueFd> reopen_fd(int fd, int access_mode = -1);

}  // namespace nk
