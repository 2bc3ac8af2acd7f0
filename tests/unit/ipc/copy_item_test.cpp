// detail::copy_item: every size copies exactly its bytes, from any alignment, and nothing beside
// them; each size class (below 4, 4-7, 8-16, 17-32, 33-64, beyond) has its own branch.
#include <array>
#include <cstddef>
#include <cstdint>

#include <gtest/gtest.h>

#include "nk/ipc/detail/copy_item.hpp"

namespace nk::ipc {
namespace {

TEST(CopyItem, CopiesExactlyTheBytesOfEverySizeAtEveryAlignment) {
    std::array<std::byte, 512> from{};
    for (std::size_t i = 0; i < from.size(); ++i) from[i] = static_cast<std::byte>(i * 7 + 1);
    for (std::size_t size = 0; size <= 200; ++size) {
        for (std::size_t offset = 0; offset < 8; ++offset) {
            std::array<std::byte, 512> to{};
            to.fill(std::byte{0xee});
            detail::copy_item(to.data() + 16 + offset, from.data() + offset, size);
            for (std::size_t i = 0; i < to.size(); ++i) {
                const bool inside = i >= 16 + offset && i < 16 + offset + size;
                const std::byte want = inside ? from[i - 16] : std::byte{0xee};
                ASSERT_EQ(to[i], want) << "size " << size << ", offset " << offset << ", byte " << i;
            }
        }
    }
}

}  // namespace
}  // namespace nk::ipc
