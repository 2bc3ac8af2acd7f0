// nkctl: look at and operate a running nk platform.
//
//   nkctl map [--json]                 the partition map: every area, its offset, size and owner
//   nkctl segments [--json]            named segments in the link and common areas
//   nkctl pnv [--json]                 PNV allocations of every guest
//   nkctl pnv free GUEST ID            free one PNV allocation (operator)
//   nkctl queues [--json]              SPSC rings and MPMC queues: item size, capacity, depth, refusals
//   nkctl events [--json]              event variables: mode, set, waiters, counters
//   nkctl events --follow [--count N]  failures and restarts as they happen, JSON lines
//   nkctl ports [--json]               ports: owner, up or down, capacity, queued, sent, received, drops
//   nkctl interrupts [--json]          interrupt lines, doorbells (pending, raised) and virtual timers
//   nkctl net [--json]                 netbridge addresses and per-route counters (packets, bytes, drops)
//   nkctl rt [--segment NAME] [--json] the rt executive's tasks: activations, overruns, dispatch delays
//   nkctl guests [--json]              every guest: state, init pid, incarnation, restarts, last failure
//   nkctl crash-info GUEST [--json]    its last failure: detector, panic record, console tail
//   nkctl stop|start|restart GUEST     ask nkd to stop, start or restart one guest
//   nkctl exec GUEST -- CMD...         run CMD inside GUEST's namespaces and cgroup; exits with its status
//
// Every command takes --config FILE or --platform NAME; with one platform running, neither.
#include <CLI/CLI.hpp>

#include "commands.hpp"

int main(int argc, char** argv) {
    CLI::App app{"nkctl: inspect and operate an nk platform"};
    app.require_subcommand(1);
    nk::ctl::Target target;
    bool json = false;
    auto add_target = [&](CLI::App* command) {
        command->add_option("-c,--config", target.config_path, "the platform's config file");
        command->add_option("-p,--platform", target.platform, "the platform's name");
    };
    add_target(&app);
    // A subcommand that takes the target options and prints a table or, with --json, JSON.
    auto add_listing = [&](CLI::App& parent, const std::string& name, const std::string& help) {
        auto* command = parent.add_subcommand(name, help);
        add_target(command);
        command->add_flag("--json", json, "print JSON");
        return command;
    };

    auto* map = add_listing(app, "map", "print the partition map");

    auto* segments = add_listing(app, "segments", "list named segments");

    auto* pnv = add_listing(app, "pnv", "list PNV allocations, or free one");
    std::string guest, id;
    auto* pnv_free = pnv->add_subcommand("free", "free a PNV allocation of a guest");
    add_target(pnv_free);
    pnv_free->add_option("guest", guest, "guest name")->required();
    pnv_free->add_option("id", id, "allocation id")->required();

    auto* queues = add_listing(app, "queues", "list SPSC rings and MPMC queues");
    auto* events = add_listing(app, "events", "list event variables; --follow: platform events as JSON lines");
    bool follow = false;
    std::size_t follow_count = 0;
    events->add_flag("--follow", follow, "print failures and restarts as they happen, one JSON object a line");
    events->add_option("--count", follow_count, "with --follow: stop after this many events");
    auto* ports = add_listing(app, "ports", "list ports");
    auto* interrupts = add_listing(app, "interrupts", "list interrupt lines, doorbells and virtual timers");
    auto* net = add_listing(app, "net", "list each guest's netbridge address and every route's counters");

    std::string rt_segment = "rt.exec";
    auto* rt = add_listing(app, "rt", "the rt executive's tasks: activations, overruns, dispatch-delay histogram");
    rt->add_option("--segment", rt_segment, "its status segment (default rt.exec)");

    auto* guests = add_listing(app, "guests", "list the guests: state, pid, incarnation, restarts, last failure");

    std::string exec_guest;
    std::vector<std::string> exec_argv;
    auto* exec = app.add_subcommand("exec", "run a command inside a guest (like nsenter), with its status");
    add_target(exec);
    exec->add_option("guest", exec_guest, "guest name")->required();
    exec->add_option("command", exec_argv, "the command and its arguments (after --)")->required();

    std::string crash_guest;
    std::size_t crash_lines = 20;
    auto* crash = add_listing(app, "crash-info", "a guest's last failure: detector, panic record, console tail");
    crash->add_option("guest", crash_guest, "guest name")->required();
    crash->add_option("--lines", crash_lines, "console lines to show (default 20)");

    std::string control_guest;
    std::vector<std::pair<std::string, CLI::App*>> controls;
    for (const char* op : {"stop", "start", "restart"}) {
        auto* command = app.add_subcommand(op, std::string(op) + " one guest (nkd does it)");
        add_target(command);
        command->add_option("guest", control_guest, "guest name")->required();
        controls.emplace_back(op, command);
    }

    CLI11_PARSE(app, argc, argv);
    for (const auto& [op, command] : controls)
        if (*command) return nk::ctl::control_command(target, op, control_guest);
    if (*queues) return nk::ctl::queues_command(target, json);
    if (*events && follow) return nk::ctl::follow_command(target, follow_count);
    if (*events) return nk::ctl::events_command(target, json);
    if (*ports) return nk::ctl::ports_command(target, json);
    if (*interrupts) return nk::ctl::interrupts_command(target, json);
    if (*net) return nk::ctl::net_command(target, json);
    if (*crash) return nk::ctl::crash_info_command(target, crash_guest, json, crash_lines);
    if (*rt) return nk::ctl::rt_command(target, rt_segment, json);
    if (*guests) return nk::ctl::guests_command(target, json);
    if (*exec) return nk::ctl::exec_command(target, exec_guest, exec_argv);
    if (*map) return nk::ctl::map_command(target, json);
    if (*segments) return nk::ctl::segments_command(target, json);
    if (*pnv_free) return nk::ctl::pnv_free_command(target, guest, id);
    if (*pnv) return nk::ctl::pnv_list_command(target, json);
    return 2;
}
