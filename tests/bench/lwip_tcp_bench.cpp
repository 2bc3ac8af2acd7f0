// TCP throughput into the lwIP guest: one TCP stream over the netbridge's packet ports into a
// discard service (the bytes are read and dropped) on lwIP in guest "rt".
//
// lwIP is one per process, so the run forks after making the region: the parent is guest "rt"
// (LwipStack, a discard server on lwIP's sockets API), the child is guest "linux" with a second
// LwipStack as the TCP sender, standing in for the linux guest's kernel until the TUN router
// runs. Both ends are lwIP here, so the figure is a floor for a kernel sender (which also
// offloads segmentation to the router).
//
//   nk_bench_lwip_tcp [MEGABYTES=512]
//   lwip tcp: 512 MiB in 3.1 s: 1.38 Gbit/s (rt rx 372k packets, tx 186k)
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

extern "C" {
#include <lwip/sockets.h>
}

#include "nk/nanokernel/platform_config.hpp"
#include "nk/nanokernel/region.hpp"
#include "nk/netbridge/lwip_stack.hpp"
#include "nk/netbridge/net_stats.hpp"

namespace {

constexpr std::uint16_t kDiscardPort = 9;

std::string platform_toml() {
    return "[platform]\nname = \"lwipbench" + std::to_string(::getpid()) +
           "\"\n[areas]\nlink_size = \"4 MiB\"\ncommon_size = \"256 KiB\"\npnv_size = \"256 KiB\"\n"
           "[[guests]]\nid = 1\nname = \"linux\"\nkind = \"linux\"\nmemory = \"256 KiB\"\ncpus = [0]\n"
           "net = { address = \"10.77.1.1/24\" }\n"
           "[[guests]]\nid = 2\nname = \"rt\"\nkind = \"rt\"\nmemory = \"256 KiB\"\ncpus = [0]\nsched = \"rt\"\npriority = 50\n"
           "net = { address = \"10.77.2.1/24\" }\n"
           "[[links]]\nguests = [\"linux\", \"rt\"]\n"
           "[[access]]\nobjects = \"*\"\nguests = [\"*\"]\nrights = \"rw\"\n";
}

[[noreturn]] void die(const std::string& what) {
    std::fprintf(stderr, "lwip tcp bench: %s\n", what.c_str());
    std::exit(1);
}

nk::Region attach(const nk::Region& creator, std::uint16_t id) {
    auto fds = creator.export_fds(nk::Identity::guest(id));
    if (!fds) die(fds.error().message);
    auto region = nk::Region::attach(std::move(*fds), nk::Identity::guest(id));
    if (!region) die(region.error().message);
    return std::move(*region);
}

nk::netbridge::NetPlan plan_of(const nk::PlatformConfig& config, const char* guest) {
    auto plan = nk::netbridge::plan_for(config, *config.find_guest(guest));
    if (!plan) die(plan.error().message);
    plan->is_linux = false;  // the sender is lwIP too (see the top)
    return *plan;
}

int sender(const nk::Region& creator, const nk::PlatformConfig& config, std::size_t bytes) {
    nk::Region region = attach(creator, 1);
    auto stack = nk::netbridge::LwipStack::start(region, plan_of(config, "linux"));
    if (!stack) die(stack.error().message);
    const int fd = lwip_socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(kDiscardPort);
    to.sin_addr.s_addr = htonl(0x0a4d0201);  // 10.77.2.1
    for (int attempt = 0; lwip_connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0; ++attempt) {
        if (attempt == 50) die(std::string("connect: ") + std::strerror(errno));
        lwip_close(fd);
        usleep(100'000);
    }
    std::vector<char> chunk(64 * 1024, 'x');
    std::size_t sent = 0;
    while (sent < bytes) {
        const auto n = lwip_write(fd, chunk.data(), std::min(chunk.size(), bytes - sent));
        if (n < 0) die(std::string("write: ") + std::strerror(errno));
        sent += static_cast<std::size_t>(n);
    }
    lwip_close(fd);
    usleep(500'000);  // the FIN and the last segments go out before the stack does
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    const std::size_t megabytes = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 512;
    const std::size_t bytes = megabytes << 20;
    auto config = nk::parse_platform_config(platform_toml(), "bench.toml");
    if (!config) die(config.error().message);
    auto creator = nk::Region::create(*config);
    if (!creator) die(creator.error().message);
    const pid_t child = ::fork();
    if (child < 0) die("fork");
    if (child == 0) std::_Exit(sender(*creator, *config, bytes));

    nk::Region region = attach(*creator, 2);
    auto stack = nk::netbridge::LwipStack::start(region, plan_of(*config, "rt"));
    if (!stack) die(stack.error().message);
    const int listener = lwip_socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in any{};
    any.sin_family = AF_INET;
    any.sin_port = htons(kDiscardPort);
    if (lwip_bind(listener, reinterpret_cast<sockaddr*>(&any), sizeof any) != 0 || lwip_listen(listener, 1) != 0)
        die("listen");
    const int fd = lwip_accept(listener, nullptr, nullptr);
    if (fd < 0) die("accept");
    std::vector<char> buffer(64 * 1024);
    std::size_t received = 0;
    const auto start = std::chrono::steady_clock::now();
    for (;;) {
        const auto n = lwip_read(fd, buffer.data(), buffer.size());
        if (n <= 0) break;
        received += static_cast<std::size_t>(n);
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    int status = 0;
    ::waitpid(child, &status, 0);
    const auto totals = (*stack)->totals();
    std::printf("lwip tcp: %zu MiB in %.2f s: %.2f Gbit/s (rt rx %llu packets, tx %llu, dropped in %llu out %llu)\n",
                received >> 20, seconds, static_cast<double>(received) * 8 / seconds / 1e9,
                static_cast<unsigned long long>(totals.received), static_cast<unsigned long long>(totals.sent),
                static_cast<unsigned long long>(totals.dropped_in), static_cast<unsigned long long>(totals.dropped_out));
    lwip_close(fd);
    lwip_close(listener);
    return received == bytes && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
