// The executive: tasks as real-time threads, periodic tasks on virtual timers, one interrupt
// thread, and each task's record in the status segment (exec_layout.hpp).
#include "nk/rt/executive.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <thread>

#include "nk/ipc/segment.hpp"
#include "nk/nanokernel/clock.hpp"
#include "nk/nanokernel/region_error.hpp"
#include "nk/nanokernel/vtimer.hpp"
#include "rt_thread.hpp"
#include "stop_state.hpp"
#include "task_record.hpp"

namespace nk::rt {

bool StopToken::stop_requested() const noexcept {
    // acquire: pairs with stop()'s release, so what stop() wrote before is visible to the task.
    return state_->requested.load(std::memory_order_acquire);
}

bool StopToken::wait_for(std::chrono::nanoseconds timeout) const {
    if (stop_requested()) return true;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        pollfd p{state_->fd, POLLIN, 0};
        // Rounded up to whole ms: poll's resolution; a stop is heard at once either way.
        const int rc = ::poll(&p, 1, static_cast<int>(std::max<std::int64_t>(0, left.count() + 1)));
        if (stop_requested()) return true;
        if (rc == 0 || std::chrono::steady_clock::now() >= deadline) return false;
        if (rc < 0 && errno != EINTR) return stop_requested();
    }
}

int StopToken::fd() const noexcept { return state_->fd; }

namespace {

using detail::TaskRecorder;

struct Task {
    std::string name;
    layout::TaskKind kind{};
    int priority = 0;
    TaskRecorder record;
    // Spawned tasks.
    Executive::TaskBody body;
    // Periodic tasks: their own dispatcher, which takes only their timer's line.
    Executive::PeriodicBody periodic;
    std::unique_ptr<irq::Dispatcher> dispatcher;
    unsigned timer = 0;
    std::uint64_t period_ns = 0;
    std::uint64_t first_ns = 0;  // the timer's first deadline, read back after arming
    std::uint64_t seen = 0;      // expiries dispatched so far (the task's thread only)
    // The thread.
    pthread_t thread{};
    bool started = false;
    std::atomic<bool> exited{false};
};

}  // namespace

struct Executive::Impl {
    const Region* region = nullptr;
    ExecutiveOptions options;
    cpu_set_t cpus{};
    ipc::Segment status;
    detail::StopState stop_state;
    std::vector<std::unique_ptr<Task>> tasks;
    unsigned next_timer = 0;
    // Interrupt handlers: one dispatcher and one thread for all of them.
    std::unique_ptr<irq::Dispatcher> irq_dispatcher;
    std::unique_ptr<Task> irq_task;
    bool started = false;
    bool stopped = false;

    explicit Impl(ipc::Segment segment) : status(std::move(segment)) {}
    ~Impl() {
        if (stop_state.fd >= 0) ::close(stop_state.fd);
    }

    layout::ExecHeader& header() const { return *reinterpret_cast<layout::ExecHeader*>(status.bytes().data()); }

    Result<TaskRecorder> add_record(std::string_view name, layout::TaskKind kind, int priority,
                                    std::uint64_t period_ns, std::uint32_t line) {
        auto& h = header();
        // Only this (setup) thread writes task_count; relaxed: it reads its own last store.
        const std::uint32_t count = nk::layout::atomic(h.task_count).load(std::memory_order_relaxed);
        if (count >= options.max_tasks)
            return fail(RegionError::NoSpace, "task '" + std::string(name) + "': the status segment has room for " +
                                                  std::to_string(options.max_tasks) + " tasks (ExecutiveOptions::max_tasks)");
        auto* records = reinterpret_cast<layout::TaskRecord*>(status.bytes().data() + sizeof(layout::ExecHeader));
        TaskRecorder recorder(&records[count]);
        recorder.identify(name, kind, priority, period_ns, line);
        // release: the record's identity before the count that shows it; pairs with read_exec_status's acquire.
        nk::layout::atomic(h.task_count).store(count + 1, std::memory_order_release);
        return recorder;
    }

    Result<void> check_new(std::string_view name, int priority) const {
        if (name.empty() || name.size() >= layout::kTaskNameCapacity)
            return fail(RegionError::InvalidArgument, "task name '" + std::string(name) + "' must have 1 to " +
                                                          std::to_string(layout::kTaskNameCapacity - 1) + " characters");
        if (priority < 0 || priority > 99)
            return fail(RegionError::InvalidArgument, "task '" + std::string(name) + "': priority " +
                                                          std::to_string(priority) + " is not 0 (SCHED_OTHER) or 1..99");
        for (const auto& t : tasks)
            if (t->name == name) return fail(RegionError::Exists, "a task named '" + std::string(name) + "' exists");
        if (stopped) return fail(RegionError::NotRunning, "the executive was stopped");
        return {};
    }

