// GuestCgroup (cgroup.hpp): v2 when the unified root offers cpuset, cpu and memory; else v1.
// Devices are denied through devices.deny under v1 and a BPF device program under v2
// (cgroup_device_filter.hpp).
#include "nk/nanokernel/cgroup.hpp"

#include <dirent.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "cgroup_device_filter.hpp"
#include "nk/nanokernel/platform_config.hpp"
#include "nk/nanokernel/region_error.hpp"

namespace nk {
namespace {

// The RT runtime (µs per period) nk's own v1 cpu groups hold for guests' real-time processes.
constexpr std::uint64_t kRtPoolUs = 400'000;

constexpr const char* kV2Root = "/sys/fs/cgroup";
constexpr const char* kControllers[] = {"cpuset", "cpu", "memory"};

Error io_error(const std::string& what, int err) {
    return Error{std::error_code(err, std::system_category()), what + ": " + std::strerror(err)};
}

std::string read_text(const std::string& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    std::string s = text.str();
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
}

Result<void> write_text(const std::string& path, const std::string& value) {
    // One write(2) per value, as cgroup files expect; errno tells why the kernel refused.
    FILE* f = std::fopen(path.c_str(), "we");
    if (f == nullptr) return tl::unexpected(io_error("open " + path, errno));
    const bool ok = std::fwrite(value.data(), 1, value.size(), f) == value.size() && std::fflush(f) == 0;
    const int err = errno;
    std::fclose(f);
    if (!ok) return tl::unexpected(io_error("write '" + value + "' to " + path, err));
    return {};
}

Result<void> make_dir(const std::string& path) {
    if (::mkdir(path.c_str(), 0755) == 0 || errno == EEXIST) return {};
    return tl::unexpected(io_error("mkdir " + path, errno));
}

// The v2 root offers every controller nk needs.
bool v2_usable() {
    const std::string controllers = " " + read_text(std::string(kV2Root) + "/cgroup.controllers") + " ";
    for (const char* c : kControllers)
        if (controllers.find(" " + std::string(c) + " ") == std::string::npos) return false;
    return true;
}

// Where the v1 hierarchy holding `controller` is mounted, from /proc/self/mounts.
std::string v1_mount(std::string_view controller) {
    std::ifstream mounts("/proc/self/mounts");
    std::string device, dir, type, options, rest;
    while (mounts >> device >> dir >> type >> options && std::getline(mounts, rest)) {
        if (type != "cgroup") continue;
        std::stringstream opts(options);
        for (std::string opt; std::getline(opts, opt, ',');)
            if (opt == controller) return dir;
    }
    return {};
}

// A device node's type and number, as both hierarchies' device rules name it.
Result<detail::DeviceNumber> device_number(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0)
        return fail(Error{std::error_code(errno, std::system_category()), "device " + path + ": " + std::strerror(errno)});
    if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode))
        return fail(RegionError::InvalidArgument, path + " is not a device node");
    return detail::DeviceNumber{S_ISBLK(st.st_mode), major(st.st_rdev), minor(st.st_rdev)};
}

Result<std::vector<detail::DeviceNumber>> device_numbers(const std::vector<std::string>& devices) {
    std::vector<detail::DeviceNumber> numbers;
    for (const auto& device : devices) {
        auto number = device_number(device);
        if (!number) return fail(number.error());
        numbers.push_back(*number);
    }
    return numbers;
}

// v1: the devices hierarchy's group of the guest, with one devices.deny rule ("c 4:65 rwm") each.
Result<std::string> deny_devices_v1(const std::string& tail_path, const std::vector<detail::DeviceNumber>& devices) {
    const std::string root = v1_mount("devices");
    if (root.empty()) return fail(RegionError::NotFound, "no v1 devices controller is mounted; device ownership is not enforced");
    std::string dir = root;
    std::stringstream parts(tail_path);
    for (std::string part; std::getline(parts, part, '/');) {
        if (part.empty()) continue;
        dir += "/" + part;
        if (auto ok = make_dir(dir); !ok) return fail(ok.error());
    }
    for (const auto& device : devices) {
        const std::string rule = std::string(device.block ? "b " : "c ") + std::to_string(device.major) + ":" +
                                 std::to_string(device.minor) + " rwm";
        if (auto ok = write_text(dir + "/devices.deny", rule); !ok) return fail(ok.error());
    }
    return dir;
}

}  // namespace

