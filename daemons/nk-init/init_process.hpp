// What nk-init does as PID 1 of a guest (main.cpp parses the arguments into Options).
#pragma once

#include <string>
#include <vector>

namespace nk::init {

struct Options {
    std::string guest;
    std::string hostname;
    std::vector<std::vector<std::string>> services;
    std::string cpus;             // "" : leave the affinity alone
    int fifo_priority = 0;        // 0: leave the scheduling class alone
    bool loopback_up = false;
    std::vector<std::string> hidden_dirs;
    std::vector<std::string> hosts_lines;  // first lines of the guest's /etc/hosts (hosts_file.hpp); none: the host's file as it is
    bool exec_mode = false;
    std::vector<std::string> command;
};

// Waits for nkd's go, sets the guest up, then serves as init (or execs the rt program).
// Returns the exit status of nk-init.
int run(const Options& options);

}  // namespace nk::init
