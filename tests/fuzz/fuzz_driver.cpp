// Runs the fuzz target without libFuzzer (gcc builds): a fixed number of inputs from a seeded
// generator, so the target's code is exercised under ASan/UBSan in every sanitizer build.
//   nk_region_fuzz_replay [RUNS]
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

int main(int argc, char** argv) {
    const long runs = argc > 1 ? std::strtol(argv[1], nullptr, 10) : 20000;
    std::mt19937 random(20261122);
    std::vector<std::uint8_t> input;
    for (long run = 0; run < runs; ++run) {
        input.resize(4 * (1 + random() % 16));
        for (auto& byte : input) byte = static_cast<std::uint8_t>(random());
        LLVMFuzzerTestOneInput(input.data(), input.size());
    }
    std::printf("%ld inputs, no crash\n", runs);
    return 0;
}
