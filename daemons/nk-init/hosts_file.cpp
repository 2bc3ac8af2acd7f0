#include "hosts_file.hpp"

#include <fcntl.h>
#include <sys/mount.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string_view>

#include "nk/nanokernel/region_error.hpp"
#include "nk/nanokernel/syscall.hpp"
#include "nk/nanokernel/unique_fd.hpp"

namespace nk::init {
namespace {

// A comment, nkd's lines, then the host's file as it is.
std::string hosts_file_text(const std::vector<std::string>& lines, const std::string& host_hosts) {
    std::string text = "# The guests of this nk platform (from nkd); the host's /etc/hosts follows.\n";
    for (const auto& line : lines) text += line + "\n";
    text += "\n";
    text += host_hosts;
    if (!host_hosts.empty() && host_hosts.back() != '\n') text += "\n";
    return text;
}

// Writes all of `text` into a new file at `path`.
Result<void> write_new_file(const std::string& path, std::string_view text) {
    auto fd = sys::call("open " + path, [&] { return ::open(path.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644); });
    if (!fd) return fail(std::move(fd.error()));
    const UniqueFd out(*fd);
    while (!text.empty()) {
        auto n = sys::call("write " + path, [&] { return ::write(out.get(), text.data(), text.size()); });
        if (!n) return fail(std::move(n.error()));
        if (*n == 0) return fail(RegionError::NoSpace, "write " + path + ": nothing written");
        text.remove_prefix(static_cast<std::size_t>(*n));
    }
    return {};
}

}  // namespace

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

    // The copy lives on a tmpfs of its own, mounted for a moment over /tmp (nothing else runs in
    // the guest yet, and the mount namespace is the guest's alone), and only its one file is
    // bind-mounted over /etc/hosts; the tmpfs is then detached from /tmp and lives on as long as
    // that bind mount, i.e. the guest's mount namespace. (A memfd cannot be a bind mount's
    // source: the kernel's internal mount refuses it. A tmpfs made with fsopen/fsmount and never
    // attached could be cloned with open_tree on 6.18, but Debian 12's 6.1 refuses it: EINVAL.)
    constexpr const char* kScratch = "/tmp";
    const std::string file = std::string(kScratch) + "/hosts";
    // Room for the text and for what the guest's programs may add to their /etc/hosts.
    const std::string options = "size=" + std::to_string(text.size() + (1U << 20)) + ",mode=0755";
    auto scratch = sys::call(std::string("mount a tmpfs on ") + kScratch + " for the hosts file", [&] {
        return ::mount("tmpfs", kScratch, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, options.c_str());
    });
    if (!scratch) {
        error = scratch.error().message;
        return false;
    }
    auto written = write_new_file(file, text);
    Result<int> bound = 0;
    if (written)
        bound = sys::call("mount the guest's copy over /etc/hosts",
                          [&] { return ::mount(file.c_str(), kPath, nullptr, MS_BIND, nullptr); });
    (void)::umount2(kScratch, MNT_DETACH);  // /tmp as it was; the bind mount keeps the file
    if (!written) error = written.error().message;
    else if (!bound) error = bound.error().message;
    return written && bound;
}

}  // namespace nk::init
