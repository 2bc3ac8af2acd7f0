// Uses the code nk_protobuf_generate() made from hello.proto with the installed nk::rpc.
#include <cstdio>

#include "hello.nk.h"

class Greeter final : public consumer::GreeterService {
    nk::rpc::Status Greet(nk::rpc::ServerContext&, const consumer::Hello& request, consumer::Hello& reply) override {
        reply.set_name("hello " + request.name());
        return {};
    }
};

int main() {
    Greeter greeter;
    const auto methods = greeter.methods();
    if (methods.size() != 2 || methods[0].id != nk::rpc::method_id("/consumer.Greeter/Greet")) {
        std::fprintf(stderr, "nk_rpc_consumer: unexpected method table\n");
        return 1;
    }
    std::printf("nk_rpc_consumer: %.*s has %zu methods\n", static_cast<int>(greeter.service_name().size()),
                greeter.service_name().data(), methods.size());
    return 0;
}
