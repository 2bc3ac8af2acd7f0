// nk::Result<T>: the value-or-error type of every nanokernel and ipc call that can fail.
//
// The lower layers never throw (STYLE.md, "Errors"): a call that can fail in the field returns a
// Result, and the caller must look at it ([[nodiscard]] on the type). An Error carries a
// std::error_code (a per-module enum such as RegionError, or errno for system calls) and a
// message written for a person: what failed, on which object, and what to do about it.
//
//   nk::Result<nk::Region> region = nk::Region::attach_by_name("two-guests");
//   if (!region) { std::fprintf(stderr, "%s\n", region.error().message.c_str()); return 1; }
#pragma once

#include <string>
#include <system_error>
#include <utility>

#include <tl/expected.hpp>

namespace nk {

struct Error {
    std::error_code code;
    std::string message;  // complete sentence for a person; includes the object it is about
};

template <class T>
using Result = tl::expected<T, Error>;

// Builds the unexpected side of a Result: `return nk::fail(RegionError::BadMagic, "...");`
template <class Code>
[[nodiscard]] tl::unexpected<Error> fail(Code code, std::string message) {
    return tl::unexpected<Error>(Error{make_error_code(code), std::move(message)});
}

[[nodiscard]] inline tl::unexpected<Error> fail(Error error) {
    return tl::unexpected<Error>(std::move(error));
}

// Prefixes the message of an error that bubbles up, keeping its code:
// `return nk::fail(nk::context(std::move(r.error()), "attach " + name));`
[[nodiscard]] inline Error context(Error error, std::string_view what) {
    error.message = std::string(what) + ": " + error.message;
    return error;
}

}  // namespace nk
