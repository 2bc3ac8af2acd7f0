#include "queue_support.hpp"

namespace nk::ipc::detail {

std::string describe(layout::ObjectKind kind, std::string_view name) {
    return std::string(to_string(kind)) + " '" + std::string(name) + "'";
}

Result<void> check_create_arguments(layout::ObjectKind kind, std::string_view name, std::uint32_t item_size,
                                    std::uint32_t capacity, std::uint32_t min_capacity) {
    if (item_size == 0 || item_size > kMaxItemSize)
        return fail(RegionError::InvalidArgument, "create " + describe(kind, name) + ": item size " +
                                                      std::to_string(item_size) + " is not in 1.." +
                                                      std::to_string(kMaxItemSize));
    if (capacity < min_capacity || !std::has_single_bit(capacity))
        return fail(RegionError::InvalidArgument, "create " + describe(kind, name) + ": capacity " +
                                                      std::to_string(capacity) + " is not a power of two of at least " +
                                                      std::to_string(min_capacity));
    return {};
}

Error corruption_error(layout::ObjectKind kind, std::string_view name, const QueueFault& fault) {
    std::string message = describe(kind, name) + " is corrupt: the " + fault.what;
    if (fault.slot != kNoSlot) message += " of slot " + std::to_string(fault.slot);
    message += " read from shared memory is " + std::to_string(fault.seen) + ", outside the range [" +
               std::to_string(fault.low) + ", " + std::to_string(fault.high) +
               "] the protocol allows. The peer broke the protocol or the memory was overwritten; this handle "
               "stopped. Remove the object and create it again once the peer is fixed or restarted";
    return Error{make_error_code(RegionError::Corrupt), std::move(message)};
}

}  // namespace nk::ipc::detail
