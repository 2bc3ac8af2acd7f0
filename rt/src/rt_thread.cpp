#include "rt_thread.hpp"

#include <sys/prctl.h>

#include <cstring>
#include <memory>
#include <system_error>

namespace nk::rt::detail {
namespace {

constexpr std::size_t kPrefaultBytes = 64 * 1024;

// Touches the stack pages the body will use first, so that its first activation does not fault
// them in (with mlockall's MCL_FUTURE they are locked once touched). Not inlined: its frame is the
// region below the trampoline's that the body's frames reuse.
[[gnu::noinline]] void prefault_stack() {
    unsigned char pages[kPrefaultBytes];
    for (std::size_t i = 0; i < kPrefaultBytes; i += 4096) pages[i] = 0;
    // Keeps the stores: the compiler must assume the asm reads the array.
    asm volatile("" : : "r"(pages) : "memory");
}

void* trampoline(void* arg) {
    std::unique_ptr<std::function<void()>> body(static_cast<std::function<void()>*>(arg));
    // 1 ns: a periodic task's sleep ends at its deadline, not up to 50 us later (the default
    // slack, which futex timeouts apply whatever the thread's policy).
    (void)::prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
    prefault_stack();
    (*body)();
    return nullptr;
}

tl::unexpected<Error> failed(int rc, const std::string& what) {
    return tl::unexpected<Error>(Error{std::error_code(rc, std::generic_category()), what + ": " + std::strerror(rc)});
}

}  // namespace

Result<pthread_t> start_thread(const ThreadSpec& spec, std::function<void()> body) {
    pthread_attr_t attr;
    if (const int rc = ::pthread_attr_init(&attr); rc != 0) return failed(rc, "pthread_attr_init");
    struct AttrGuard {
        pthread_attr_t* a;
        ~AttrGuard() { ::pthread_attr_destroy(a); }
    } guard{&attr};
    const std::size_t stack = spec.stack_size < kPrefaultBytes + 64 * 1024 ? kPrefaultBytes + 64 * 1024 : spec.stack_size;
    if (const int rc = ::pthread_attr_setstacksize(&attr, stack); rc != 0)
        return failed(rc, "task '" + spec.name + "': stack size " + std::to_string(stack));
    if (const int rc = ::pthread_attr_setinheritsched(&attr, PTHREAD_EXPLICIT_SCHED); rc != 0)
        return failed(rc, "task '" + spec.name + "': explicit scheduling");
    sched_param param{};
    param.sched_priority = spec.priority;
    const int policy = spec.priority > 0 ? SCHED_FIFO : SCHED_OTHER;
    if (const int rc = ::pthread_attr_setschedpolicy(&attr, policy); rc != 0)
        return failed(rc, "task '" + spec.name + "': scheduling policy");
    if (const int rc = ::pthread_attr_setschedparam(&attr, &param); rc != 0)
        return failed(rc, "task '" + spec.name + "': priority " + std::to_string(spec.priority));
    if (CPU_COUNT(&spec.cpus) > 0)
        if (const int rc = ::pthread_attr_setaffinity_np(&attr, sizeof spec.cpus, &spec.cpus); rc != 0)
            return failed(rc, "task '" + spec.name + "': CPU affinity");
    auto owned = std::make_unique<std::function<void()>>(std::move(body));
    pthread_t thread{};
    if (const int rc = ::pthread_create(&thread, &attr, trampoline, owned.get()); rc != 0)
        return failed(rc, "task '" + spec.name + "': cannot start its thread at " +
                              (spec.priority > 0 ? "SCHED_FIFO " + std::to_string(spec.priority) : std::string("SCHED_OTHER")));
    owned.release();  // the thread owns it now
    const std::string short_name = spec.name.substr(0, 15);
    ::pthread_setname_np(thread, short_name.c_str());
    return thread;
}

}  // namespace nk::rt::detail
