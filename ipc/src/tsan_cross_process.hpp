// ThreadSanitizer sees one process only. Producers of a message ring in one process reuse each
// other's bytes only after the consumer, often in another process, released them (record commit
// -> consumer's peek and release of tail -> the next producer's acquire of tail). TSan cannot
// see the middle of that chain, so it reports the second producer's writes as racing with the
// first's. These calls give it the chain's two ends inside this process: a producer releases the
// ring when it commits or abandons a record, and acquires it when it reads a new tail. They do
// nothing outside TSan builds.
#pragma once

#if defined(__SANITIZE_THREAD__)
#define NK_TSAN_CROSS_PROCESS 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define NK_TSAN_CROSS_PROCESS 1
#endif
#endif

#ifdef NK_TSAN_CROSS_PROCESS
extern "C" void __tsan_acquire(void* address);
extern "C" void __tsan_release(void* address);
#endif

namespace nk::ipc::detail {

// A producer handed bytes of `ring` back to the consumer (its record is committed or abandoned).
inline void tsan_released_by_producer([[maybe_unused]] void* ring) noexcept {
#ifdef NK_TSAN_CROSS_PROCESS
    __tsan_release(ring);
#endif
}

// A producer read a tail that frees bytes other producers of this process wrote before.
inline void tsan_acquired_by_producer([[maybe_unused]] void* ring) noexcept {
#ifdef NK_TSAN_CROSS_PROCESS
    __tsan_acquire(ring);
#endif
}

}  // namespace nk::ipc::detail
