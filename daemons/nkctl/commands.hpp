// nkctl's commands. Each returns the process exit code and prints its own errors.
#pragma once

#include <string>
#include <vector>

#include "connect.hpp"

namespace nk::ctl {

int map_command(const Target& target, bool json);
int segments_command(const Target& target, bool json);
int pnv_list_command(const Target& target, bool json);
int queues_command(const Target& target, bool json);
int events_command(const Target& target, bool json);
int ports_command(const Target& target, bool json);
int interrupts_command(const Target& target, bool json);
int net_command(const Target& target, bool json);
// The rt executive's tasks from its status segment (`segment`, "rt.exec" by default).
int rt_command(const Target& target, const std::string& segment, bool json);
// Prints platform events (failures, restarts) as JSON lines; `count` 0: until interrupted.
int follow_command(const Target& target, std::size_t count);
int guests_command(const Target& target, bool json);
int crash_info_command(const Target& target, const std::string& guest, bool json, std::size_t lines);
// op: "stop", "start" or "restart".
int control_command(const Target& target, const std::string& op, const std::string& guest);
int exec_command(const Target& target, const std::string& guest, const std::vector<std::string>& command);
int pnv_free_command(const Target& target, const std::string& guest, const std::string& id);

}  // namespace nk::ctl
