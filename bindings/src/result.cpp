// Results and the thread's last error message.
#include <cerrno>
#include <string>
#include <system_error>

#include "c_support.hpp"
#include "nk/nanokernel/region_error.hpp"

// nk_result_t's first values are RegionError's, so that a C++ error's code converts by value.
static_assert(NK_E_BAD_MAGIC == static_cast<int>(nk::RegionError::BadMagic));
static_assert(NK_E_VERSION_MISMATCH == static_cast<int>(nk::RegionError::VersionMismatch));
static_assert(NK_E_SIZE_MISMATCH == static_cast<int>(nk::RegionError::SizeMismatch));
static_assert(NK_E_CORRUPT == static_cast<int>(nk::RegionError::Corrupt));
static_assert(NK_E_NOT_FOUND == static_cast<int>(nk::RegionError::NotFound));
static_assert(NK_E_ACCESS_DENIED == static_cast<int>(nk::RegionError::AccessDenied));
static_assert(NK_E_NOT_MAPPED == static_cast<int>(nk::RegionError::NotMapped));
static_assert(NK_E_EXISTS == static_cast<int>(nk::RegionError::Exists));
static_assert(NK_E_NO_SPACE == static_cast<int>(nk::RegionError::NoSpace));
static_assert(NK_E_DIRECTORY_FULL == static_cast<int>(nk::RegionError::DirectoryFull));
static_assert(NK_E_BUSY == static_cast<int>(nk::RegionError::Busy));
static_assert(NK_E_INVALID == static_cast<int>(nk::RegionError::InvalidArgument));
static_assert(NK_E_SIZE_CONFLICT == static_cast<int>(nk::RegionError::SizeConflict));
static_assert(NK_E_NOT_RUNNING == static_cast<int>(nk::RegionError::NotRunning));

// The enums are 32 bits wide in C and C++ alike (their *_FORCE_INT32_ members).
static_assert(sizeof(nk_result_t) == 4 && sizeof(nk_role_t) == 4 && sizeof(nk_rights_t) == 4 &&
              sizeof(nk_event_mode_t) == 4);

namespace nk::c {
namespace {

// The last error of this thread. `fixed` stands in when the text could not be stored.
struct LastError {
    std::string text;
    const char* fixed = nullptr;
};

thread_local LastError last_error;

}  // namespace

nk_result_t set_error(nk_result_t result, std::string_view first, std::string_view second) noexcept {
    try {
        last_error.text.assign(first);
        last_error.text.append(second);
        last_error.fixed = nullptr;
    } catch (...) {
        last_error.fixed = "out of memory while recording an error";
    }
    return result;
}

nk_result_t set_error(nk_result_t result, std::string_view message) noexcept { return set_error(result, message, {}); }

nk_result_t from_error_as(nk_result_t result, const Error& error) noexcept {
    return set_error(result, error.message);
}

nk_result_t from_error(const Error& error) noexcept {
    const std::error_code& code = error.code;
    if (code.category() == make_error_code(RegionError::BadMagic).category()) {
        const int value = code.value();
        if (value >= NK_E_BAD_MAGIC && value <= NK_E_NOT_RUNNING) return set_error(static_cast<nk_result_t>(value), error.message);
        return set_error(NK_E_INTERNAL, "unknown region error: ", error.message);
    }
    if (code.category() == std::system_category() || code.category() == std::generic_category())
        return set_error(code.value() == ENOMEM ? NK_E_NO_MEMORY : NK_E_SYSTEM, error.message);
    return set_error(NK_E_INTERNAL, "error of an unexpected kind: ", error.message);
}

}  // namespace nk::c

extern "C" {

const char* nk_result_str(nk_result_t result) {
    switch (result) {
        case NK_OK: return "NK_OK";
        case NK_E_BAD_MAGIC: return "NK_E_BAD_MAGIC";
        case NK_E_VERSION_MISMATCH: return "NK_E_VERSION_MISMATCH";
        case NK_E_SIZE_MISMATCH: return "NK_E_SIZE_MISMATCH";
        case NK_E_CORRUPT: return "NK_E_CORRUPT";
        case NK_E_NOT_FOUND: return "NK_E_NOT_FOUND";
        case NK_E_ACCESS_DENIED: return "NK_E_ACCESS_DENIED";
        case NK_E_NOT_MAPPED: return "NK_E_NOT_MAPPED";
        case NK_E_EXISTS: return "NK_E_EXISTS";
        case NK_E_NO_SPACE: return "NK_E_NO_SPACE";
        case NK_E_DIRECTORY_FULL: return "NK_E_DIRECTORY_FULL";
        case NK_E_BUSY: return "NK_E_BUSY";
        case NK_E_INVALID: return "NK_E_INVALID";
        case NK_E_SIZE_CONFLICT: return "NK_E_SIZE_CONFLICT";
        case NK_E_NOT_RUNNING: return "NK_E_NOT_RUNNING";
        case NK_E_FULL: return "NK_E_FULL";
        case NK_E_EMPTY: return "NK_E_EMPTY";
        case NK_E_TIMED_OUT: return "NK_E_TIMED_OUT";
        case NK_E_TOO_LARGE: return "NK_E_TOO_LARGE";
        case NK_E_BUFFER_TOO_SMALL: return "NK_E_BUFFER_TOO_SMALL";
        case NK_E_LOST: return "NK_E_LOST";
        case NK_E_SYSTEM: return "NK_E_SYSTEM";
        case NK_E_NO_MEMORY: return "NK_E_NO_MEMORY";
        case NK_E_INTERNAL: return "NK_E_INTERNAL";
        case NK_RESULT_FORCE_INT32_: break;
    }
    return "NK_E_UNKNOWN";  // a value from a newer nk, or not a result at all
}

const char* nk_last_error(void) {
    const auto& last = nk::c::last_error;
    return last.fixed != nullptr ? last.fixed : last.text.c_str();
}

}  // extern "C"
