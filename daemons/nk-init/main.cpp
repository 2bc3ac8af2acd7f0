// nk-init: PID 1 of a guest partition that nkd starts.
//
// nkd clones it into the guest's new namespaces (nanokernel/partition.hpp); it waits for nkd's
// go (the start pipe, NK_START_FD) so that nkd can put it into the guest's cgroup first, then
// makes the namespaces the guest's own: host name, a private mount tree with a /proc of the new
// PID namespace, the platform's socket directory hidden, an /etc/hosts that names the guests,
// loopback up.
//
//   linux guest:  nk-init --guest linux --hostname linux --services '[["sleep","infinity"]]'
//                 It starts each service, reaps every orphan (it is PID 1), forwards SIGTERM,
//                 SIGINT and SIGHUP to its services, and on SIGTERM stops the guest cleanly:
//                 services get 3 s, then SIGKILL, then nk-init exits 0.
//   rt guest:     nk-init --guest rt --hostname rt --cpus 1 --fifo 80 --exec -- /opt/rt-app ...
//                 It pins itself to the guest's CPUs, switches to SCHED_FIFO and execs the rt
//                 program, which becomes PID 1: the rt guest is that one process.
//
// Runs inside the guest: it reports on stderr (which nkd captures as the guest's console).
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "init_process.hpp"

int main(int argc, char** argv) {
    CLI::App app{"nk-init: PID 1 of an nk guest partition"};
    nk::init::Options options;
    std::string services_json = "[]";
    app.add_option("--guest", options.guest, "guest name (for messages)")->required();
    app.add_option("--hostname", options.hostname, "the guest's host name")->required();
    app.add_option("--services", services_json, "JSON array of argv arrays to start");
    app.add_option("--cpus", options.cpus, "CPU list to pin to (rt guests), e.g. 1 or 0-1");
    app.add_option("--fifo", options.fifo_priority, "SCHED_FIFO priority (rt guests)");
    app.add_flag("--loopback", options.loopback_up, "bring lo up (guests with a network namespace)");
    app.add_option("--hide", options.hidden_dirs, "host directories to cover with an empty tmpfs");
    app.add_option("--host", options.hosts_lines, "a line for the guest's /etc/hosts (\"10.77.2.1 beta\"), before the host's lines");
    app.add_flag("--exec", options.exec_mode, "exec the command after -- as PID 1 instead of serving");
    app.add_option("command", options.command, "with --exec: the program and its arguments");
    CLI11_PARSE(app, argc, argv);

    auto services = nlohmann::json::parse(services_json, nullptr, false);
    if (services.is_discarded() || !services.is_array()) {
        std::fprintf(stderr, "nk-init[%s]: --services is not a JSON array of commands\n", options.guest.c_str());
        return 2;
    }
    for (const auto& service : services) {
        if (!service.is_array() || service.empty()) {
            std::fprintf(stderr, "nk-init[%s]: each service must be a non-empty array of strings\n",
                         options.guest.c_str());
            return 2;
        }
        std::vector<std::string> words;
        for (const auto& word : service) {
            if (!word.is_string()) {
                std::fprintf(stderr, "nk-init[%s]: service words must be strings\n", options.guest.c_str());
                return 2;
            }
            words.push_back(word.get<std::string>());
        }
        options.services.push_back(std::move(words));
    }
    if (options.exec_mode && options.command.empty()) {
        std::fprintf(stderr, "nk-init[%s]: --exec needs a command after --\n", options.guest.c_str());
        return 2;
    }
    return nk::init::run(options);
}
