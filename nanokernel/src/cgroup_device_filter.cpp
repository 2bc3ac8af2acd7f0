// deny_devices_v2 (cgroup_device_filter.hpp): a cgroup device program, loaded and attached with
// the bpf(2) system call.
#include "cgroup_device_filter.hpp"

#include <fcntl.h>
#include <linux/bpf.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "nk/nanokernel/region_error.hpp"

namespace nk::detail {
namespace {

constexpr bpf_insn insn(std::uint8_t code, std::uint8_t dst, std::uint8_t src, std::int16_t off, std::int32_t imm) {
    bpf_insn i{};
    i.code = code;
    i.dst_reg = dst & 0xf;  // registers are 4-bit fields
    i.src_reg = src & 0xf;
    i.off = off;
    i.imm = imm;
    return i;
}
// r_dst = *(u32*)(r_src + off)
constexpr bpf_insn load_word(std::uint8_t dst, std::uint8_t src, std::int16_t off) {
    return insn(BPF_LDX | BPF_MEM | BPF_W, dst, src, off, 0);
}
// if r_dst != imm: skip the next `skip` instructions
constexpr bpf_insn skip_unless_equal(std::uint8_t dst, std::uint32_t imm, std::int16_t skip) {
    return insn(BPF_JMP | BPF_JNE | BPF_K, dst, 0, skip, static_cast<std::int32_t>(imm));
}
constexpr bpf_insn return_value(std::int32_t value) { return insn(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, value); }
constexpr bpf_insn exit_program() { return insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0); }

long bpf(int command, bpf_attr& attr) { return ::syscall(SYS_bpf, command, &attr, sizeof attr); }

Error bpf_error(const std::string& what, int err) {
    return Error{std::error_code(err, std::system_category()), what + ": " + std::strerror(err)};
}

// The fd closes on every path; the kernel keeps what was attached.
struct Fd {
    int fd = -1;
    ~Fd() {
        if (fd >= 0) ::close(fd);
    }
};

}  // namespace

Result<void> deny_devices_v2(const std::string& dir, const std::vector<DeviceNumber>& devices) {
    // The context (struct bpf_cgroup_dev_ctx): access_type (device type in the low 16 bits, the
    // access asked for in the high ones), major, minor. Every access is refused: read, write, mknod.
    std::vector<bpf_insn> program = {
        load_word(BPF_REG_2, BPF_REG_1, offsetof(bpf_cgroup_dev_ctx, access_type)),
        insn(BPF_ALU | BPF_AND | BPF_K, BPF_REG_2, 0, 0, 0xffff),
        load_word(BPF_REG_3, BPF_REG_1, offsetof(bpf_cgroup_dev_ctx, major)),
        load_word(BPF_REG_4, BPF_REG_1, offsetof(bpf_cgroup_dev_ctx, minor)),
    };
    for (const auto& device : devices) {
        // Five instructions: a mismatch in any of the three jumps past the refusal.
        program.push_back(skip_unless_equal(BPF_REG_2, device.block ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR, 4));
        program.push_back(skip_unless_equal(BPF_REG_3, device.major, 3));
        program.push_back(skip_unless_equal(BPF_REG_4, device.minor, 2));
        program.push_back(return_value(0));
        program.push_back(exit_program());
    }
    program.push_back(return_value(1));
    program.push_back(exit_program());

    static const char license[] = "GPL";
    char log[4096] = {};
    bpf_attr load{};
    load.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
    load.insns = reinterpret_cast<std::uintptr_t>(program.data());
    load.insn_cnt = static_cast<std::uint32_t>(program.size());
    load.license = reinterpret_cast<std::uintptr_t>(license);
    load.log_buf = reinterpret_cast<std::uintptr_t>(log);
    load.log_size = sizeof log;
    load.log_level = 1;
    Fd prog{static_cast<int>(bpf(BPF_PROG_LOAD, load))};
    if (prog.fd < 0) {
        const int err = errno;
        return fail(bpf_error("loading the device program for " + dir + (log[0] ? std::string(" (") + log + ")" : ""), err));
    }
    Fd group{::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
    if (group.fd < 0) return fail(bpf_error("open " + dir, errno));
    bpf_attr attach{};
    attach.target_fd = static_cast<std::uint32_t>(group.fd);
    attach.attach_bpf_fd = static_cast<std::uint32_t>(prog.fd);
    attach.attach_type = BPF_CGROUP_DEVICE;
    // No flags: one program per group, and attaching again replaces it.
    attach.attach_flags = 0;
    if (bpf(BPF_PROG_ATTACH, attach) != 0) return fail(bpf_error("attaching the device program to " + dir, errno));
    return {};
}

}  // namespace nk::detail