    detail::ThreadSpec spec(const Task& t) const {
        return detail::ThreadSpec{t.name, t.priority, cpus, options.stack_size};
    }

    void run_periodic(Task& t) {
        t.record.set_state(layout::TaskState::Running);
        while (!stop_state.requested.load(std::memory_order_acquire)) {
            // No deadline: stop() wakes the dispatcher (again and again until this thread leaves).
            if (auto waited = t.dispatcher->wait(); !waited) {
                std::fprintf(stderr, "rt executive: task '%s': %s\n", t.name.c_str(), waited.error().message.c_str());
                t.record.set_state(layout::TaskState::Failed);
                return;
            }
        }
        t.record.set_state(layout::TaskState::Stopped);
    }

    // One dispatch of a periodic task's timer line, on its thread.
    void activate(Task& t, const irq::Interrupt& irq) {
        const std::uint64_t now = clock::monotonic_ns();
        t.seen += irq.expirations;
        // The timer core keeps the schedule first + k * period (it never drifts), so the deadlines
        // this dispatch serves are known from the counts alone.
        const std::uint64_t latest = t.first_ns + (t.seen - 1) * t.period_ns;
        const std::uint64_t earliest = latest - (irq.expirations - 1) * t.period_ns;
        const Activation a{t.seen, latest, now > earliest ? now - earliest : 0, irq.expirations - 1};
        t.record.activation(a.delay_ns, a.missed);
        t.periodic(a);
        t.record.runtime(clock::monotonic_ns() - now);
    }

    Result<void> start_task(Task& t) {
        std::function<void()> body;
        if (t.kind == layout::TaskKind::Periodic) {
            const auto period = std::chrono::nanoseconds(t.period_ns);
            // Direct: the task's dispatcher sleeps to each deadline itself, with no hop through
            // the timer core on the way (vtimer.hpp).
            if (auto armed = vtimer::arm(*region, t.timer, period, period, vtimer::Delivery::Direct); !armed)
                return fail(context(std::move(armed.error()), "task '" + t.name + "': virtual timer " + std::to_string(t.timer)));
            auto state = vtimer::read(*region, region->identity().guest_id, t.timer);
            if (!state || !state->armed) {
                (void)vtimer::disarm(*region, t.timer);
                return fail(RegionError::Corrupt, "task '" + t.name + "': its virtual timer does not read back armed");
            }
            t.first_ns = state->first_ns;
            body = [this, &t] {
                run_periodic(t);
                t.exited.store(true, std::memory_order_release);
            };
        } else if (t.kind == layout::TaskKind::Task) {
            body = [this, &t] {
                t.record.set_state(layout::TaskState::Running);
                t.body(StopToken(&stop_state));
                t.record.set_state(layout::TaskState::Stopped);
                t.exited.store(true, std::memory_order_release);
            };
        } else {
            body = [this, &t] {
                for (const auto& r : irq_records) r.set_state(layout::TaskState::Running);
                bool ok = true;
                while (ok && !stop_state.requested.load(std::memory_order_acquire)) {
                    if (auto waited = irq_dispatcher->wait(); !waited) {
                        std::fprintf(stderr, "rt executive: interrupts: %s\n", waited.error().message.c_str());
                        ok = false;
                    }
                }
                for (const auto& r : irq_records) r.set_state(ok ? layout::TaskState::Stopped : layout::TaskState::Failed);
                t.exited.store(true, std::memory_order_release);
            };
        }
        auto thread = detail::start_thread(spec(t), std::move(body));
        if (!thread) {
            if (t.kind == layout::TaskKind::Periodic) (void)vtimer::disarm(*region, t.timer);
            if (t.kind == layout::TaskKind::Interrupt)
                for (const auto& r : irq_records) r.set_state(layout::TaskState::Failed);
            else
                t.record.set_state(layout::TaskState::Failed);
            return fail(std::move(thread.error()));
        }
        t.thread = *thread;
        t.started = true;
        return {};
    }

    std::vector<TaskRecorder> irq_records;  // one per interrupt handler
    std::vector<unsigned> irq_lines;        // their lines, in the same order

    Result<void> bind(unsigned line, const std::string& name, Executive::InterruptHandler handler);
};

