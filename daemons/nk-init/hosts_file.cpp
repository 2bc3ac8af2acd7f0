#include "hosts_file.hpp"

#include <fcntl.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "nk/nanokernel/unique_fd.hpp"

namespace nk::init {
namespace {

bool failed(const std::string& what, std::string& error) {
    error = what + ": " + std::strerror(errno);
    return false;
}

}  // namespace

std::string hosts_file_text(const std::vector<std::string>& lines, const std::string& host_hosts) {
    std::string text = "# The guests of this nk platform (from nkd); the host's /etc/hosts follows.\n";
    for (const auto& line : lines) text += line + "\n";
    text += "\n";
    text += host_hosts;
    if (!host_hosts.empty() && host_hosts.back() != '\n') text += "\n";
    return text;
}

bool install_hosts_file(const std::vector<std::string>& lines, std::string& error) {
    constexpr const char* kPath = "/etc/hosts";
    std::ifstream host(kPath);
    if (!host) {
        error = "the host has no /etc/hosts: the guests' names are not installed";
        return true;
    }
    std::ostringstream host_text;
    host_text << host.rdbuf();
    const std::string text = hosts_file_text(lines, host_text.str());

    // The copy lives on a tmpfs of its own that is never attached anywhere (the new mount API:
    // no directory is needed to mount it on, none is left behind), and only its one file is
    // mounted over /etc/hosts. (A memfd cannot be the source of a bind mount: the kernel's
    // internal mount refuses it.) The tmpfs lives as long as that mount, i.e. the guest's mount
    // namespace.
    nk::UniqueFd fs(::fsopen("tmpfs", FSOPEN_CLOEXEC));
    if (!fs) return failed("fsopen tmpfs", error);
    if (::fsconfig(fs.get(), FSCONFIG_SET_STRING, "size", "1m", 0) != 0 ||
        ::fsconfig(fs.get(), FSCONFIG_SET_STRING, "mode", "0755", 0) != 0 ||
        ::fsconfig(fs.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) != 0)
        return failed("making a tmpfs for the hosts file", error);
    nk::UniqueFd root(::fsmount(fs.get(), FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC));
    if (!root) return failed("fsmount", error);
    {
        nk::UniqueFd file(::openat(root.get(), "hosts", O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
        if (!file) return failed("creating the guest's hosts file", error);
        std::size_t done = 0;
        while (done < text.size()) {
            const ssize_t n = ::write(file.get(), text.data() + done, text.size() - done);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return failed("writing the guest's hosts file", error);
            done += static_cast<std::size_t>(n);
        }
    }
    nk::UniqueFd tree(::open_tree(root.get(), "hosts", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC));
    if (!tree) return failed("open_tree of the hosts file", error);
    if (::move_mount(tree.get(), "", AT_FDCWD, kPath, MOVE_MOUNT_F_EMPTY_PATH) != 0)
        return failed("mounting the guest's copy over /etc/hosts", error);
    return true;
}

}  // namespace nk::init
