// The guest's /etc/hosts (nanokernel/guest_hosts.hpp says what goes in and why): nkd's lines, then
// the host's file as it is, in a file of a small tmpfs bind-mounted over /etc/hosts in the guest's
// mount namespace.
// The host's file is never written; a write to /etc/hosts in the guest changes the guest's copy.
//
// Call after the guest's mount tree was made private, as root in the guest's namespaces.
#pragma once

#include <string>
#include <vector>

namespace nk::init {

// Mounts a comment, `lines` and then the host's /etc/hosts over /etc/hosts. False with `error` set when it cannot; a host without an
// /etc/hosts leaves nothing to cover: true, and `error` says so.
[[nodiscard]] bool install_hosts_file(const std::vector<std::string>& lines, std::string& error);

}  // namespace nk::init
