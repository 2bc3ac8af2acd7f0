// Generator (generator.hpp). The text is built from small templates with $name$ holes, one
// template per piece, so that the golden files in tests/unit/rpc/golden/ read like the code here.
#include "generator.hpp"

#include <algorithm>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <string_view>
#include <vector>

#include <google/protobuf/compiler/cpp/names.h>
#include <google/protobuf/io/zero_copy_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

namespace nk::rpc::gen {
namespace {

namespace pb = google::protobuf;
using Vars = std::map<std::string, std::string>;

std::string fill(std::string_view text, const Vars& vars) {
    std::string out;
    for (std::size_t i = 0; i < text.size();) {
        if (text[i] != '$') {
            out += text[i++];
            continue;
        }
        const std::size_t end = text.find('$', i + 1);
        const std::string key(text.substr(i + 1, end - i - 1));
        out += vars.at(key);  // every hole is ours: a missing one is a bug in this file
        i = end + 1;
    }
    return out;
}

std::string strip_proto(const std::string& name) {
    return name.size() > 6 && name.ends_with(".proto") ? name.substr(0, name.size() - 6) : name;
}

// "a.b" -> "a::b": the namespace protoc's C++ code puts the package's messages in.
std::string cpp_namespace(const pb::FileDescriptor* file) {
    std::string ns;
    for (char c : file->package()) {
        if (c == '.') ns += "::";
        else ns += c;
    }
    return ns;
}

// C++ keywords and alternative tokens that are valid proto identifiers.
const std::set<std::string>& keywords() {
    static const std::set<std::string> words{
        "alignas", "alignof", "and", "and_eq", "asm", "auto", "bitand", "bitor", "bool", "break", "case", "catch",
        "char", "char8_t", "char16_t", "char32_t", "class", "compl", "concept", "const", "consteval", "constexpr",
        "constinit", "const_cast", "continue", "co_await", "co_return", "co_yield", "decltype", "default", "delete",
        "do", "double", "dynamic_cast", "else", "enum", "explicit", "export", "extern", "false", "float", "for",
        "friend", "goto", "if", "inline", "int", "long", "mutable", "namespace", "new", "noexcept", "not", "not_eq",
        "nullptr", "operator", "or", "or_eq", "private", "protected", "public", "register", "reinterpret_cast",
        "requires", "return", "short", "signed", "sizeof", "static", "static_assert", "static_cast", "struct",
        "switch", "template", "this", "thread_local", "throw", "true", "try", "typedef", "typeid", "typename",
        "union", "unsigned", "using", "virtual", "void", "volatile", "wchar_t", "while", "xor", "xor_eq"};
    return words;
}

std::string message_type(const pb::Descriptor* type) {
    std::string name = pb::compiler::cpp::QualifiedClassName(type);
    return name.starts_with("::") ? name : "::" + name;
}

// C++ names for a service's members: an RPC called like a keyword, like the class or like one of
// the base class's members gets a trailing underscore, as protoc's C++ generator does for fields.
// (The package's namespace is taken as protoc's C++ generator takes it: dots become "::".)
std::string member_name(const std::string& rpc, const std::set<std::string>& taken) {
    std::string name = keywords().count(rpc) != 0 ? rpc + "_" : rpc;
    while (taken.count(name) != 0) name += "_";
    return name;
}

enum class Kind { Unary, ServerStreaming, ClientStreaming, Bidi };
Kind kind(const pb::MethodDescriptor* method) {
    if (method->client_streaming()) return method->server_streaming() ? Kind::Bidi : Kind::ClientStreaming;
    return method->server_streaming() ? Kind::ServerStreaming : Kind::Unary;
}

// The templates of each piece, per kind of RPC.
std::string_view client_declaration(Kind k) {
    switch (k) {
        case Kind::Unary:
            return "\n    // rpc $rpc$($request_proto$) returns ($response_proto$)\n"
                   "    ::nk::rpc::Status $client_name$(const $request$& request, $response$& response,\n"
                   "        ::nk::rpc::CallContext& context);\n"
                   "    ::nk::rpc::Status $client_name$(const $request$& request, $response$& response,\n"
                   "        std::chrono::nanoseconds timeout);\n";
        case Kind::ServerStreaming:
            return "\n    // rpc $rpc$($request_proto$) returns (stream $response_proto$)\n"
                   "    ::nk::rpc::ClientReader<$response$> $client_name$(const $request$& request,\n"
                   "        ::nk::rpc::CallContext& context);\n"
                   "    ::nk::rpc::ClientReader<$response$> $client_name$(const $request$& request,\n"
                   "        std::chrono::nanoseconds timeout);\n";
        case Kind::ClientStreaming:
            return "\n    // rpc $rpc$(stream $request_proto$) returns ($response_proto$)\n"
                   "    ::nk::rpc::ClientWriter<$request$, $response$> $client_name$(::nk::rpc::CallContext& context);\n"
                   "    ::nk::rpc::ClientWriter<$request$, $response$> $client_name$(std::chrono::nanoseconds timeout);\n";
        case Kind::Bidi:
            return "\n    // rpc $rpc$(stream $request_proto$) returns (stream $response_proto$)\n"
                   "    ::nk::rpc::ClientReaderWriter<$request$, $response$> $client_name$(::nk::rpc::CallContext& context);\n"
                   "    ::nk::rpc::ClientReaderWriter<$request$, $response$> $client_name$(std::chrono::nanoseconds timeout);\n";
    }
    return {};
}

std::string_view service_declaration(Kind k) {
    switch (k) {
        case Kind::Unary:
            return "\n    virtual ::nk::rpc::Status $service_name$(::nk::rpc::ServerContext& context,\n"
                   "        const $request$& request, $response$& response);\n";
        case Kind::ServerStreaming:
            return "\n    virtual ::nk::rpc::Status $service_name$(::nk::rpc::ServerContext& context,\n"
                   "        const $request$& request, ::nk::rpc::ServerWriter<$response$>& writer);\n";
        case Kind::ClientStreaming:
            return "\n    virtual ::nk::rpc::Status $service_name$(::nk::rpc::ServerContext& context,\n"
                   "        ::nk::rpc::ServerReader<$request$>& reader, $response$& response);\n";
        case Kind::Bidi:
            return "\n    virtual ::nk::rpc::Status $service_name$(::nk::rpc::ServerContext& context,\n"
                   "        ::nk::rpc::ServerReaderWriter<$request$, $response$>& stream);\n";
    }
    return {};
}

std::string_view client_definition(Kind k) {
    switch (k) {
        case Kind::Unary:
            return "::nk::rpc::Status $client$::$client_name$(const $request$& request, $response$& response,\n"
                   "    ::nk::rpc::CallContext& context) {\n"
                   "    return nk_channel_->call(k$name$Methods[$index$].id, request, response, context);\n"
                   "}\n\n"
                   "::nk::rpc::Status $client$::$client_name$(const $request$& request, $response$& response,\n"
                   "    std::chrono::nanoseconds timeout) {\n"
                   "    ::nk::rpc::CallContext context(timeout);\n"
                   "    return nk_channel_->call(k$name$Methods[$index$].id, request, response, context);\n"
                   "}\n\n";
        case Kind::ServerStreaming:
            return "::nk::rpc::ClientReader<$response$> $client$::$client_name$(const $request$& request,\n"
                   "    ::nk::rpc::CallContext& context) {\n"
                   "    return ::nk::rpc::ClientReader<$response$>(\n"
                   "        nk_channel_->start_stream(k$name$Methods[$index$].id, request, context));\n"
                   "}\n\n"
                   "::nk::rpc::ClientReader<$response$> $client$::$client_name$(const $request$& request,\n"
                   "    std::chrono::nanoseconds timeout) {\n"
                   "    return ::nk::rpc::ClientReader<$response$>(\n"
                   "        nk_channel_->start_stream(k$name$Methods[$index$].id, request, timeout));\n"
                   "}\n\n";
        case Kind::ClientStreaming:
            return "::nk::rpc::ClientWriter<$request$, $response$> $client$::$client_name$(::nk::rpc::CallContext& context) {\n"
                   "    return ::nk::rpc::ClientWriter<$request$, $response$>(\n"
                   "        nk_channel_->start_duplex(k$name$Methods[$index$].id, ::nk::rpc::RpcKind::ClientStreaming, context));\n"
                   "}\n\n"
                   "::nk::rpc::ClientWriter<$request$, $response$> $client$::$client_name$(std::chrono::nanoseconds timeout) {\n"
                   "    return ::nk::rpc::ClientWriter<$request$, $response$>(\n"
                   "        nk_channel_->start_duplex(k$name$Methods[$index$].id, ::nk::rpc::RpcKind::ClientStreaming, timeout));\n"
                   "}\n\n";
        case Kind::Bidi:
            return "::nk::rpc::ClientReaderWriter<$request$, $response$> $client$::$client_name$(::nk::rpc::CallContext& context) {\n"
                   "    return ::nk::rpc::ClientReaderWriter<$request$, $response$>(\n"
                   "        nk_channel_->start_duplex(k$name$Methods[$index$].id, ::nk::rpc::RpcKind::BidiStreaming, context));\n"
                   "}\n\n"
                   "::nk::rpc::ClientReaderWriter<$request$, $response$> $client$::$client_name$(std::chrono::nanoseconds timeout) {\n"
                   "    return ::nk::rpc::ClientReaderWriter<$request$, $response$>(\n"
                   "        nk_channel_->start_duplex(k$name$Methods[$index$].id, ::nk::rpc::RpcKind::BidiStreaming, timeout));\n"
                   "}\n\n";
    }
    return {};
}

std::string_view service_default(Kind k) {
    switch (k) {
        case Kind::Unary:
            return "::nk::rpc::Status $base$::$service_name$(::nk::rpc::ServerContext&, const $request$&, $response$&) {\n"
                   "    return {::nk::rpc::StatusCode::Unimplemented, \"$dotted$ is not implemented\"};\n"
                   "}\n\n";
        case Kind::ServerStreaming:
            return "::nk::rpc::Status $base$::$service_name$(::nk::rpc::ServerContext&, const $request$&,\n"
                   "    ::nk::rpc::ServerWriter<$response$>&) {\n"
                   "    return {::nk::rpc::StatusCode::Unimplemented, \"$dotted$ is not implemented\"};\n"
                   "}\n\n";
        case Kind::ClientStreaming:
            return "::nk::rpc::Status $base$::$service_name$(::nk::rpc::ServerContext&, ::nk::rpc::ServerReader<$request$>&,\n"
                   "    $response$&) {\n"
                   "    return {::nk::rpc::StatusCode::Unimplemented, \"$dotted$ is not implemented\"};\n"
                   "}\n\n";
        case Kind::Bidi:
            return "::nk::rpc::Status $base$::$service_name$(::nk::rpc::ServerContext&,\n"
                   "    ::nk::rpc::ServerReaderWriter<$request$, $response$>&) {\n"
                   "    return {::nk::rpc::StatusCode::Unimplemented, \"$dotted$ is not implemented\"};\n"
                   "}\n\n";
    }
    return {};
}

std::string_view dispatch_case(Kind k) {
    switch (k) {
        case Kind::Unary:
            return "        case $index$:\n"
                   "            return ::nk::rpc::detail::serve_unary<$request$, $response$>(call,\n"
                   "                [this](::nk::rpc::ServerContext& context, const $request$& request, $response$& response) {\n"
                   "                    return this->$service_name$(context, request, response);\n"
                   "                });\n";
        case Kind::ServerStreaming:
            return "        case $index$:\n"
                   "            return ::nk::rpc::detail::serve_server_stream<$request$, $response$>(call,\n"
                   "                [this](::nk::rpc::ServerContext& context, const $request$& request,\n"
                   "                       ::nk::rpc::ServerWriter<$response$>& writer) {\n"
                   "                    return this->$service_name$(context, request, writer);\n"
                   "                });\n";
        case Kind::ClientStreaming:
            return "        case $index$:\n"
                   "            return ::nk::rpc::detail::serve_client_stream<$request$, $response$>(call,\n"
                   "                [this](::nk::rpc::ServerContext& context, ::nk::rpc::ServerReader<$request$>& reader,\n"
                   "                       $response$& response) {\n"
                   "                    return this->$service_name$(context, reader, response);\n"
                   "                });\n";
        case Kind::Bidi:
            return "        case $index$:\n"
                   "            return ::nk::rpc::detail::serve_bidi_stream<$request$, $response$>(call,\n"
                   "                [this](::nk::rpc::ServerContext& context,\n"
                   "                       ::nk::rpc::ServerReaderWriter<$request$, $response$>& stream) {\n"
                   "                    return this->$service_name$(context, stream);\n"
                   "                });\n";
    }
    return {};
}

std::string kind_of(const pb::MethodDescriptor* method) {
    if (method->client_streaming()) return method->server_streaming() ? "BidiStreaming" : "ClientStreaming";
    return method->server_streaming() ? "ServerStreaming" : "Unary";
}

struct Rpc {
    const pb::MethodDescriptor* method;
    std::string client_name, service_name;
    Vars vars;
};

std::vector<Rpc> rpcs_of(const pb::ServiceDescriptor* service) {
    const std::string client = service->name() + "Client";
    const std::string base = service->name() + "Service";
    const std::set<std::string> client_taken{client, "nk_channel_"};
    const std::set<std::string> service_taken{base, "service_name", "methods", "dispatch", "kServiceName"};
    std::vector<Rpc> rpcs;
    for (int i = 0; i < service->method_count(); ++i) {
        const pb::MethodDescriptor* m = service->method(i);
        Rpc rpc{m, member_name(m->name(), client_taken), member_name(m->name(), service_taken), {}};
        rpc.vars = {{"rpc", m->name()},
                    {"client_name", rpc.client_name},
                    {"service_name", rpc.service_name},
                    {"client", client},
                    {"base", base},
                    {"index", std::to_string(i)},
                    {"full_name", "/" + service->full_name() + "/" + m->name()},
                    {"dotted", service->full_name() + "." + m->name()},
                    {"kind", kind_of(m)},
                    {"request", message_type(m->input_type())},
                    {"response", message_type(m->output_type())},
                    {"request_proto", m->input_type()->full_name()},
                    {"response_proto", m->output_type()->full_name()}};
        rpcs.push_back(std::move(rpc));
    }
    return rpcs;
}

void header_service(std::string& out, const pb::ServiceDescriptor* service) {
    const auto rpcs = rpcs_of(service);
    const Vars vars{{"name", service->name()}, {"full", service->full_name()}};
    out += fill("// service $full$: the client side.\n"
                "class $name$Client {\n"
                "public:\n"
                "    explicit $name$Client(std::shared_ptr<::nk::rpc::Channel> channel) : nk_channel_(std::move(channel)) {}\n",
                vars);
    for (const Rpc& rpc : rpcs) out += fill(client_declaration(kind(rpc.method)), rpc.vars);
    out += fill("\nprivate:\n"
                "    std::shared_ptr<::nk::rpc::Channel> nk_channel_;\n"
                "};\n\n"
                "// service $full$: the server side. Override the RPCs it serves; the others answer UNIMPLEMENTED.\n"
                "class $name$Service : public ::nk::rpc::Service {\n"
                "public:\n"
                "    static constexpr std::string_view kServiceName = \"$full$\";\n"
                "    std::string_view service_name() const override { return kServiceName; }\n"
                "    std::span<const ::nk::rpc::MethodInfo> methods() const override;\n",
                vars);
    for (const Rpc& rpc : rpcs) out += fill(service_declaration(kind(rpc.method)), rpc.vars);
    out += "\n    ::nk::rpc::Status dispatch(std::size_t index, ::nk::rpc::ServerCall& call) override;\n};\n\n";

    const std::set<std::string> async_taken{service->name() + "AsyncClient", "nk_channel_", "Handler", "OnItem", "OnDone"};
    out += fill("// service $full$: asynchronous unary and server-streaming calls on an Asio io_context (include\n"
                "// <nk/rpc/asio_channel.hpp> where they are made). A unary call's `handler(::nk::rpc::Status,\n"
                "// Response)`, a stream's `on_item(const Item&)` for each message and then `on_done(::nk::rpc::Status)`\n"
                "// run on the io_context; a method returns the call's id for AsioChannel::cancel(), or 0 when the\n"
                "// call ended at once.\n"
                "class $name$AsyncClient {\n"
                "public:\n"
                "    explicit $name$AsyncClient(::nk::rpc::AsioChannel& channel) : nk_channel_(&channel) {}\n",
                vars);
    for (const Rpc& rpc : rpcs) {
        if (rpc.method->client_streaming()) continue;
        Vars v = rpc.vars;
        v["async_name"] = member_name(rpc.method->name(), async_taken);
        if (rpc.method->server_streaming()) {
            out += fill("\n    template <class OnItem, class OnDone>\n"
                        "    std::uint64_t $async_name$(const $request$& request, std::chrono::nanoseconds timeout, OnItem&& on_item,\n"
                        "        OnDone&& on_done) {\n"
                        "        return ::nk::rpc::detail::async_server_stream<$response$>(*nk_channel_,\n"
                        "            ::nk::rpc::method_id(\"$full_name$\"), request, timeout, std::forward<OnItem>(on_item),\n"
                        "            std::forward<OnDone>(on_done));\n"
                        "    }\n",
                        v);
            continue;
        }
        out += fill("\n    template <class Handler>\n"
                    "    std::uint64_t $async_name$(const $request$& request, std::chrono::nanoseconds timeout, Handler&& handler) {\n"
                    "        return ::nk::rpc::detail::async_unary<$response$>(*nk_channel_, ::nk::rpc::method_id(\"$full_name$\"),\n"
                    "            request, timeout, std::forward<Handler>(handler));\n"
                    "    }\n",
                    v);
    }
    // maybe_unused: a service without unary or server-streaming RPCs has no method that reads it (clang warns).
    out += "\nprivate:\n    [[maybe_unused]] ::nk::rpc::AsioChannel* nk_channel_;\n};\n\n";

    const std::set<std::string> no_heap_taken{service->name() + "NoHeapClient", "nk_channel_"};
    out += fill("// service $full$: unary calls with no heap allocation per call, from one thread\n"
                "// (<nk/rpc/no_heap_channel.hpp>; served best by an nk::rpc::NoHeapServer).\n"
                "class $name$NoHeapClient {\n"
                "public:\n"
                "    explicit $name$NoHeapClient(::nk::rpc::NoHeapChannel& channel) : nk_channel_(&channel) {}\n",
                vars);
    for (const Rpc& rpc : rpcs) {
        if (rpc.method->client_streaming() || rpc.method->server_streaming()) continue;
        Vars v = rpc.vars;
        v["no_heap_name"] = member_name(rpc.method->name(), no_heap_taken);
        out += fill("\n    ::nk::rpc::Status $no_heap_name$(const $request$& request, $response$& response,\n"
                    "        std::chrono::nanoseconds timeout) {\n"
                    "        return nk_channel_->call(::nk::rpc::method_id(\"$full_name$\"), request, response, timeout);\n"
                    "    }\n",
                    v);
    }
    out += "\nprivate:\n    [[maybe_unused]] ::nk::rpc::NoHeapChannel* nk_channel_;\n};\n\n";
}

void source_service(std::string& out, const pb::ServiceDescriptor* service) {
    const auto rpcs = rpcs_of(service);
    const Vars vars{{"name", service->name()}, {"full", service->full_name()}, {"count", std::to_string(rpcs.size())}};
    out += fill("// service $full$\n\n"
                "namespace {\n"
                "constexpr std::array<::nk::rpc::MethodInfo, $count$> k$name$Methods{{\n",
                vars);
    for (const Rpc& rpc : rpcs)
        out += fill("    {\"$full_name$\", ::nk::rpc::method_id(\"$full_name$\"), ::nk::rpc::RpcKind::$kind$},\n", rpc.vars);
    out += "}};\n}  // namespace\n\n";
    for (const Rpc& rpc : rpcs) {
        Vars v = rpc.vars;
        v["name"] = service->name();
        out += fill(client_definition(kind(rpc.method)), v);
    }
    out += fill("std::span<const ::nk::rpc::MethodInfo> $name$Service::methods() const { return k$name$Methods; }\n\n", vars);
    for (const Rpc& rpc : rpcs) out += fill(service_default(kind(rpc.method)), rpc.vars);
    out += fill("::nk::rpc::Status $name$Service::dispatch(std::size_t index, ::nk::rpc::ServerCall& call) {\n"
                "    switch (index) {\n",
                vars);
    for (const Rpc& rpc : rpcs) out += fill(dispatch_case(kind(rpc.method)), rpc.vars);
    out += fill("        default: break;\n"
                "    }\n"
                "    (void)call;\n"
                "    return {::nk::rpc::StatusCode::Unimplemented, \"$full$ has no method \" + std::to_string(index)};\n"
                "}\n\n",
                vars);
}

std::string open_namespace(const pb::FileDescriptor* file) {
    const std::string ns = cpp_namespace(file);
    return ns.empty() ? std::string() : "namespace " + ns + " {\n\n";
}
std::string close_namespace(const pb::FileDescriptor* file) {
    const std::string ns = cpp_namespace(file);
    return ns.empty() ? std::string() : "}  // namespace " + ns + "\n";
}

}  // namespace

std::string Generator::header(const pb::FileDescriptor* file) {
    const std::string base = strip_proto(file->name());
    std::string out = fill("// Generated by protoc-gen-nk from $file$. Do not edit.\n"
                           "#pragma once\n\n"
                           "#include <chrono>\n"
                           "#include <cstddef>\n"
                           "#include <cstdint>\n"
                           "#include <memory>\n"
                           "#include <span>\n"
                           "#include <string_view>\n"
                           "#include <utility>\n\n"
                           "#include <nk/rpc/service.hpp>\n\n"
                           "#include \"$base$.pb.h\"\n\n",
                           {{"file", file->name()}, {"base", base}});
    out += open_namespace(file);
    for (int i = 0; i < file->service_count(); ++i) header_service(out, file->service(i));
    out += close_namespace(file);
    return out;
}

std::string Generator::source(const pb::FileDescriptor* file) {
    const std::string base = strip_proto(file->name());
    std::string out = fill("// Generated by protoc-gen-nk from $file$. Do not edit.\n"
                           "#include \"$base$.nk.h\"\n\n"
                           "#include <array>\n"
                           "#include <string>\n\n",
                           {{"file", file->name()}, {"base", base}});
    out += open_namespace(file);
    for (int i = 0; i < file->service_count(); ++i) source_service(out, file->service(i));
    out += close_namespace(file);
    return out;
}

bool Generator::Generate(const pb::FileDescriptor* file, const std::string& parameter,
                         pb::compiler::GeneratorContext* context, std::string* error) const {
    if (!parameter.empty()) {
        *error = "protoc-gen-nk takes no options (got '" + parameter + "')";
        return false;
    }
    const std::string base = strip_proto(file->name());
    for (const auto& [name, text] : {std::pair{base + ".nk.h", header(file)}, std::pair{base + ".nk.cc", source(file)}}) {
        std::unique_ptr<pb::io::ZeroCopyOutputStream> stream(context->Open(name));
        void* data = nullptr;
        int size = 0;
        std::size_t written = 0;
        while (written < text.size()) {
            if (!stream->Next(&data, &size)) {
                *error = "cannot write " + name;
                return false;
            }
            const std::size_t n = std::min(text.size() - written, static_cast<std::size_t>(size));
            std::memcpy(data, text.data() + written, n);
            written += n;
            if (n < static_cast<std::size_t>(size)) stream->BackUp(size - static_cast<int>(n));
        }
    }
    return true;
}

}  // namespace nk::rpc::gen
