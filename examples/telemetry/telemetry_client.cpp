// The telemetry client, for the linux guest:
//
//   nk_example_telemetry_client read SENSOR
//   nk_example_telemetry_client subscribe SENSOR [COUNT [INTERVAL_MS]]
//   nk_example_telemetry_client set SENSOR VALUE
//   nk_example_telemetry_client watch COUNT          (the topic.telemetry topic: every sensor)
//   nk_example_telemetry_client monitor COUNT SENSOR...  (one Asio io_context subscribed to several
//                                                   sensors at once, readings as they come)
//
// Prints what the rt guest's telemetry server answers; exits 1 with the RPC status otherwise.
#include <cstdio>
#include <cstdlib>
#include <string>

#include <asio/io_context.hpp>

#include "nk/nanokernel/guest.hpp"
#include "nk/rpc/asio_channel.hpp"
#include "nk/rpc/topic.hpp"
#include "telemetry.nk.h"

namespace {

namespace tel = nk::examples::telemetry;
using namespace std::chrono_literals;

int usage() {
    std::fprintf(stderr,
                 "usage: nk_example_telemetry_client read SENSOR\n"
                 "       nk_example_telemetry_client subscribe SENSOR [COUNT [INTERVAL_MS]]\n"
                 "       nk_example_telemetry_client set SENSOR VALUE\n"
                 "       nk_example_telemetry_client watch COUNT\n"
                 "       nk_example_telemetry_client monitor COUNT SENSOR...\n");
    return 2;
}

void print(const tel::Reading& r) {
    std::printf("sensor %u: %.3f (set-point %.3f) tick %llu\n", r.sensor(), r.value(), r.set_point(),
                static_cast<unsigned long long>(r.sequence()));
}

int failed(const char* what, const nk::rpc::Status& status) {
    std::fprintf(stderr, "telemetry_client: %s: %s\n", what, status.to_string().c_str());
    return 1;
}

// COUNT readings of each SENSOR through asynchronous subscriptions on one io_context: no thread
// per stream, the readings interleaved as the server sends them.
int monitor(const nk::Region& region, std::uint32_t count, int sensors, char** sensor_names) {
    asio::io_context io;
    auto channel = nk::rpc::AsioChannel::open(io, region, "svc.telemetry");
    if (!channel) {
        std::fprintf(stderr, "telemetry_client: %s\n", channel.error().message.c_str());
        return 1;
    }
    tel::TelemetryAsyncClient client(**channel);
    int ended_ok = 0, failures = 0;
    for (int i = 0; i < sensors; ++i) {
        tel::SubscribeRequest request;
        request.set_sensor(static_cast<std::uint32_t>(std::strtoul(sensor_names[i], nullptr, 10)));
        request.set_count(count);
        request.set_interval_ms(20);
        client.Subscribe(request, 10s, [](const tel::Reading& reading) { print(reading); },
                         [&, sensor = request.sensor()](nk::rpc::Status status) {
                             if (status.ok()) ++ended_ok;
                             else {
                                 ++failures;
                                 std::fprintf(stderr, "telemetry_client: monitor sensor %u: %s\n", sensor,
                                              status.to_string().c_str());
                             }
                         });
    }
    io.run();  // until every subscription has ended
    std::printf("%d subscriptions ended OK\n", ended_ok);
    return failures == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3) return usage();
    const std::string command = argv[1];
    const auto sensor = static_cast<std::uint32_t>(std::strtoul(argv[2], nullptr, 10));
    auto region = nk::guest::attach();
    if (!region) {
        std::fprintf(stderr, "telemetry_client: cannot attach to the platform: %s\n", region.error().message.c_str());
        return 1;
    }
    if (command == "watch") {
        auto topic = nk::rpc::Subscriber<tel::Reading>::open(region->get(), "topic.telemetry");
        if (!topic) {
            std::fprintf(stderr, "telemetry_client: %s\n", topic.error().message.c_str());
            return 1;
        }
        tel::Reading reading;
        for (std::uint32_t n = 0; n < sensor; ++n) {  // here the second argument is the count
            if (auto status = topic->next(reading, 1s); !status.ok()) return failed("watch", status);
            print(reading);
        }
        std::printf("%llu readings lost (inbox full)\n", static_cast<unsigned long long>(topic->lost()));
        return 0;
    }
    if (command == "monitor") return monitor(region->get(), sensor, argc - 3, argv + 3);  // sensor: the count here
    auto channel = nk::rpc::Channel::open(region->get(), "svc.telemetry");
    if (!channel) {
        std::fprintf(stderr, "telemetry_client: %s (is the telemetry server running in the rt guest?)\n",
                     channel.error().message.c_str());
        return 1;
    }
    tel::TelemetryClient client(*channel);
    if (command == "read") {
        tel::ReadRequest request;
        request.set_sensor(sensor);
        tel::Reading reading;
        if (auto status = client.Read(request, reading, 100ms); !status.ok()) return failed("read", status);
        print(reading);
        return 0;
    }
    if (command == "subscribe") {
        tel::SubscribeRequest request;
        request.set_sensor(sensor);
        request.set_count(argc > 3 ? static_cast<std::uint32_t>(std::strtoul(argv[3], nullptr, 10)) : 10);
        request.set_interval_ms(argc > 4 ? static_cast<std::uint32_t>(std::strtoul(argv[4], nullptr, 10)) : 100);
        nk::rpc::CallContext context;  // no deadline: as long as the stream runs
        auto readings = client.Subscribe(request, context);
        tel::Reading reading;
        while (readings.read(reading)) print(reading);
        if (auto status = readings.finish(); !status.ok()) return failed("subscribe", status);
        return 0;
    }
    if (command == "set" && argc == 4) {
        tel::SetPointRequest request;
        request.set_sensor(sensor);
        request.set_value(std::strtod(argv[3], nullptr));
        tel::SetPointReply reply;
        if (auto status = client.SetPoint(request, reply, 100ms); !status.ok()) return failed("set", status);
        std::printf("sensor %u: set-point %.3f (was %.3f)\n", sensor, request.value(), reply.previous());
        return 0;
    }
    return usage();
}