Result<GuestCgroup> GuestCgroup::create(std::string_view platform, std::string_view guest, const CgroupLimits& limits) {
    GuestCgroup group;
    const std::string tail[] = {"nk", std::string(platform), std::string(guest)};
    const std::string cpus = cpu_list_text(limits.cpus);
    if (v2_usable()) {
        group.v2_ = true;
        std::string dir = kV2Root;
        for (const auto& part : tail) {
            // A child group gets a controller only if its parent enables it for its children.
            if (auto ok = write_text(dir + "/cgroup.subtree_control", "+cpuset +cpu +memory"); !ok) {
                // v2's no-internal-processes rule: only the real root may both hold processes and
                // hand controllers down. A container's or a delegated group's root is not it.
                if (ok.error().code == std::error_code(EBUSY, std::system_category()))
                    return fail(context(ok.error(), "cgroup " + dir + " holds processes of its own (a container's or a delegated "
                                                    "group's root?), so cgroup v2 cannot enable controllers for nk's groups "
                                                    "under it; move those processes into a child group first"));
                return fail(ok.error());
            }
            dir += "/" + part;
            if (auto ok = make_dir(dir); !ok) return fail(ok.error());
        }
        if (auto ok = write_text(dir + "/cpuset.cpus", cpus); !ok) return fail(ok.error());
        if (auto ok = write_text(dir + "/cpu.weight", std::to_string(limits.cpu_weight)); !ok) return fail(ok.error());
        const std::string memory = limits.memory_limit ? std::to_string(limits.memory_limit) : "max";
        if (auto ok = write_text(dir + "/memory.max", memory); !ok) return fail(ok.error());
        group.paths_.push_back(dir);
        if (!limits.denied_devices.empty()) {
            auto numbers = device_numbers(limits.denied_devices);
            if (!numbers) return fail(numbers.error());
            if (auto denied = detail::deny_devices_v2(dir, *numbers); !denied) return fail(denied.error());
        }
        return group;
    }
    for (const char* controller : kControllers) {
        const std::string root = v1_mount(controller);
        if (limits.realtime && std::string_view(controller) == "cpu" && ::access((root + "/cpu.rt_runtime_us").c_str(), F_OK) == 0)
            continue;  // see CgroupLimits::realtime
        if (root.empty())
            return fail(RegionError::NotFound, std::string("no cgroup hierarchy offers the ") + controller +
                                                   " controller (neither cgroup v2 at /sys/fs/cgroup nor a v1 mount)");
        std::string dir = root;
        for (const auto& part : tail) {
            const std::string parent = dir;
            dir += "/" + part;
            if (auto ok = make_dir(dir); !ok) return fail(ok.error());
            // v1 cpuset: a new group has no CPUs or memory nodes until given some; inherit the parent's.
            if (std::string_view(controller) == "cpuset") {
                for (const char* file : {"cpuset.cpus", "cpuset.mems"})
                    if (read_text(dir + "/" + file).empty())
                        if (auto ok = write_text(dir + "/" + file, read_text(parent + "/" + file)); !ok)
                            return fail(ok.error());
            }
        }
        Result<void> ok;
        if (std::string_view(controller) == "cpuset") {
            ok = write_text(dir + "/cpuset.cpus", cpus);
        } else if (std::string_view(controller) == "cpu") {
            // v1 shares: 1024 is the default weight 100.
            ok = write_text(dir + "/cpu.shares", std::to_string(std::max<std::uint64_t>(2, limits.cpu_weight * 1024ULL / 100)));
            if (ok && limits.rt_budget_us > 0 && ::access((dir + "/cpu.rt_runtime_us").c_str(), F_OK) == 0) {
                // Each level's RT runtime must cover its children's: nk and nk/<platform> hold a
                // fixed pool, the guest its budget. Refused (the host gave its RT time elsewhere):
                // the guest's real-time process falls back to what it can get, which it logs.
                const std::string levels[] = {root + "/nk", root + "/nk/" + std::string(platform), dir};
                for (int i = 0; i < 3; ++i) {
                    const std::uint64_t want = i < 2 ? kRtPoolUs : limits.rt_budget_us;
                    if (std::strtoull(read_text(levels[i] + "/cpu.rt_runtime_us").c_str(), nullptr, 10) >= want) continue;
                    if (auto set = write_text(levels[i] + "/cpu.rt_runtime_us", std::to_string(want)); !set) {
                        std::fprintf(stderr, "nk: %s: no real-time budget for guest '%s': %s\n", levels[i].c_str(),
                                     std::string(guest).c_str(), set.error().message.c_str());
                        break;
                    }
                }
            }
        } else {
            ok = write_text(dir + "/memory.limit_in_bytes", limits.memory_limit ? std::to_string(limits.memory_limit) : "-1");
        }
        if (!ok) return fail(ok.error());
        group.paths_.push_back(dir);
    }
    if (!limits.denied_devices.empty()) {
        auto numbers = device_numbers(limits.denied_devices);
        if (!numbers) return fail(numbers.error());
        auto denied = deny_devices_v1("nk/" + std::string(platform) + "/" + std::string(guest), *numbers);
        if (!denied) return fail(denied.error());
        group.paths_.push_back(*denied);
    }
    return group;
}

