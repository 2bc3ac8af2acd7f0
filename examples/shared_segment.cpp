// Shares a named segment between processes of two guests.
//
// Started under nkd (or with NK_PLATFORM and NK_GUEST set), in guest "linux":
//   nk_example_shared_segment write greeting rt "hello from linux"
// and in guest "rt":
//   nk_example_shared_segment read greeting
#include <cstdio>
#include <cstring>
#include <string>

#include "nk/ipc/segment.hpp"
#include "nk/nanokernel/guest.hpp"

int main(int argc, char** argv) {
    const std::string usage = "usage: nk_example_shared_segment write NAME PEER TEXT | read NAME";
    if (argc < 3) {
        std::fprintf(stderr, "%s\n", usage.c_str());
        return 2;
    }
    auto region = nk::guest::attach();
    if (!region) {
        std::fprintf(stderr, "cannot attach: %s\n", region.error().message.c_str());
        return 1;
    }
    const std::string command = argv[1];
    if (command == "write" && argc == 5) {
        const std::string text = argv[4];
        auto segment = nk::ipc::Segment::create(*region, argv[2], 4096, argv[3]);
        if (!segment) segment = nk::ipc::Segment::open(*region, argv[2]);
        if (!segment) {
            std::fprintf(stderr, "segment %s: %s\n", argv[2], segment.error().message.c_str());
            return 1;
        }
        const std::size_t n = std::min(text.size(), segment->bytes().size() - 1);
        std::memcpy(segment->bytes().data(), text.data(), n);
        segment->bytes()[n] = std::byte{0};
        std::printf("wrote %zu bytes into '%s' (%s)\n", n, argv[2], segment->info().area_label.c_str());
        return 0;
    }
    if (command == "read" && argc == 3) {
        auto segment = nk::ipc::Segment::open(*region, argv[2], nk::Rights::Read);
        if (!segment) {
            std::fprintf(stderr, "segment %s: %s\n", argv[2], segment.error().message.c_str());
            return 1;
        }
        const auto bytes = segment->bytes();
        const auto* text = reinterpret_cast<const char*>(bytes.data());
        std::printf("%.*s\n", static_cast<int>(strnlen(text, bytes.size())), text);
        return 0;
    }
    std::fprintf(stderr, "%s\n", usage.c_str());
    return 2;
}
