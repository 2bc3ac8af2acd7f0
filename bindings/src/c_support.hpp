// What every file of the C ABI shares: the handle structs behind nk.h's opaque types, the
// mapping from nk::Error to nk_result_t, and the guard that keeps C++ exceptions inside.
//
// Each handle holds a shared_ptr to its region, so that a C caller may close the region handle
// before the object handles made from it: the mapping goes with the last of them.
#pragma once

#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "nk/ipc/event.hpp"
#include "nk/ipc/message_ring.hpp"
#include "nk/ipc/mpmc_queue.hpp"
#include "nk/ipc/pnv.hpp"
#include "nk/ipc/port.hpp"
#include "nk/ipc/segment.hpp"
#include "nk/ipc/spsc_ring.hpp"
#include "nk/nanokernel/region.hpp"
#include "nk/nk.h"

using RegionRef = std::shared_ptr<const nk::Region>;

struct nk_region {
    RegionRef region;
};

struct nk_segment {
    RegionRef keep;
    nk::ipc::Segment segment;
};

struct nk_pnv {
    RegionRef keep;
    nk::pnv::Allocation allocation;
};

struct nk_spsc {
    nk_spsc(RegionRef k, nk::ipc::SpscRing r) : keep(std::move(k)), ring(std::move(r)) {}
    RegionRef keep;
    nk::ipc::SpscRing ring;
    std::optional<nk::ipc::SpscProducer> producer;  // made by the first push on this handle
    std::optional<nk::ipc::SpscConsumer> consumer;  // made by the first pop
};

struct nk_mpmc {
    RegionRef keep;
    nk::ipc::MpmcQueue queue;
};

struct nk_msgring {
    nk_msgring(RegionRef k, nk::ipc::MessageRing r) : keep(std::move(k)), ring(std::move(r)) {}
    RegionRef keep;
    nk::ipc::MessageRing ring;
    std::optional<nk::ipc::MessageRingProducer> producer;
    std::optional<nk::ipc::MessageRingConsumer> consumer;
};

struct nk_event {
    RegionRef keep;
    nk::ipc::Event event;
};

struct nk_port {
    RegionRef keep;
    nk::ipc::Port port;
};

struct nk_port_sender {
    RegionRef keep;
    nk::ipc::PortSender sender;
    std::string name;
};

namespace nk::c {

// Records `message` as this thread's last error and returns `result`. Never throws: when the
// message cannot be stored, a fixed text stands in.
nk_result_t set_error(nk_result_t result, std::string_view message) noexcept;
// Same, with the message in two parts (joined without allocating on the caller's side).
nk_result_t set_error(nk_result_t result, std::string_view first, std::string_view second) noexcept;

// The nk_result_t of a C++ error (RegionError values map one to one; errno codes to NK_E_SYSTEM),
// with its message recorded.
nk_result_t from_error(const Error& error) noexcept;

// Same, with the code replaced by `result` (for errors whose C meaning is sharper than the
// C++ code, such as a port's InvalidArgument on receive, which means the buffer is too small).
nk_result_t from_error_as(nk_result_t result, const Error& error) noexcept;

inline nk_result_t invalid(std::string_view message) noexcept { return set_error(NK_E_INVALID, message); }

// Runs `body` (which returns nk_result_t) with every exception turned into a result.
template <class Body>
nk_result_t guarded(Body&& body) noexcept {
    try {
        return body();
    } catch (const std::bad_alloc&) {
        return set_error(NK_E_NO_MEMORY, "out of memory");
    } catch (const std::exception& e) {
        return set_error(NK_E_INTERNAL, "internal error in nk (please report): ", e.what());
    } catch (...) {
        return set_error(NK_E_INTERNAL, "internal error in nk (please report): unknown exception");
    }
}

// An option struct is usable when absent (defaults) or filled by its _init() (struct_size).
template <class Options>
[[nodiscard]] bool options_ok(const Options* options) noexcept {
    return options == nullptr || options->struct_size == sizeof(Options);
}

inline nk_result_t bad_options(const char* init) noexcept {
    return set_error(NK_E_INVALID, "the options were not filled by their _init() (struct_size differs): ", init);
}

// `where` of an option struct, NULL meaning the default.
[[nodiscard]] inline std::string_view where_of(const char* where) noexcept {
    return where == nullptr ? std::string_view{} : std::string_view{where};
}

// A C timeout in nanoseconds as a C++ duration. Anything above about 100 years (NK_FOREVER
// among them) is cut to 100 years: steady_clock::now() plus it still fits in 64 bits.
[[nodiscard]] inline std::chrono::nanoseconds timeout_of(std::uint64_t ns) noexcept {
    constexpr std::uint64_t kLongest = 100ULL * 365 * 24 * 3600 * 1'000'000'000ULL;
    return std::chrono::nanoseconds(static_cast<std::int64_t>(ns < kLongest ? ns : kLongest));
}

// Stores a new handle in *out, or fails with NK_E_NO_MEMORY (std::nothrow keeps it out of the
// exception path, and the object is not lost: it is only a view).
template <class Handle, class... Args>
nk_result_t emit(Handle** out, Args&&... args) {
    Handle* handle = new (std::nothrow) Handle{std::forward<Args>(args)...};
    if (handle == nullptr) return set_error(NK_E_NO_MEMORY, "out of memory for a handle");
    *out = handle;
    return NK_OK;
}

}  // namespace nk::c
