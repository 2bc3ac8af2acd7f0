// PortWaiter (ipc/include/nk/ipc/asio_port.hpp): one io_context receives on many ports.
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <map>

#include <gtest/gtest.h>

#include "nk/ipc/asio_port.hpp"
#include "test_platform.hpp"

namespace nk::ipc {
namespace {

using namespace std::chrono_literals;

class AsioPortTest : public test::SmallPlatformTest {};

TEST_F(AsioPortTest, OneIoContextServesThreePortsFedByAnotherProcess) {
    constexpr int kPorts = 3, kMessages = 200;
    std::vector<Port> ports;
    for (int i = 0; i < kPorts; ++i) {
        auto port = Port::create(*rt_guest, "rt.in" + std::to_string(i), {4096, 64, "linux"});
        ASSERT_TRUE(port) << port.error().message;
        ports.push_back(std::move(*port));
    }
    const pid_t sender = ::fork();
    if (sender == 0) {
        std::vector<PortSender> out;
        for (int i = 0; i < kPorts; ++i) out.push_back(*PortSender::open(*linux_guest, "rt.in" + std::to_string(i)));
        for (int m = 0; m < kMessages; ++m)
            for (int i = 0; i < kPorts; ++i) {
                if (m % 50 == 0) std::this_thread::sleep_for(2ms);  // let the receiver fall asleep now and then
                const std::array<int, 2> message{i, m};
                if (auto sent = out[i].send(std::as_bytes(std::span(message)), 10s); !sent) {
                    std::fprintf(stderr, "sender: %s\n", sent.error().message.c_str());
                    ::_exit(1);
                }
            }
        ::_exit(0);
    }

    asio::io_context io;
    PortWaiter waiter(io);
    std::vector<std::array<int, 2>> buffers(kPorts);
    std::map<int, int> next;
    bool in_order = true;
    std::function<void(int)> arm = [&](int i) {
        waiter.async_receive(ports[i], std::as_writable_bytes(std::span(buffers[i])), [&, i](Result<std::size_t> got) {
            if (!got || *got != sizeof buffers[i] || buffers[i][0] != i || buffers[i][1] != next[i]) in_order = false;
            if (++next[i] < kMessages && in_order) arm(i);
        });
    };
    for (int i = 0; i < kPorts; ++i) arm(i);
    io.run_for(20s);  // returns early once every receive has completed: no work is left
    for (int i = 0; i < kPorts; ++i) EXPECT_EQ(next[i], kMessages) << "port " << i;
    EXPECT_TRUE(in_order);
    EXPECT_EQ(waiter.pending(), 0U);
    int status = 0;
    ::waitpid(sender, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

TEST_F(AsioPortTest, CancelEndsPendingReceivesWithAnError) {
    auto port = Port::create(*rt_guest, "rt.quiet", {4096, 64, "linux"});
    ASSERT_TRUE(port);
    asio::io_context io;
    PortWaiter waiter(io);
    std::array<std::byte, 64> buffer{};
    std::optional<Result<std::size_t>> outcome;
    waiter.async_receive(*port, buffer, [&](Result<std::size_t> got) { outcome = std::move(got); });
    io.run_for(20ms);
    EXPECT_FALSE(outcome);  // nothing sent: still pending
    waiter.cancel_all();
    io.run_for(100ms);
    ASSERT_TRUE(outcome);
    ASSERT_FALSE(*outcome);
    EXPECT_EQ(outcome->error().code, make_error_code(RegionError::Busy));
}

}  // namespace
}  // namespace nk::ipc
