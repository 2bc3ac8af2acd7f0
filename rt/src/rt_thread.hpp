// Starting one task's thread as the executive promises: SCHED_FIFO at its priority from its first
// instruction (PTHREAD_EXPLICIT_SCHED, so no window at the creator's policy), pinned, its stack
// touched before the body runs.
#pragma once

#include <pthread.h>
#include <sched.h>

#include <cstddef>
#include <functional>
#include <string>

#include "nk/nanokernel/result.hpp"

namespace nk::rt::detail {

struct ThreadSpec {
    std::string name;        // the thread's name (first 15 characters), for ps and top
    int priority = 0;        // 1..99 SCHED_FIFO; 0 SCHED_OTHER
    cpu_set_t cpus{};        // empty: not pinned
    std::size_t stack_size = 256 * 1024;
};

// Starts `body` on a new thread. Errors carry errno (EPERM: the host refuses the priority).
[[nodiscard]] Result<pthread_t> start_thread(const ThreadSpec& spec, std::function<void()> body);

}  // namespace nk::rt::detail
