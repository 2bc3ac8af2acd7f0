// Uses an installed nk from outside its tree: a public header and a function that lives in the
// nk_nanokernel library (so the link, not only the include, is checked).
#include <cstdio>
#include <string>

#include <nk/nanokernel/platform_config.hpp>

int main() {
    const auto size = nk::parse_size("4 MiB");
    if (!size || *size != 4194304) {
        std::fprintf(stderr, "nk_consumer: nk::parse_size(\"4 MiB\") gave %s, expected 4194304\n",
                     size ? std::to_string(*size).c_str() : "nothing");
        return 1;
    }
    std::puts("nk_consumer: nk::parse_size(\"4 MiB\") = 4194304");
    return 0;
}
