#include "iceoryx_peer.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <thread>

#include "bench_util.hpp"
#include "iceoryx_posh/popo/publisher.hpp"
#include "iceoryx_posh/popo/subscriber.hpp"
#include "iceoryx_posh/runtime/posh_runtime.hpp"

namespace nk::bench {
namespace {

using Publisher = iox::popo::Publisher<std::uint64_t>;
using Subscriber = iox::popo::Subscriber<std::uint64_t>;

iox::capro::IdString_t id(const std::string& text) { return {iox::cxx::TruncateToCapacity, text.c_str()}; }

// "ping" goes leader -> follower, "pong" back; the round is the instance.
iox::capro::ServiceDescription service(const char* direction, int round) {
    return {id("nk-bench"), id(direction), id("round" + std::to_string(round))};
}

// Queue of one, no history: a round trip carries exactly one sample each way.
iox::popo::SubscriberOptions one_sample() {
    iox::popo::SubscriberOptions options;
    options.queueCapacity = 1U;
    options.historyRequest = 0U;
    return options;
}

void send(Publisher& publisher, std::uint64_t value) {
    for (;;) {
        bool sent = false;
        publisher.loan().and_then([&](auto& sample) {
            *sample = value;
            sample.publish();
            sent = true;
        });
        if (sent) return;  // a loan fails only while the follower still holds the last sample
    }
}

std::uint64_t take(Subscriber& subscriber) {
    for (;;) {
        std::uint64_t value = 0;
        bool got = false;
        subscriber.take().and_then([&](auto& sample) {
            value = *sample;
            got = true;
        });
        if (got) return value;
    }
}

// Both ends are connected once our subscriber is subscribed and our publisher has one.
void wait_connected(Subscriber& subscriber, Publisher& publisher) {
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (subscriber.getSubscriptionState() != iox::SubscribeState::SUBSCRIBED || !publisher.hasSubscribers()) {
        if (std::chrono::steady_clock::now() > give_up)
            throw std::runtime_error("iceoryx: the other side did not connect within 10 s (is iox-roudi running?)");
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
}

}  // namespace

std::vector<double> iceoryx_pingpong(const std::string& self, int round, std::uint64_t warmup, std::uint64_t trips) {
    static const bool runtime_started = [] {
        iox::runtime::PoshRuntime::initRuntime("nk-bench-ipc-leader");
        return true;
    }();
    (void)runtime_started;
    Publisher ping(service("ping", round));
    Subscriber pong(service("pong", round), one_sample());
    const std::string round_arg = std::to_string(round), count_arg = std::to_string(warmup + trips);
    const pid_t follower = fork_pinned(1, [&] {
        ::execl(self.c_str(), self.c_str(), "--iceoryx-follower", round_arg.c_str(), count_arg.c_str(),
                static_cast<char*>(nullptr));
        throw std::runtime_error("exec " + self + " failed");
    });
    pin_to_cpu(0);
    wait_connected(pong, ping);
    std::vector<double> rtt;
    rtt.reserve(trips);
    for (std::uint64_t i = 1; i <= warmup + trips; ++i) {
        const auto start = now_ns();
        send(ping, i);
        if (take(pong) != i) throw std::runtime_error("iceoryx: an answer out of order");
        if (i > warmup) rtt.push_back(static_cast<double>(now_ns() - start));
    }
    int status = 0;
    ::waitpid(follower, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) throw std::runtime_error("iceoryx follower failed");
    return rtt;
}

int iceoryx_follower(int round, std::uint64_t count) {
    const std::string name = "nk-bench-ipc-follower-" + std::to_string(::getpid());
    iox::runtime::PoshRuntime::initRuntime(id(name));
    Subscriber ping(service("ping", round), one_sample());
    Publisher pong(service("pong", round));
    try {
        wait_connected(ping, pong);
        for (std::uint64_t i = 1; i <= count; ++i) {
            const std::uint64_t value = take(ping);
            if (value != i) throw std::runtime_error("iceoryx follower: a ping out of order");
            send(pong, value);
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 1;
    }
    return 0;
}

}  // namespace nk::bench
