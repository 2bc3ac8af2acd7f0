// nk_region_*: attaching to a region.
#include <fcntl.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "c_support.hpp"
#include "nk/nanokernel/guest.hpp"
#include "nk/nanokernel/region_client.hpp"

namespace {

using nk::c::guarded;
using nk::c::invalid;

// The identity options ask for; for a guest by name, `needs_lookup` is set and the id stays 0.
nk_result_t identity_of(const nk_attach_options_t* options, bool by_name_allowed, nk::Identity& who,
                        bool& needs_lookup) {
    nk_attach_options_t defaults;
    nk_attach_options_init(&defaults);
    const nk_attach_options_t& o = options != nullptr ? *options : defaults;
    needs_lookup = false;
    switch (o.role) {
        case NK_ROLE_OPERATOR: who = nk::Identity::operator_(); return NK_OK;
        case NK_ROLE_OBSERVER: who = nk::Identity::observer(); return NK_OK;
        case NK_ROLE_GUEST:
            if (o.guest_id != 0) {
                if (o.guest_id > 254) return invalid("guest ids are 1 to 254");
                who = nk::Identity::guest(o.guest_id);
                return NK_OK;
            }
            if (by_name_allowed && o.guest_name != nullptr && o.guest_name[0] != '\0') {
                who = nk::Identity::guest(0);
                needs_lookup = true;
                return NK_OK;
            }
            return invalid(by_name_allowed ? "attaching as a guest needs options.guest_id or options.guest_name"
                                           : "attaching descriptors as a guest needs options.guest_id");
        case NK_ROLE_FORCE_INT32_: break;
    }
    return invalid("unknown role in the attach options");
}

nk_result_t emit_region(nk::Region region, nk_region_t** out) {
    auto shared = std::make_shared<const nk::Region>(std::move(region));
    return nk::c::emit(out, std::move(shared));
}

}  // namespace

extern "C" {

void nk_attach_options_init(nk_attach_options_t* options) {
    if (options == nullptr) return;
    *options = nk_attach_options_t{};
    options->struct_size = sizeof *options;
    options->role = NK_ROLE_GUEST;
}

nk_result_t nk_region_attach(nk_region_t** region) {
    if (region == nullptr) return invalid("nk_region_attach: region is NULL");
    return guarded([&] {
        auto attached = nk::guest::attach();
        if (!attached) return nk::c::from_error(attached.error());
        // The process's region lives until exit (nk::guest::attach keeps it): a handle only
        // points at it, owning nothing (the aliasing constructor with an empty owner).
        RegionRef ref(std::shared_ptr<const void>{}, &attached->get());
        return nk::c::emit(region, std::move(ref));
    });
}

nk_result_t nk_region_attach_fds(const int* fds, size_t count, const nk_attach_options_t* options,
                                 nk_region_t** region) {
    if (region == nullptr) return invalid("nk_region_attach_fds: region is NULL");
    if (fds == nullptr || count == 0) return invalid("nk_region_attach_fds: no descriptors given");
    if (!nk::c::options_ok(options)) return nk::c::bad_options("nk_attach_options_init");
    return guarded([&] {
        nk::Identity who;
        bool lookup = false;
        if (const nk_result_t r = identity_of(options, false, who, lookup); r != NK_OK) return r;
        std::vector<nk::UniqueFd> owned;
        owned.reserve(count);
        for (size_t i = 0; i < count; ++i) {
            const int copy = ::fcntl(fds[i], F_DUPFD_CLOEXEC, 0);
            if (copy < 0)
                return nk::c::set_error(errno == EBADF ? NK_E_INVALID : NK_E_SYSTEM,
                                        "nk_region_attach_fds: cannot duplicate descriptor " + std::to_string(fds[i]) +
                                            ": ",
                                        std::strerror(errno));
            owned.emplace_back(copy);
        }
        auto attached = nk::Region::attach(std::move(owned), who);
        if (!attached) return nk::c::from_error(attached.error());
        return emit_region(std::move(*attached), region);
    });
}

nk_result_t nk_region_attach_by_name(const char* platform, const nk_attach_options_t* options, nk_region_t** region) {
    if (region == nullptr) return invalid("nk_region_attach_by_name: region is NULL");
    if (platform == nullptr || platform[0] == '\0') return invalid("nk_region_attach_by_name: no platform named");
    if (!nk::c::options_ok(options)) return nk::c::bad_options("nk_attach_options_init");
    return guarded([&] {
        nk::Identity who;
        bool lookup = false;
        if (const nk_result_t r = identity_of(options, true, who, lookup); r != NK_OK) return r;
        if (lookup) {
            // The guest table says which id the name has: ask as an observer first.
            auto observer = nk::attach_by_name(platform, nk::Identity::observer());
            if (!observer) return nk::c::from_error(observer.error());
            auto info = observer->guest(std::string_view(options->guest_name));
            if (!info)
                return nk::c::set_error(NK_E_NOT_FOUND, "platform '" + std::string(platform) + "' has no guest '",
                                        std::string(options->guest_name) + "'");
            who = nk::Identity::guest(info->id);
        }
        auto attached = nk::attach_by_name(platform, who);
        if (!attached) return nk::c::from_error(attached.error());
        return emit_region(std::move(*attached), region);
    });
}

void nk_region_close(nk_region_t* region) { delete region; }

uint16_t nk_region_guest_id(const nk_region_t* region) {
    if (region == nullptr) return 0;
    const nk::Identity& who = region->region->identity();
    return who.role == nk::Role::Guest ? who.guest_id : 0;
}

nk_role_t nk_region_role(const nk_region_t* region) {
    if (region == nullptr) return NK_ROLE_OBSERVER;
    switch (region->region->identity().role) {
        case nk::Role::Guest: return NK_ROLE_GUEST;
        case nk::Role::Operator: return NK_ROLE_OPERATOR;
        case nk::Role::Observer: return NK_ROLE_OBSERVER;
        case nk::Role::Creator: break;
    }
    return NK_ROLE_OPERATOR;  // a creator's handle cannot come from the C ABI; it may write as much
}

const char* nk_region_platform(const nk_region_t* region) {
    // platform_name() views the validated copy of the management tables, NUL-terminated within
    // its field, which lives as long as the Region.
    return region == nullptr ? "" : region->region->platform_name().data();
}

nk_result_t nk_region_guest_by_name(const nk_region_t* region, const char* name, uint16_t* guest_id) {
    if (region == nullptr || name == nullptr || guest_id == nullptr)
        return invalid("nk_region_guest_by_name: region, name and guest_id must not be NULL");
    return guarded([&] {
        auto info = region->region->guest(std::string_view(name));
        if (!info)
            return nk::c::set_error(NK_E_NOT_FOUND, "platform '" + std::string(region->region->platform_name()) +
                                                        "' has no guest '",
                                    std::string(name) + "'");
        *guest_id = info->id;
        return NK_OK;
    });
}

}  // extern "C"
