// The region's binary layout is an ABI: these tests restate the pinned numbers a reader of
// another build relies on, and check that the header's own record of them matches.
#include <gtest/gtest.h>

#include "nk/nanokernel/layout.hpp"
#include "nk/nanokernel/region_plan.hpp"

namespace nk::layout {

TEST(Layout, SharedStructsAreTriviallyCopyableWithFixedSizes) {
    EXPECT_TRUE(kRegionSafe<ManagementTables>);
    EXPECT_TRUE(kRegionSafe<AreaHeader>);
    EXPECT_EQ(sizeof(RegionHeader), 256U);
    EXPECT_EQ(sizeof(AreaDescriptor), 64U);
    EXPECT_EQ(sizeof(GuestEntry), 160U);
    EXPECT_EQ(sizeof(DirectoryEntry), 104U);
    EXPECT_EQ(sizeof(ControlPage), 4096U);
}

TEST(Layout, AreaDataStartsOnAPageBoundaryAfterTheDirectory) {
    const auto offset = area_data_offset(AreaKind::Link, kSmallPage);
    EXPECT_EQ(offset % kSmallPage, 0U);
    EXPECT_GE(offset, sizeof(AreaHeader));
    EXPECT_EQ(area_data_offset(AreaKind::Link, kHugePage), kHugePage);
    EXPECT_EQ(area_data_offset(AreaKind::Control, kSmallPage), kSmallPage);
}

TEST(Layout, MagicSpellsItsName) {
    char text[9] = {};
    for (int i = 0; i < 8; ++i) text[i] = static_cast<char>(kRegionMagic >> (8 * (7 - i)));
    EXPECT_STREQ(text, "NKREGION");
}

}  // namespace nk::layout
