// nk::panic: the panic trap of a guest (the Nanokernel paper, section 4.5).
//
// Any process of a guest that finds the guest beyond repair calls nk::panic(reason). It writes
// a failure record (reason, time, pid, program, a backtrace) into the guest's control page, tells
// the guest's init, and ends the process. nkd sees the guest end, finds the record, reports the
// failure as a panic (nkctl crash-info GUEST) and restarts only that guest per its policy.
//
//   if (!sensor_ok) nk::panic("IMU stopped answering on /dev/spidev0.0");
//
// In a linux guest the init (nk-init) takes the panic signal and ends the guest; in an rt guest
// the panicking process is the guest's PID 1, so its end is the guest's end.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "nk/nanokernel/layout.hpp"
#include "nk/nanokernel/region.hpp"

namespace nk {

// The signal nk::panic() sends to the guest's init (nk-init handles it), and the status with
// which the guest then ends.
int panic_signal();
inline constexpr int kPanicExitStatus = 70;  // EX_SOFTWARE

// Writes the failure record through `region` (attached as a guest), signals the guest's init,
// and ends the calling process with kPanicExitStatus. Never returns.
[[noreturn]] void panic(const Region& region, std::string_view reason);

// Same, in the region of nk::guest::attach(); without a region it only ends the process.
[[noreturn]] void panic(std::string_view reason);

// A failure record, as read back and checked.
struct FailureReport {
    std::uint64_t sequence = 0;
    std::uint64_t unix_ns = 0;
    std::uint32_t pid = 0;
    std::uint32_t incarnation = 0;
    std::string reason;
    std::string backtrace;
    std::string program;
};

// Reads guest `guest_id`'s failure record from its control page (a region that holds it:
// the creator, an operator, an observer or the guest). Empty when there is none or it is
// incomplete (its writer died mid-record).
[[nodiscard]] std::optional<FailureReport> read_failure_record(const Region& region, std::uint16_t guest_id);

}  // namespace nk
