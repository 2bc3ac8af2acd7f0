// Fuzz target: region bytes a crashed or hostile guest may have written.
//
// The input is a list of 4-byte patches (3 bytes of position, 1 byte of value) applied to the
// bytes of a real region: its management tables, and a data area that holds a few objects. The
// validators and every directory operation then run over the damaged bytes; they must report
// errors, never crash, hang or touch memory outside the area (ASan checks the last: the area is
// an exactly sized heap buffer).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <cstdio>
#include <string>
#include <vector>

#include "nk/nanokernel/area_directory.hpp"
#include "nk/nanokernel/directory.hpp"
#include "nk/nanokernel/platform_config.hpp"
#include "nk/nanokernel/region.hpp"
#include "nk/nanokernel/region_validate.hpp"

namespace {

constexpr const char* kPlatform = R"(
[platform]
name = "fuzz"
lock_memory = false
[areas]
link_size = "64 KiB"
common_size = "64 KiB"
pnv_size = "64 KiB"
[[guests]]
id = 1
name = "a"
kind = "linux"
memory = "64 KiB"
cpus = [0]
[[guests]]
id = 2
name = "b"
kind = "rt"
memory = "64 KiB"
cpus = [0]
sched = "rt"
priority = 10
[[links]]
guests = ["a", "b"]
[[access]]
objects = "*"
guests = ["*"]
rights = "rw"
)";

// A real region's bytes, made once: the tables, and the common area with three objects.
struct Template {
    nk::layout::ManagementTables tables{};
    nk::layout::AreaDescriptor common_descriptor{};
    std::uint16_t common_index = 0;
    std::vector<std::byte> common;
};

const Template& make_template() {
    static const Template made = [] {
        Template t;
        auto config = nk::parse_platform_config(kPlatform, "fuzz.toml");
        if (!config) {
            std::fprintf(stderr, "fuzz template config: %s\n", config.error().message.c_str());
            std::abort();
        }
        auto region = nk::Region::create(*config);
        if (!region) {
            std::fprintf(stderr, "fuzz template region: %s\n", region.error().message.c_str());
            std::abort();
        }
        const nk::AreaInfo* common = region->common_area();
        nk::Directory directory(*region, common->index);
        (void)directory.create("alpha", nk::layout::ObjectKind::Segment, 4096, 1, 1);
        (void)directory.create("beta", nk::layout::ObjectKind::Segment, 8192, 2, 1);
        (void)directory.create("gamma", nk::layout::ObjectKind::Pnv, 4096, 2, 3);
        t.tables = region->tables();
        t.common_index = common->index;
        t.common_descriptor = region->tables().areas[common->index];
        t.common.assign(region->base() + common->offset, region->base() + common->offset + common->size);
        return t;
    }();
    return made;
}

void apply_patches(const std::uint8_t* data, std::size_t size, std::byte* target, std::size_t target_size,
                   bool second_half) {
    for (std::size_t i = 0; i + 4 <= size; i += 4) {
        const bool for_this = ((data[i] & 0x80) != 0) == second_half;
        if (!for_this) continue;
        const std::size_t position = ((std::size_t(data[i] & 0x7f) << 16) | (std::size_t(data[i + 1]) << 8) | data[i + 2]);
        target[position % target_size] = std::byte{data[i + 3]};
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const Template& t = make_template();

    // 1. The management tables: validate must accept or refuse, nothing else.
    nk::layout::ManagementTables tables = t.tables;
    apply_patches(data, size, reinterpret_cast<std::byte*>(&tables), sizeof tables, false);
    (void)nk::validate_tables(tables, t.tables.areas[0].size);

    // 2. A data area: every directory operation on the damaged bytes.
    std::vector<std::byte> area(t.common);  // exactly sized: ASan flags any access outside
    apply_patches(data, size, area.data(), area.size(), true);
    nk::AreaDirectory directory(area.data(), area.size(), t.common_index, t.common_descriptor,
                                nk::layout::kSmallPage, true);
    if (!directory.open()) return 0;
    for (const auto& object : directory.list()) {
        if (object.state == nk::layout::EntryState::Live) {
            // A listed live object must lie inside the area.
            if (object.area_offset > area.size() || object.size > area.size() - object.area_offset) std::abort();
            std::memset(area.data() + object.area_offset, 0x11, object.size);
        }
    }
    (void)directory.find("alpha");
    (void)directory.usage();
    auto made = directory.create("delta", nk::layout::ObjectKind::Segment, 4096, 1, 1);
    if (made && (made->area_offset > area.size() || made->size > area.size() - made->area_offset)) std::abort();
    (void)directory.attach_or_create("gamma", nk::layout::ObjectKind::Pnv, 4096, 2, 4);
    (void)directory.remove("beta");
    (void)directory.list();
    return 0;
}
