// nk::rt::StopSignals: how an rt guest's main thread waits for nkd to stop it.
//
// Construct it first thing in main(), before any task thread exists: SIGTERM and SIGINT are then
// blocked in every thread (threads inherit the mask), so only wait() takes them. Blocked rather
// than handled because an rt guest's process is PID 1 of its pid namespace, and the kernel drops a
// signal whose action is the default for PID 1 unless it is blocked (then it stays pending).
//
//   int main() {
//       nk::rt::StopSignals stop;  // before the executive starts its threads
//       ... build and start the executive ...
//       stop.wait();               // nkd's SIGTERM
//       exec->stop();
//   }
#pragma once

#include <signal.h>

namespace nk::rt {

class StopSignals {
public:
    StopSignals() noexcept;
    StopSignals(const StopSignals&) = delete;
    StopSignals& operator=(const StopSignals&) = delete;

    // Blocks until SIGTERM or SIGINT arrives; returns which.
    int wait() const noexcept;

private:
    sigset_t set_{};
};

}  // namespace nk::rt
