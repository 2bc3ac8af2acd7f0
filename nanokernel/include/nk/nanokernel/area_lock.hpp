// AreaLock: the crash-safe lock that guards one area's directory.
//
// It is an open-file-description lock (fcntl F_OFD_SETLK) on the area's memfd. The kernel drops
// it when the holder's descriptor is closed, which includes the holder being killed, so a dead
// holder never leaves the lock held; the AreaHeader::dirty word then tells the next holder that
// the directory may be half-changed, and it runs recovery first (docs/ARCHITECTURE.md,
// "Crash-safe area lock"). OFD locks work across PID namespaces, since they name no process.
//
// Shared (read) locks work on read-only descriptors, so observers can list safely. A holder that
// hangs, or a hostile guest that never lets go, makes others fail with RegionError::Busy after
// the timeout instead of waiting forever.
//
// Each acquire locks a description of its own (the area's memfd reopened through /proc/self/fd):
// a process forked after attaching shares its parent's descriptions, and a lock on a shared
// description would not exclude the two. Threads still take Region::area_mutex() first (the
// directory's in-process state). One AreaLock per scope; not copyable.
#pragma once

#include <chrono>

#include "nk/nanokernel/result.hpp"

namespace nk {

class AreaLock {
public:
    enum class Mode { Shared, Exclusive };

    [[nodiscard]] static Result<AreaLock> acquire(int fd, Mode mode, std::chrono::milliseconds timeout);

    AreaLock(AreaLock&& other) noexcept;
    AreaLock& operator=(AreaLock&&) = delete;
    AreaLock(const AreaLock&) = delete;
    AreaLock& operator=(const AreaLock&) = delete;
    ~AreaLock();

private:
    explicit AreaLock(int fd) : fd_(fd) {}
    [[nodiscard]] static Result<AreaLock> acquire_on(int fd, Mode mode, std::chrono::milliseconds timeout);
    int fd_ = -1;
    bool owned_ = false;  // fd_ is this lock's own description: closed with it
};

inline constexpr std::chrono::milliseconds kDefaultAreaLockTimeout{2000};

}  // namespace nk
