// The one wrapper through which nk makes system calls (STYLE.md, "Errors").
//
// It retries EINTR, so no caller forgets to, and turns a failure into an nk::Error whose code is
// the errno (std::system_category) and whose message names the call and the object:
//
//   auto fd = nk::sys::call("memfd_create " + name, [&] { return ::memfd_create(name.c_str(), flags); });
//   if (!fd) return nk::fail(std::move(fd.error()));
#pragma once

#include <cerrno>
#include <cstring>
#include <string>
#include <type_traits>

#include "nk/nanokernel/result.hpp"

namespace nk::sys {

// Calls `fn` until it does not fail with EINTR. `fn` returns a signed integer where -1 (or any
// negative value) means failure with errno set, as the C library does.
template <class Fn>
[[nodiscard]] auto call(std::string_view what, Fn&& fn) -> Result<std::invoke_result_t<Fn>> {
    for (;;) {
        auto rc = fn();
        if (rc >= 0) return rc;
        const int err = errno;
        if (err == EINTR) continue;
        return tl::unexpected<Error>(Error{std::error_code(err, std::system_category()),
                                           std::string(what) + ": " + std::strerror(err)});
    }
}

}  // namespace nk::sys
