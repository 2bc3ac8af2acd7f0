// The futex calls through which waiters sleep on 32-bit words in the region.
//
// Shared (not FUTEX_PRIVATE) futexes: the kernel keys them by the memfd page and offset, so
// processes of different guests that map the same area wait on the same word. futex_waitv(2)
// (Linux 5.16) sleeps on several words at once: a dispatcher on its inbox and every link doorbell.
#pragma once

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <span>

namespace nk::detail {

// Sleeps while *word == expected, until woken or the absolute CLOCK_MONOTONIC `deadline` (null:
// no deadline). Returns 0 when woken or the word differed, ETIMEDOUT at the deadline, EINTR on a
// signal (the caller re-checks and waits again).
inline int futex_wait_until(std::uint32_t* word, std::uint32_t expected, const timespec* deadline) {
    const long rc = ::syscall(SYS_futex, word, FUTEX_WAIT_BITSET, expected, deadline, nullptr, FUTEX_BITSET_MATCH_ANY);
    if (rc == 0) return 0;
    return errno == EAGAIN ? 0 : errno;
}

// Wakes up to `count` waiters of `word`.
inline void futex_wake(std::uint32_t* word, int count) {
    (void)::syscall(SYS_futex, word, FUTEX_WAKE, count, nullptr, nullptr, 0);
}

// Wakes up to `count` waiters of a process-private word (a thread's stop flag in a wait set).
inline void futex_wake_private(std::uint32_t* word, int count) {
    (void)::syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, count, nullptr, nullptr, 0);
}

// One word of a futex_waitv(2) set: shared unless `process_private`.
inline futex_waitv futex_waiter(std::uint32_t* word, std::uint32_t expected, bool process_private = false) {
    futex_waitv w{};
    w.val = expected;
    w.uaddr = reinterpret_cast<std::uintptr_t>(word);
    w.flags = FUTEX_32 | (process_private ? FUTEX_PRIVATE_FLAG : 0U);
    return w;
}

// Sleeps until one of `words` is woken or differs from its expected value, or the absolute
// CLOCK_MONOTONIC `deadline` (null: none). Returns 0 (woken or changed), ETIMEDOUT or EINTR.
inline int futex_wait_any(std::span<futex_waitv> words, const timespec* deadline) {
    const long rc = ::syscall(SYS_futex_waitv, words.data(), static_cast<unsigned>(words.size()), 0U, deadline,
                              CLOCK_MONOTONIC);
    if (rc >= 0) return 0;
    return errno == EAGAIN ? 0 : errno;
}

}  // namespace nk::detail
