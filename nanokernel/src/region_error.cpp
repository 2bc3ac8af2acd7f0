#include "nk/nanokernel/region_error.hpp"

#include <string>

namespace nk {
namespace {

class RegionErrorCategory final : public std::error_category {
public:
    const char* name() const noexcept override { return "nk.region"; }
    std::string message(int value) const override {
        switch (static_cast<RegionError>(value)) {
            case RegionError::BadMagic: return "not an nk region";
            case RegionError::VersionMismatch: return "region layout version mismatch";
            case RegionError::SizeMismatch: return "region size mismatch";
            case RegionError::Corrupt: return "region memory is corrupt";
            case RegionError::NotFound: return "not found";
            case RegionError::AccessDenied: return "access denied";
            case RegionError::NotMapped: return "area not mapped in this process";
            case RegionError::Exists: return "already exists";
            case RegionError::NoSpace: return "no space left in the area";
            case RegionError::DirectoryFull: return "directory full";
            case RegionError::Busy: return "lock held too long";
            case RegionError::InvalidArgument: return "invalid argument";
            case RegionError::SizeConflict: return "exists with another size";
            case RegionError::NotRunning: return "platform not running";
        }
        return "unknown region error";
    }
};

}  // namespace

std::error_code make_error_code(RegionError e) {
    static const RegionErrorCategory category;
    return {static_cast<int>(e), category};
}

}  // namespace nk