Executive::Executive(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Executive::~Executive() { stop(); }

Result<std::unique_ptr<Executive>> Executive::create(const Region& region, ExecutiveOptions options) {
    if (region.identity().role != Role::Guest)
        return fail(RegionError::InvalidArgument, "the rt executive runs in a guest (attach as a guest)");
    if (options.max_tasks == 0 || options.max_tasks > layout::kMaxTasks)
        return fail(RegionError::InvalidArgument, "max_tasks " + std::to_string(options.max_tasks) + " is not 1.." +
                                                      std::to_string(layout::kMaxTasks));
    if (options.lock_memory && ::mlockall(MCL_CURRENT | MCL_FUTURE) != 0)
        return fail(Error{std::error_code(errno, std::generic_category()),
                          std::string("rt executive: mlockall: ") + std::strerror(errno) +
                              " (run as root or raise RLIMIT_MEMLOCK, or set lock_memory = false)"});
    const std::uint64_t size = layout::exec_segment_size(options.max_tasks);
    // A restarted guest finds its segment again (it survives in the link or common area).
    auto segment = ipc::Segment::create(region, options.status_name, size, options.status_where);
    if (!segment && segment.error().code == make_error_code(RegionError::Exists))
        segment = ipc::Segment::open(region, options.status_name);
    if (!segment) return fail(context(std::move(segment.error()), "rt executive: status segment"));
    if (!segment->writable() || segment->bytes().size() < size)
        return fail(RegionError::SizeConflict, "rt executive: segment '" + options.status_name + "' is " +
                                                   std::to_string(segment->bytes().size()) + " bytes or read-only; it needs " +
                                                   std::to_string(size) + " bytes, writable");
    auto impl = std::make_unique<Impl>(std::move(*segment));
    impl->region = &region;
    impl->options = std::move(options);
    CPU_ZERO(&impl->cpus);
    if (impl->options.cpus.empty()) {
        ::sched_getaffinity(0, sizeof impl->cpus, &impl->cpus);
    } else {
        for (const int cpu : impl->options.cpus) {
            if (cpu < 0 || cpu >= CPU_SETSIZE)
                return fail(RegionError::InvalidArgument, "CPU " + std::to_string(cpu) + " does not exist");
            CPU_SET(cpu, &impl->cpus);
        }
    }
    if (impl->options.interrupt_priority == 0) {
        sched_param param{};
        if (::sched_getscheduler(0) == SCHED_FIFO && ::sched_getparam(0, &param) == 0)
            impl->options.interrupt_priority = param.sched_priority;
    }
    impl->stop_state.fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (impl->stop_state.fd < 0)
        return fail(Error{std::error_code(errno, std::generic_category()), std::string("eventfd: ") + std::strerror(errno)});
    detail::format_status(impl->status.bytes(), impl->options.max_tasks, region.identity().guest_id);
    return std::unique_ptr<Executive>(new Executive(std::move(impl)));
}

Result<void> Executive::spawn(std::string_view name, int priority, TaskBody body) {
    Impl& d = *impl_;
    if (!body) return fail(RegionError::InvalidArgument, "task '" + std::string(name) + "': a body is required");
    if (auto ok = d.check_new(name, priority); !ok) return ok;
    auto record = d.add_record(name, layout::TaskKind::Task, priority, 0, 0xffffffffU);
    if (!record) return fail(std::move(record.error()));
    auto task = std::make_unique<Task>();
    task->name = name;
    task->kind = layout::TaskKind::Task;
    task->priority = priority;
    task->record = *record;
    task->body = std::move(body);
    Task& t = *task;
    d.tasks.push_back(std::move(task));
    if (d.started) return d.start_task(t);
    return {};
}

Result<void> Executive::periodic(std::string_view name, int priority, std::chrono::nanoseconds period, PeriodicBody body) {
    Impl& d = *impl_;
    if (!body) return fail(RegionError::InvalidArgument, "task '" + std::string(name) + "': a body is required");
    if (period < vtimer::kMinPeriod || period > std::chrono::seconds(1))
        return fail(RegionError::InvalidArgument, "task '" + std::string(name) + "': period " +
                                                      std::to_string(period.count()) + " ns is not 50 us .. 1 s");
    if (auto ok = d.check_new(name, priority); !ok) return ok;
    if (d.next_timer >= vtimer::kTimers)
        return fail(RegionError::NoSpace, "task '" + std::string(name) + "': all " + std::to_string(vtimer::kTimers) +
                                              " virtual timers of the guest are taken");
    auto task = std::make_unique<Task>();
    task->timer = d.next_timer;
    // Opened before the timer is armed, so it counts every expiry of this arming and none before.
    auto dispatcher = irq::Dispatcher::open(*d.region);
    if (!dispatcher) return fail(context(std::move(dispatcher.error()), "task '" + std::string(name) + "'"));
    task->dispatcher = std::make_unique<irq::Dispatcher>(std::move(*dispatcher));
    Task* raw = task.get();
    if (auto on = task->dispatcher->on(irq::timer_line(task->timer),
                                       [&d, raw](const irq::Interrupt& irq) { d.activate(*raw, irq); });
        !on)
        return on;
    auto record = d.add_record(name, layout::TaskKind::Periodic, priority, static_cast<std::uint64_t>(period.count()),
                               irq::timer_line(task->timer));
    if (!record) return fail(std::move(record.error()));
    ++d.next_timer;
    task->name = name;
    task->kind = layout::TaskKind::Periodic;
    task->priority = priority;
    task->record = *record;
    task->periodic = std::move(body);
    task->period_ns = static_cast<std::uint64_t>(period.count());
    d.tasks.push_back(std::move(task));
    if (d.started) return d.start_task(*raw);
    return {};
}

Result<void> Executive::on_interrupt(unsigned line, InterruptHandler handler) {
    return impl_->bind(line, "irq." + std::to_string(line), std::move(handler));
}

Result<void> Executive::on_interrupt(std::string_view line_name, InterruptHandler handler) {
    auto line = irq::find_line(*impl_->region, line_name);
    if (!line) return fail(std::move(line.error()));
    // Named after its line, so that nkctl rt says which handler ran; cut to the record's room.
    std::string name = "irq." + line->name;
    if (name.size() >= layout::kTaskNameCapacity) name.resize(layout::kTaskNameCapacity - 1);
    return impl_->bind(line->line, name, std::move(handler));
}

Result<void> Executive::Impl::bind(unsigned line, const std::string& name, InterruptHandler handler) {
    Impl& d = *this;
    if (!handler) return fail(RegionError::InvalidArgument, "interrupt line " + std::to_string(line) + ": a handler is required");
    if (d.started) return fail(RegionError::InvalidArgument, "interrupt handlers are bound before start()");
    // Timer lines belong to periodic tasks, whose own dispatchers take them.
    if (line < vtimer::kTimers)
        return fail(RegionError::InvalidArgument, "line " + std::to_string(line) + " is a virtual timer's: use periodic()");
    if (!d.irq_dispatcher) {
        auto dispatcher = irq::Dispatcher::open(*d.region);
        if (!dispatcher) return fail(context(std::move(dispatcher.error()), "interrupt dispatcher"));
        d.irq_dispatcher = std::make_unique<irq::Dispatcher>(std::move(*dispatcher));
    }
    if (std::find(d.irq_lines.begin(), d.irq_lines.end(), line) != d.irq_lines.end())
        return fail(RegionError::Exists, "line " + std::to_string(line) + " has a handler");
    auto record = d.add_record(name, layout::TaskKind::Interrupt, d.options.interrupt_priority, 0, line);
    if (!record) return fail(std::move(record.error()));
    TaskRecorder recorder = *record;
    if (auto on = d.irq_dispatcher->on(line, [recorder, handler = std::move(handler)](const irq::Interrupt& irq) {
            recorder.handled();
            handler(irq);
        });
        !on)
        return on;
    d.irq_records.push_back(recorder);
    d.irq_lines.push_back(line);
    return {};
}

Result<void> Executive::start() {
    Impl& d = *impl_;
    if (d.stopped) return fail(RegionError::NotRunning, "the executive was stopped");
    // Again after a failure: starts what is not running yet.
    d.started = true;
    if (d.irq_dispatcher && !d.irq_task) {
        d.irq_task = std::make_unique<Task>();
        d.irq_task->name = "irq";
        d.irq_task->kind = layout::TaskKind::Interrupt;
        d.irq_task->priority = d.options.interrupt_priority;
    }
    if (d.irq_task && !d.irq_task->started)
        if (auto ok = d.start_task(*d.irq_task); !ok) return ok;
    for (auto& t : d.tasks)
        if (!t->started)
            if (auto ok = d.start_task(*t); !ok) return ok;
    return {};
}

void Executive::stop() {
    Impl& d = *impl_;
    if (d.stopped) return;
    d.stopped = true;
    // release: pairs with the tasks' acquire loads of the flag.
    d.stop_state.requested.store(true, std::memory_order_release);
    const std::uint64_t one = 1;
    (void)!::write(d.stop_state.fd, &one, sizeof one);
    std::vector<Task*> all;
    for (auto& t : d.tasks) all.push_back(t.get());
    if (d.irq_task) all.push_back(d.irq_task.get());
    // A dispatcher woken just before it sleeps would miss one wake_up() (it reads the wake word
    // on entry), so wake each until its thread has left its loop.
    for (;;) {
        bool running = false;
        for (Task* t : all) {
            if (!t->started || t->exited.load(std::memory_order_acquire)) continue;
            running = true;
            if (t->dispatcher) t->dispatcher->wake_up();
            if (t == d.irq_task.get() && d.irq_dispatcher) d.irq_dispatcher->wake_up();
        }
        if (!running) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    for (Task* t : all) {
        if (!t->started) continue;
        ::pthread_join(t->thread, nullptr);
        t->started = false;
        if (t->kind == layout::TaskKind::Periodic) (void)vtimer::disarm(*d.region, t->timer);
    }
}

Result<ExecStatus> Executive::report() const { return read_exec_status(impl_->status.bytes()); }

std::span<const std::byte> Executive::status_bytes() const { return impl_->status.bytes(); }

}  // namespace nk::rt
