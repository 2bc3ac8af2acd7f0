// What nkd tells an rt guest's program about its watchdog task (a `watchdog` table on an rt guest),
// in the NK_WATCHDOG environment variable: "period_ms=50;priority=10;watch=linux,beta". The rt
// program reads it with nk::rt::watchdog_task_from_env() (nk/rt/watchdog_task.hpp).
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "nk/nanokernel/result.hpp"

namespace nk {

inline constexpr const char* kRtWatchdogEnv = "NK_WATCHDOG";

struct RtWatchdogSettings {
    std::chrono::milliseconds period{50};  // how often the task looks at its peers
    int priority = 10;                     // its SCHED_FIFO priority
    std::vector<std::string> watch;        // peer guest names
};

[[nodiscard]] std::string encode(const RtWatchdogSettings& settings);
// Every field checked: a period of 1..60000 ms, a priority of 1..99, names without ',' or ';'.
[[nodiscard]] Result<RtWatchdogSettings> decode_rt_watchdog(std::string_view text);

}  // namespace nk
