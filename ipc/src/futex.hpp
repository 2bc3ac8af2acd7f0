// Internal to nk::ipc: the futex calls through which waiters sleep on a 32-bit word in the region.
// Shared (not FUTEX_PRIVATE) futexes: the kernel keys them by the memfd page and offset, so
// processes of different guests that map the same area wait on the same word.
#pragma once

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

namespace nk::ipc::detail {

// Sleeps while *word == expected, until woken or the absolute CLOCK_MONOTONIC `deadline` (null:
// no deadline). Returns 0 when woken or the word differed, ETIMEDOUT at the deadline, EINTR on a
// signal (the caller re-checks and waits again).
inline int futex_wait_until(std::uint32_t* word, std::uint32_t expected, const timespec* deadline) {
    const long rc = ::syscall(SYS_futex, word, FUTEX_WAIT_BITSET, expected, deadline,
                              nullptr, FUTEX_BITSET_MATCH_ANY);
    if (rc == 0) return 0;
    return errno == EAGAIN ? 0 : errno;
}

// Wakes up to `count` waiters of `word`.
inline void futex_wake(std::uint32_t* word, int count) {
    (void)::syscall(SYS_futex, word, FUTEX_WAKE, count, nullptr, nullptr, 0);
}

}  // namespace nk::ipc::detail
