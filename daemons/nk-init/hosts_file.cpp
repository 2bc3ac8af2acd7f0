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
    if (::mount("tmpfs", kScratch, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, options.c_str()) != 0)
        return failed(std::string("mounting a tmpfs for the hosts file on ") + kScratch, error);
    bool written = false;
    {
        nk::UniqueFd out(::open(file.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
        std::size_t done = 0;
        while (out && done < text.size()) {
            const ssize_t n = ::write(out.get(), text.data() + done, text.size() - done);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;
            done += static_cast<std::size_t>(n);
        }
        written = out && done == text.size();
    }
    const int write_errno = errno;
    const bool bound = written && ::mount(file.c_str(), kPath, nullptr, MS_BIND, nullptr) == 0;
    const int bind_errno = errno;
    (void)::umount2(kScratch, MNT_DETACH);  // /tmp as it was; the bind mount keeps the file
    if (!written) {
        errno = write_errno;
        return failed("writing the guest's hosts file", error);
    }
    if (!bound) {
        errno = bind_errno;
        return failed("mounting the guest's copy over /etc/hosts", error);
    }
    return true;
}

}  // namespace nk::init