Result<GuestCgroup> GuestCgroup::of_process(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/cgroup");
    if (!in) return fail(RegionError::NotFound, "process " + std::to_string(pid) + " does not exist");
    GuestCgroup group;
    group.v2_ = v2_usable();
    for (std::string line; std::getline(in, line);) {
        // "ID:CONTROLLERS:PATH"; v2's line is "0::PATH".
        const auto first = line.find(':'), second = line.find(':', first + 1);
        if (first == std::string::npos || second == std::string::npos) continue;
        const std::string controllers = line.substr(first + 1, second - first - 1);
        const std::string path = line.substr(second + 1);
        if (group.v2_) {
            if (controllers.empty()) group.paths_.push_back(std::string(kV2Root) + path);
            continue;
        }
        // The devices group too: a command that joins a guest must not escape its device rules.
        for (const char* controller : {"cpuset", "cpu", "memory", "devices"}) {
            std::stringstream list(controllers);
            for (std::string c; std::getline(list, c, ',');)
                if (c == controller) group.paths_.push_back(v1_mount(controller) + path);
        }
    }
    if (group.paths_.empty())
        return fail(RegionError::NotFound, "process " + std::to_string(pid) + " is in no cgroup nk manages");
    return group;
}

std::vector<pid_t> GuestCgroup::platform_pids(std::string_view platform) {
    // The memory hierarchy holds every guest (rt guests too) under v1; v2 has one hierarchy.
    const std::string root = v2_usable() ? std::string(kV2Root) : v1_mount("memory");
    std::vector<pid_t> pids;
    const std::string dir = root + "/nk/" + std::string(platform);
    if (DIR* d = ::opendir(dir.c_str())) {
        while (const dirent* entry = ::readdir(d)) {
            if (entry->d_type != DT_DIR || entry->d_name[0] == '.') continue;
            std::ifstream procs(dir + "/" + entry->d_name + "/cgroup.procs");
            for (pid_t pid; procs >> pid;) pids.push_back(pid);
        }
        ::closedir(d);
    }
    return pids;
}

Result<void> GuestCgroup::add(pid_t pid) const {
    for (const auto& dir : paths_)
        if (auto ok = write_text(dir + "/cgroup.procs", std::to_string(pid)); !ok) return fail(ok.error());
    return {};
}

std::vector<pid_t> GuestCgroup::pids() const {
    std::vector<pid_t> out;
    if (paths_.empty()) return out;
    std::ifstream procs(paths_.front() + "/cgroup.procs");
    for (pid_t pid; procs >> pid;) out.push_back(pid);
    return out;
}

Result<void> GuestCgroup::kill_all(int timeout_ms) const {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    // v2 (Linux >= 5.14): the kernel kills the whole group at once, forks in flight included.
    const bool kernel_kills = v2_ && !paths_.empty() && ::access((paths_.front() + "/cgroup.kill").c_str(), W_OK) == 0;
    if (kernel_kills)
        if (auto ok = write_text(paths_.front() + "/cgroup.kill", "1"); !ok) return fail(ok.error());
    for (;;) {
        const auto left = pids();
        if (left.empty()) return {};
        // Killing repeatedly catches processes forked after the list was read (v1, older v2).
        if (!kernel_kills)
            for (pid_t pid : left) ::kill(pid, SIGKILL);
        if (std::chrono::steady_clock::now() > deadline)
            return fail(RegionError::Busy, std::to_string(left.size()) + " processes of cgroup " + paths_.front() +
                                               " survived SIGKILL for " + std::to_string(timeout_ms) + " ms");
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
}

Result<void> GuestCgroup::remove() const {
    for (const auto& dir : paths_) {
        if (::rmdir(dir.c_str()) != 0 && errno != ENOENT) return tl::unexpected(io_error("rmdir " + dir, errno));
        // The platform's directory goes with its last guest; busy (another guest left) is fine.
        const std::string platform_dir = dir.substr(0, dir.rfind('/'));
        (void)::rmdir(platform_dir.c_str());
    }
    return {};
}

}  // namespace nk
