// Errors of the region layer (region, directories, access rules, attach by name).
#pragma once

#include <system_error>

namespace nk {

enum class RegionError {
    BadMagic = 1,       // the memory is not an nk region (or not an area of one)
    VersionMismatch,    // made by a build with another layout version
    SizeMismatch,       // sizes in the header disagree with the files or with each other
    Corrupt,            // an index, offset, length or name in the region is out of bounds
    NotFound,           // no such object, area, guest or platform
    AccessDenied,       // the config's access rules, or the partition, refuse it
    NotMapped,          // the memory belongs to an area this process was not given
    Exists,             // an object of that name already exists
    NoSpace,            // the area has no free extent large enough
    DirectoryFull,      // the area's directory has no free entry
    Busy,               // a lock was held longer than the timeout (holder hung or hostile)
    InvalidArgument,    // bad name, zero size, wrong role
    SizeConflict,       // an existing object has another size than the one asked for
    NotRunning,         // no process serves that platform
};

std::error_code make_error_code(RegionError e);

}  // namespace nk

template <>
struct std::is_error_code_enum<nk::RegionError> : std::true_type {};
