// protoc-gen-nk: protoc runs it with a CodeGeneratorRequest on stdin (`protoc --nk_out=DIR`).
#include <google/protobuf/compiler/plugin.h>

#include "generator.hpp"

int main(int argc, char* argv[]) {
    const nk::rpc::gen::Generator generator;
    return google::protobuf::compiler::PluginMain(argc, argv, &generator);
}
