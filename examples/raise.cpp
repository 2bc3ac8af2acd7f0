// nk_example_raise: raises a virtual interrupt line by name, from the guest it runs in.
//
//   nkctl exec linux -- nk_example_raise rt.command
//
// Exits 0 when raised; otherwise prints why (no such line, this guest may not raise it, its
// owner is down) and exits 1.
#include <cstdio>

#include "nk/nanokernel/guest.hpp"
#include "nk/nanokernel/interrupts.hpp"

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: nk_example_raise LINE_NAME\n");
        return 2;
    }
    auto region = nk::guest::attach();
    if (!region) {
        std::fprintf(stderr, "nk_example_raise: cannot attach: %s\n", region.error().message.c_str());
        return 1;
    }
    if (auto raised = nk::irq::raise(region->get(), argv[1]); !raised) {
        std::fprintf(stderr, "nk_example_raise: %s\n", raised.error().message.c_str());
        return 1;
    }
    std::printf("raised %s\n", argv[1]);
    return 0;
}
