// nk_segment_* and nk_pnv_*: named shared memory and pseudo-nonvolatile memory.
#include "c_support.hpp"

namespace {

using nk::c::guarded;
using nk::c::invalid;

}  // namespace

extern "C" {

void nk_segment_options_init(nk_segment_options_t* options) {
    if (options == nullptr) return;
    *options = nk_segment_options_t{};
    options->struct_size = sizeof *options;
}

nk_result_t nk_segment_create(nk_region_t* region, const char* name, size_t size, const nk_segment_options_t* options,
                              nk_segment_t** segment) {
    if (region == nullptr || name == nullptr || segment == nullptr)
        return invalid("nk_segment_create: region, name and segment must not be NULL");
    if (!nk::c::options_ok(options)) return nk::c::bad_options("nk_segment_options_init");
    return guarded([&] {
        auto made = nk::ipc::Segment::create(*region->region, name, size,
                                             nk::c::where_of(options != nullptr ? options->where : nullptr));
        if (!made) return nk::c::from_error(made.error());
        return nk::c::emit(segment, region->region, std::move(*made));
    });
}

nk_result_t nk_segment_open(nk_region_t* region, const char* name, nk_rights_t rights, nk_segment_t** segment) {
    if (region == nullptr || name == nullptr || segment == nullptr)
        return invalid("nk_segment_open: region, name and segment must not be NULL");
    if (rights != NK_RIGHTS_READ && rights != NK_RIGHTS_READ_WRITE)
        return invalid("nk_segment_open: rights must be NK_RIGHTS_READ or NK_RIGHTS_READ_WRITE");
    return guarded([&] {
        auto opened = nk::ipc::Segment::open(*region->region, name,
                                             rights == NK_RIGHTS_READ ? nk::Rights::Read : nk::Rights::ReadWrite);
        if (!opened) return nk::c::from_error(opened.error());
        return nk::c::emit(segment, region->region, std::move(*opened));
    });
}

void* nk_segment_data(const nk_segment_t* segment) {
    return segment == nullptr ? nullptr : segment->segment.bytes().data();
}

size_t nk_segment_size(const nk_segment_t* segment) { return segment == nullptr ? 0 : segment->segment.bytes().size(); }

int nk_segment_writable(const nk_segment_t* segment) {
    return segment != nullptr && segment->segment.writable() ? 1 : 0;
}

void nk_segment_close(nk_segment_t* segment) { delete segment; }

nk_result_t nk_segment_remove(nk_region_t* region, const char* name) {
    if (region == nullptr || name == nullptr) return invalid("nk_segment_remove: region and name must not be NULL");
    return guarded([&] {
        auto removed = nk::ipc::Segment::remove(*region->region, name);
        return removed ? NK_OK : nk::c::from_error(removed.error());
    });
}

nk_result_t nk_pnv_attach(nk_region_t* region, const char* id, size_t size, nk_pnv_t** pnv) {
    if (region == nullptr || id == nullptr || pnv == nullptr)
        return invalid("nk_pnv_attach: region, id and pnv must not be NULL");
    return guarded([&] {
        auto allocation = nk::pnv::attach(*region->region, id, size);
        if (!allocation) return nk::c::from_error(allocation.error());
        return nk::c::emit(pnv, region->region, std::move(*allocation));
    });
}

void* nk_pnv_data(const nk_pnv_t* pnv) { return pnv == nullptr ? nullptr : pnv->allocation.bytes.data(); }

size_t nk_pnv_size(const nk_pnv_t* pnv) { return pnv == nullptr ? 0 : pnv->allocation.bytes.size(); }

int nk_pnv_fresh(const nk_pnv_t* pnv) { return pnv != nullptr && pnv->allocation.fresh ? 1 : 0; }

uint64_t nk_pnv_offset(const nk_pnv_t* pnv) { return pnv == nullptr ? 0 : pnv->allocation.offset; }

void nk_pnv_close(nk_pnv_t* pnv) { delete pnv; }

nk_result_t nk_pnv_free(nk_region_t* region, const char* id) {
    if (region == nullptr || id == nullptr) return invalid("nk_pnv_free: region and id must not be NULL");
    return guarded([&] {
        auto freed = nk::pnv::free(*region->region, id);
        return freed ? NK_OK : nk::c::from_error(freed.error());
    });
}

}  // extern "C"
