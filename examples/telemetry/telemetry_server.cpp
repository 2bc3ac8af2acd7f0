// The telemetry server: run as the rt guest's program (examples/platforms/telemetry.toml).
//
// A 100 Hz loop moves four simulated sensors towards their set-points and publishes every
// reading on the typed topic "topic.telemetry" (any number of subscribers, in any guest); the
// Telemetry service (telemetry.proto) serves the latest readings on port "svc.telemetry", streams
// them, and takes new set-points. SIGTERM (or SIGINT) stops it cleanly.
#include <signal.h>
#include <time.h>

#include <array>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <mutex>
#include <thread>

#include "nk/nanokernel/guest.hpp"
#include "nk/rpc/topic.hpp"
#include "telemetry.nk.h"

namespace {

namespace tel = nk::examples::telemetry;
constexpr std::uint32_t kSensors = 4;
constexpr auto kTick = std::chrono::milliseconds(10);

std::int64_t monotonic_ns() {
    timespec now{};
    ::clock_gettime(CLOCK_MONOTONIC, &now);
    return std::int64_t{now.tv_sec} * 1'000'000'000 + now.tv_nsec;
}

// The plant: sensor values that follow their set-points with a first-order lag.
class Plant {
public:
    void tick() {
        std::lock_guard lock(mutex_);
        ++sequence_;
        for (std::uint32_t i = 0; i < kSensors; ++i) {
            values_[i] += 0.05 * (set_points_[i] - values_[i]) + 0.01 * std::sin(static_cast<double>(sequence_ + i));
        }
    }
    void read(std::uint32_t sensor, tel::Reading& out) const {
        std::lock_guard lock(mutex_);
        out.set_sensor(sensor);
        out.set_value(values_[sensor]);
        out.set_set_point(set_points_[sensor]);
        out.set_sequence(sequence_);
        out.set_monotonic_ns(monotonic_ns());
    }
    double set(std::uint32_t sensor, double value) {
        std::lock_guard lock(mutex_);
        return std::exchange(set_points_[sensor], value);
    }

private:
    mutable std::mutex mutex_;
    std::uint64_t sequence_ = 0;
    std::array<double, kSensors> values_{20.0, 20.0, 20.0, 20.0};
    std::array<double, kSensors> set_points_{20.0, 20.0, 20.0, 20.0};
};

nk::rpc::Status no_such_sensor(std::uint32_t sensor) {
    return {nk::rpc::StatusCode::InvalidArgument,
            "sensor " + std::to_string(sensor) + " does not exist (0.." + std::to_string(kSensors - 1) + ")"};
}

class Telemetry final : public tel::TelemetryService {
public:
    explicit Telemetry(Plant& plant) : plant_(plant) {}

    nk::rpc::Status Read(nk::rpc::ServerContext&, const tel::ReadRequest& request, tel::Reading& reading) override {
        if (request.sensor() >= kSensors) return no_such_sensor(request.sensor());
        plant_.read(request.sensor(), reading);
        return {};
    }
    nk::rpc::Status Subscribe(nk::rpc::ServerContext& context, const tel::SubscribeRequest& request,
                              nk::rpc::ServerWriter<tel::Reading>& writer) override {
        if (request.sensor() >= kSensors) return no_such_sensor(request.sensor());
        const auto interval = std::chrono::milliseconds(std::max<std::uint32_t>(request.interval_ms(), 1));
        tel::Reading reading;
        auto next = std::chrono::steady_clock::now();
        for (std::uint32_t sent = 0; request.count() == 0 || sent < request.count(); ++sent) {
            if (context.cancelled()) return {nk::rpc::StatusCode::Cancelled, "subscription cancelled"};
            plant_.read(request.sensor(), reading);
            if (!writer.write(reading)) return {nk::rpc::StatusCode::Cancelled, "the subscriber went away"};
            next += interval;
            std::this_thread::sleep_until(next);
        }
        return {};
    }
    nk::rpc::Status SetPoint(nk::rpc::ServerContext&, const tel::SetPointRequest& request, tel::SetPointReply& reply) override {
        if (request.sensor() >= kSensors) return no_such_sensor(request.sensor());
        if (!std::isfinite(request.value())) return {nk::rpc::StatusCode::InvalidArgument, "a set-point must be finite"};
        reply.set_previous(plant_.set(request.sensor(), request.value()));
        return {};
    }

private:
    Plant& plant_;
};

}  // namespace

int main() {
    // Signals are taken by sigwait below, never handled in a handler; blocked before any thread starts.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

    auto region = nk::guest::attach();
    if (!region) {
        std::fprintf(stderr, "telemetry_server: cannot attach to the platform: %s\n", region.error().message.c_str());
        return 1;
    }
    Plant plant;
    Telemetry service(plant);
    nk::rpc::Server server(region->get(), "svc.telemetry", {.threads = 2});
    if (auto added = server.add(service); !added) {
        std::fprintf(stderr, "telemetry_server: %s\n", added.error().message.c_str());
        return 1;
    }
    if (auto started = server.start(); !started) {
        std::fprintf(stderr, "telemetry_server: %s\n", started.error().message.c_str());
        return 1;
    }
    auto readings = nk::rpc::Publisher<tel::Reading>::create(region->get(), "topic.telemetry");
    if (!readings) {
        std::fprintf(stderr, "telemetry_server: %s\n", readings.error().message.c_str());
        return 1;
    }
    std::fprintf(stderr, "telemetry_server: serving %u sensors on port svc.telemetry, publishing topic.telemetry\n",
                 kSensors);

    std::atomic<bool> stopping{false};
    std::thread loop([&] {
        auto next = std::chrono::steady_clock::now();
        tel::Reading reading;
        while (!stopping.load(std::memory_order_relaxed)) {  // relaxed: a stop flag
            plant.tick();
            for (std::uint32_t sensor = 0; sensor < kSensors; ++sensor) {
                plant.read(sensor, reading);
                (void)readings->publish(reading);  // never blocks; a slow subscriber loses readings, not the loop
            }
            next += kTick;
            std::this_thread::sleep_until(next);
        }
    });
    int signal = 0;
    sigwait(&stop_signals, &signal);
    std::fprintf(stderr, "telemetry_server: signal %d, stopping\n", signal);
    stopping.store(true, std::memory_order_relaxed);
    loop.join();
    server.stop();
    return 0;
}
