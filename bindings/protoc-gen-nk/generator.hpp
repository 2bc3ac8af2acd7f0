// nk::rpc::gen::Generator: the code generator behind protoc-gen-nk.
//
// For x.proto it writes x.nk.h and x.nk.cc (beside protoc's x.pb.h) with, for every service Foo:
//   - FooClient: one typed method per unary and server-streaming RPC over an nk::rpc::Channel;
//   - FooService: an nk::rpc::Service with one virtual method per such RPC, returning
//     UNIMPLEMENTED until overridden;
//   - FooAsyncClient: one method per unary RPC over an nk::rpc::AsioChannel (asio_channel.hpp).
// Client- and bidirectional-streaming RPCs are listed in the service's method table (the server
// answers them UNIMPLEMENTED) but get no C++ methods yet. Message types are named exactly as
// protoc's C++ generator names them (cpp::QualifiedClassName), so any valid .proto compiles.
#pragma once

#include <string>

#include <google/protobuf/compiler/code_generator.h>
#include <google/protobuf/descriptor.h>

namespace nk::rpc::gen {

class Generator final : public google::protobuf::compiler::CodeGenerator {
public:
    bool Generate(const google::protobuf::FileDescriptor* file, const std::string& parameter,
                  google::protobuf::compiler::GeneratorContext* context, std::string* error) const override;
    [[nodiscard]] std::uint64_t GetSupportedFeatures() const override { return FEATURE_PROTO3_OPTIONAL; }

    // The two files' text, for tests that do not run protoc.
    [[nodiscard]] static std::string header(const google::protobuf::FileDescriptor* file);
    [[nodiscard]] static std::string source(const google::protobuf::FileDescriptor* file);
};

}  // namespace nk::rpc::gen
