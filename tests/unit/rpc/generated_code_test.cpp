// protoc-gen-nk's output for golden/tricky.proto compiles (this file is built with it, warnings
// as errors) and describes the service the way the runtime expects.
#include <gtest/gtest.h>

#include <functional>

#include "nk/rpc/asio_channel.hpp"
#include "nk/rpc/frame.hpp"
#include "tricky.nk.h"

namespace nk::golden::deep::inner {
namespace {

// A service implementing two RPCs; the rest stay UNIMPLEMENTED.
class Impl final : public EverythingService {
public:
    ::nk::rpc::Status Unary(::nk::rpc::ServerContext&, const Outer& request, Outer_Middle_Leaf& response) override {
        response.set_maybe(static_cast<int>(request.by_name_size()));
        return {};
    }
    ::nk::rpc::Status context(::nk::rpc::ServerContext&, const Outer&, Outer&) override { return {}; }
};

TEST(GeneratedCode, MethodTableNamesEveryRpcWithItsKindAndWireId) {
    Impl impl;
    EXPECT_EQ(impl.service_name(), "nk.golden.deep.inner.Everything");
    const auto methods = impl.methods();
    ASSERT_EQ(methods.size(), 9U);
    const std::vector<std::pair<std::string_view, ::nk::rpc::RpcKind>> expected{
        {"/nk.golden.deep.inner.Everything/Unary", ::nk::rpc::RpcKind::Unary},
        {"/nk.golden.deep.inner.Everything/ServerStream", ::nk::rpc::RpcKind::ServerStreaming},
        {"/nk.golden.deep.inner.Everything/ClientStream", ::nk::rpc::RpcKind::ClientStreaming},
        {"/nk.golden.deep.inner.Everything/Bidi", ::nk::rpc::RpcKind::BidiStreaming},
        {"/nk.golden.deep.inner.Everything/delete", ::nk::rpc::RpcKind::Unary},
        {"/nk.golden.deep.inner.Everything/dispatch", ::nk::rpc::RpcKind::Unary},
        {"/nk.golden.deep.inner.Everything/context", ::nk::rpc::RpcKind::Unary},
        {"/nk.golden.deep.inner.Everything/EverythingClient", ::nk::rpc::RpcKind::Unary},
        {"/nk.golden.deep.inner.Everything/Handler", ::nk::rpc::RpcKind::Unary},
    };
    for (std::size_t i = 0; i < methods.size(); ++i) {
        EXPECT_EQ(methods[i].full_name, expected[i].first);
        EXPECT_EQ(methods[i].kind, expected[i].second);
        EXPECT_EQ(methods[i].id, ::nk::rpc::method_id(expected[i].first));
    }
    EXPECT_TRUE(NothingService().methods().empty());
}

TEST(GeneratedCode, ClashingRpcNamesGetAnUnderscoreAndKeepTheirSignatures) {
    // Compile-time checks that the renamed members exist with the typed signatures.
    using Client = EverythingClient;
    ::nk::rpc::Status (Client::*deleted)(const Outer&, Outer&, std::chrono::nanoseconds) = &Client::delete_;
    ::nk::rpc::Status (Client::*same_as_class)(const Outer&, Outer&, std::chrono::nanoseconds) = &Client::EverythingClient_;
    ::nk::rpc::ClientReader<Outer> (Client::*stream)(const ::google::protobuf::Empty&, ::nk::rpc::CallContext&) =
        &Client::ServerStream;
    ::nk::rpc::Status (EverythingService::*dispatch_rpc)(::nk::rpc::ServerContext&, const Outer&, Outer&) =
        &EverythingService::dispatch_;
    // Client and bidirectional streams: a writer and a reader-writer, typed request first.
    ::nk::rpc::ClientWriter<Outer, ::google::protobuf::Empty> (Client::*upload)(::nk::rpc::CallContext&) =
        &Client::ClientStream;
    ::nk::rpc::ClientReaderWriter<Outer, Outer> (Client::*bidi)(std::chrono::nanoseconds) = &Client::Bidi;
    ::nk::rpc::Status (EverythingService::*serve_upload)(::nk::rpc::ServerContext&, ::nk::rpc::ServerReader<Outer>&,
                                                         ::google::protobuf::Empty&) = &EverythingService::ClientStream;
    ::nk::rpc::Status (EverythingService::*serve_bidi)(::nk::rpc::ServerContext&, ::nk::rpc::ServerReaderWriter<Outer, Outer>&) =
        &EverythingService::Bidi;
    ::nk::rpc::Status (EverythingNoHeapClient::*no_heap_delete)(const Outer&, Outer&, std::chrono::nanoseconds) =
        &EverythingNoHeapClient::delete_;
    EXPECT_NE(no_heap_delete, nullptr);
    EXPECT_NE(upload, nullptr);
    EXPECT_NE(bidi, nullptr);
    EXPECT_NE(serve_upload, nullptr);
    EXPECT_NE(serve_bidi, nullptr);
    // The asynchronous client's methods instantiate against the real AsioChannel.
    using Done = std::function<void(::nk::rpc::Status, Outer)>;
    std::uint64_t (EverythingAsyncClient::*async_handler)(const Outer&, std::chrono::nanoseconds, Done&&) =
        &EverythingAsyncClient::Handler_<Done>;
    std::uint64_t (EverythingAsyncClient::*async_delete)(const Outer&, std::chrono::nanoseconds, Done&&) =
        &EverythingAsyncClient::delete_<Done>;
    EXPECT_NE(async_handler, nullptr);
    EXPECT_NE(async_delete, nullptr);
    EXPECT_NE(deleted, nullptr);
    EXPECT_NE(same_as_class, nullptr);
    EXPECT_NE(stream, nullptr);
    EXPECT_NE(dispatch_rpc, nullptr);
}

}  // namespace
}  // namespace nk::golden::deep::inner
