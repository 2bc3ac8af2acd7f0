// nk::ipc::Segment: a named block of shared memory that processes of several guests open by name.
//
// A segment lives in the link area of two guests (only those two can map it) or in the common
// area. Opening follows the config's [[access]] rules; a read-only open gets a read-only mapping,
// so a stray write faults instead of corrupting the peer's data.
//
//   // guest "linux":
//   auto seg = nk::ipc::Segment::create(region, "camera.frame", 1 << 20, "rt");   // link linux-rt
//   std::memcpy(seg->bytes().data(), frame, n);
//   // guest "rt", another process:
//   auto view = nk::ipc::Segment::open(region, "camera.frame", nk::Rights::Read);
//
// A Segment is a view: it does not own the object. remove() deletes the object; views that are
// still open keep mapping its bytes until they are destroyed, but the space may be reused.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "nk/nanokernel/area_directory.hpp"
#include "nk/nanokernel/platform_config.hpp"
#include "nk/nanokernel/region.hpp"

namespace nk::ipc {

struct SegmentInfo {
    ObjectInfo object;
    std::string area_label;
    std::uint64_t region_offset = 0;
};

class Segment {
public:
    // Creates a segment of `size` bytes (rounded up to the page size), zero-filled. `where` picks
    // the area: "" or "common" for the common area, a guest's name for the link between the
    // caller's guest and that guest, or an area label such as "link.linux-rt" (operator use).
    [[nodiscard]] static Result<Segment> create(const Region& region, std::string_view name, std::uint64_t size,
                                                std::string_view where = {});

    // Opens an existing segment by name in any area this process holds.
    [[nodiscard]] static Result<Segment> open(const Region& region, std::string_view name,
                                              Rights rights = Rights::ReadWrite);

    // Removes the segment: its owner guest, the operator or the creator may.
    [[nodiscard]] static Result<void> remove(const Region& region, std::string_view name);

    // Every segment in the areas this process holds.
    [[nodiscard]] static Result<std::vector<SegmentInfo>> list(const Region& region);

    Segment(Segment&& other) noexcept;
    Segment& operator=(Segment&& other) noexcept;
    Segment(const Segment&) = delete;
    Segment& operator=(const Segment&) = delete;
    ~Segment();

    [[nodiscard]] std::span<std::byte> bytes() const { return {data_, size_}; }
    [[nodiscard]] bool writable() const { return writable_; }
    [[nodiscard]] const SegmentInfo& info() const { return info_; }

private:
    Segment(SegmentInfo info, std::byte* data, std::uint64_t size, bool writable, bool owns_view);
    SegmentInfo info_;
    std::byte* data_ = nullptr;
    std::uint64_t size_ = 0;
    bool writable_ = false;
    bool owns_view_ = false;  // a separate read-only mapping, unmapped on destruction
};

}  // namespace nk::ipc
