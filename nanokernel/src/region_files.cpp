#include "region_files.hpp"

#include <fcntl.h>
#include <linux/memfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <charconv>
#include <cstring>

#include "nk/nanokernel/region_error.hpp"
#include "nk/nanokernel/region_validate.hpp"
#include "nk/nanokernel/syscall.hpp"

namespace nk {
namespace {

constexpr std::string_view kMemfdPrefix = "/memfd:";
constexpr std::string_view kDeletedSuffix = " (deleted)";

std::string fd_path(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

}  // namespace

Result<UniqueFd> create_area_file(std::string_view platform, std::uint16_t index, std::string_view label,
                                  std::uint64_t size, bool hugepages) {
    const std::string name = "nk:" + std::string(platform) + ":" + std::to_string(index) + ":" + std::string(label);
    unsigned flags = MFD_CLOEXEC | MFD_ALLOW_SEALING;
    if (hugepages) flags |= MFD_HUGETLB | MFD_HUGE_2MB;
    auto fd = sys::call("memfd_create " + name, [&] { return ::memfd_create(name.c_str(), flags); });
    if (!fd) return fail(std::move(fd.error()));
    UniqueFd owned(*fd);
    auto sized = sys::call("ftruncate " + name, [&] { return ::ftruncate(owned.get(), static_cast<off_t>(size)); });
    if (!sized) return fail(std::move(sized.error()));
    auto backed = sys::call("fallocate " + name, [&] {
        return ::fallocate(owned.get(), 0, 0, static_cast<off_t>(size));
    });
    if (!backed) {
        std::string hint = hugepages ? "; reserve 2 MiB huge pages first (echo N > /proc/sys/vm/nr_hugepages)"
                                     : "; is /dev/shm or memory full?";
        return fail(context(std::move(backed.error()), "cannot back area '" + std::string(label) + "' (" +
                                                           std::to_string(size >> 10) + " KiB)" + hint));
    }
    // Hugetlb files cannot change size anyway; sealing them is refused by older kernels.
    if (!hugepages) {
        auto sealed = sys::call("seal " + name, [&] {
            return ::fcntl(owned.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
        });
        if (!sealed) return fail(std::move(sealed.error()));
    }
    return owned;
}

Result<UniqueFd> reopen_fd(int fd, int access_mode) {
    if (access_mode < 0) {
        auto fl = sys::call("fcntl F_GETFL", [&] { return ::fcntl(fd, F_GETFL); });
        if (!fl) return fail(std::move(fl.error()));
        access_mode = *fl & O_ACCMODE;
    }
    const std::string path = fd_path(fd);
    auto reopened = sys::call("reopen " + path, [&] { return ::open(path.c_str(), access_mode | O_CLOEXEC); });
    if (!reopened) return fail(std::move(reopened.error()));
    return UniqueFd(*reopened);
}

Result<std::vector<AreaFile>> identify_area_files(std::vector<UniqueFd> fds) {
    std::vector<AreaFile> files;
    for (auto& fd : fds) {
        const std::string path = fd_path(fd.get());
        std::array<char, 512> target{};
        const ssize_t n = ::readlink(path.c_str(), target.data(), target.size() - 1);
        if (n < 0)
            return fail(Error{std::error_code(errno, std::system_category()),
                              "descriptor " + std::to_string(fd.get()) + " cannot be read: " + std::strerror(errno)});
        std::string_view name(target.data(), static_cast<std::size_t>(n));
        if (!name.starts_with(kMemfdPrefix))
            return fail(RegionError::BadMagic, "descriptor " + std::to_string(fd.get()) + " (" + std::string(name) +
                                                   ") is not a region area");
        name.remove_prefix(kMemfdPrefix.size());
        if (name.ends_with(kDeletedSuffix)) name.remove_suffix(kDeletedSuffix.size());
        // nk:<platform>:<index>:<label>
        if (!name.starts_with("nk:"))
            return fail(RegionError::BadMagic, "memfd '" + std::string(name) + "' is not a region area");
        name.remove_prefix(3);
        const auto c1 = name.find(':');
        const auto c2 = c1 == std::string_view::npos ? c1 : name.find(':', c1 + 1);
        unsigned index = 0;
        if (c2 == std::string_view::npos ||
            std::from_chars(name.data() + c1 + 1, name.data() + c2, index).ec != std::errc{} || index >= layout::kMaxAreas)
            return fail(RegionError::BadMagic, "memfd 'nk:" + std::string(name) + "' has a malformed area name");
        struct stat st {};
        if (::fstat(fd.get(), &st) != 0)
            return fail(Error{std::error_code(errno, std::system_category()), "fstat of an area descriptor failed"});
        auto fl = sys::call("fcntl F_GETFL", [&] { return ::fcntl(fd.get(), F_GETFL); });
        if (!fl) return fail(std::move(fl.error()));
        AreaFile file;
        file.platform = std::string(name.substr(0, c1));
        file.index = static_cast<std::uint16_t>(index);
        file.label = std::string(name.substr(c2 + 1));
        file.size = static_cast<std::uint64_t>(st.st_size);
        file.writable = (*fl & O_ACCMODE) == O_RDWR;
        file.fd = std::move(fd);
        files.push_back(std::move(file));
    }
    return files;
}

Result<layout::ManagementTables> read_tables(int fd) {
    struct stat st {};
    if (::fstat(fd, &st) != 0)
        return fail(Error{std::error_code(errno, std::system_category()), "fstat of the management area failed"});
    if (static_cast<std::uint64_t>(st.st_size) < sizeof(layout::ManagementTables))
        return fail(RegionError::SizeMismatch, "the management area is " + std::to_string(st.st_size) +
                                                   " bytes, smaller than the management tables");
    layout::ManagementTables tables{};
    auto got = sys::call("read management tables", [&] { return ::pread(fd, &tables, sizeof tables, 0); });
    if (!got) return fail(std::move(got.error()));
    if (static_cast<std::size_t>(*got) != sizeof tables)
        return fail(RegionError::SizeMismatch, "short read of the management tables");
    if (auto valid = validate_tables(tables, static_cast<std::uint64_t>(st.st_size)); !valid)
        return fail(std::move(valid.error()));
    return tables;
}

}  // namespace nk
