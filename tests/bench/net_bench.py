#!/usr/bin/env python3
"""The netbridge against the kernel's own path (a veth pair) and user-mode networking (pasta),
measured in one run, alternating: iperf3 TCP throughput with 1 and 4 streams, and sockperf TCP
ping-pong latency. Writes a JSON list of {metric, unit, nk, peer, peer_value, ratio, goal, met}.

    tests/bench/net_bench.py --bin build/bench/bin --json bench-results/net.json [--rounds 3] [--seconds 5]

Each side runs the same client and server programs:
  nk     two linux guests (alpha, beta) of a platform nkd starts, over nk-netbridge;
  veth   two network namespaces joined by a veth pair;
  pasta  a namespace that pasta connects to the host, the server on the host's loopback.
Everything lives in namespaces made here and removed at the end; nothing leaves the machine.
"""
import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

PORT_SOCKPERF = 11111
# Every side gets the same one CPU: the guests' cpusets, taskset for the others. (With the guests
# on both CPUs of the 2-CPU development machine nk moved half as much: the routers' threads and
# TCP bounced between the CPUs; veth's kernel path does not care.)
CPU = 0
PIN = f"taskset -c {CPU}"


def sh(cmd, check=True, timeout=120):
    out = subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=timeout)
    if check and out.returncode != 0:
        raise RuntimeError(f"{cmd}: exit {out.returncode}: {out.stdout}{out.stderr}")
    return out


def stop_server(server):
    """Ends the server's whole process group: SIGTERM (nkctl exec passes it on into the guest), SIGKILL after 3 s."""
    def group_alive():
        server.poll()  # reaps the shell, which would otherwise keep the group alive as a zombie
        try:
            os.killpg(server.pid, 0)
            return True
        except ProcessLookupError:
            return False
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if not group_alive():
            break
        os.killpg(server.pid, sig)
        deadline = time.time() + 3
        while time.time() < deadline and group_alive():
            time.sleep(0.05)
    server.wait()


class Side:
    """How to run a command on the client and the server side, and the server's address."""

    def __init__(self, name, client, server, address, bind):
        self.name, self.client, self.server, self.address, self.bind = name, client, server, address, bind

    def background(self, cmd):
        # A process group of its own: stop_server() ends the whole group, not only the shell (a server
        # under `ip netns exec` or `pasta` is the shell's grandchild, and sockperf never exits by itself).
        # Not a session of its own: with the kernel's autogroup scheduling a new session is a CPU group
        # of its own, which gave the server half of the one CPU against client and pasta together and
        # collapsed pasta's single stream to 0.02 Gbit/s (2026-12-04).
        return subprocess.Popen(self.server(cmd), shell=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                process_group=0)

    def iperf(self, seconds, streams):
        server = self.background(f"iperf3 -s -1 -B {self.bind}")
        try:
            time.sleep(0.4)
            out = sh(self.client(f"iperf3 -c {self.address} -t {seconds} -P {streams} -J"), timeout=seconds + 60)
            return json.loads(out.stdout)["end"]["sum_received"]["bits_per_second"] / 1e9
        finally:
            stop_server(server)

    def sockperf(self, seconds):
        server = self.background(f"sockperf sr --tcp -i {self.bind} -p {PORT_SOCKPERF}")
        try:
            time.sleep(0.4)
            out = sh(self.client(f"sockperf pp --tcp -i {self.address} -p {PORT_SOCKPERF} -t {seconds}"),
                     timeout=seconds + 60).stdout
            p50 = re.search(r"percentile 50\.000 =\s*([0-9.]+)", out)
            if not p50:
                raise RuntimeError("sockperf printed no percentiles:\n" + out)
            return float(p50.group(1)) * 2  # sockperf reports half the round trip
        finally:
            stop_server(server)


def nk_side(bin_dir, work):
    cpus = [CPU]
    name = f"nkbench{os.getpid()}"
    toml = f"""[platform]
name = "{name}"
lock_memory = true
[areas]
link_size = "4 MiB"
common_size = "64 KiB"
pnv_size = "64 KiB"
[[guests]]
id = 1
name = "alpha"
kind = "linux"
memory = "64 KiB"
cpus = {cpus}
services = [["sleep", "infinity"]]
net = {{ address = "10.77.1.1/24" }}
[[guests]]
id = 2
name = "beta"
kind = "linux"
memory = "64 KiB"
cpus = {cpus}
services = [["sleep", "infinity"]]
net = {{ address = "10.77.2.1/24" }}
[[guests]]
id = 3
name = "rt"
kind = "rt"
memory = "64 KiB"
cpus = {cpus}
priority = 10
net = {{ address = "10.77.3.1/24" }}
run = ["nk_example_rt_console"]
[[links]]
guests = ["alpha", "beta"]
[[links]]
guests = ["alpha", "rt"]
[[access]]
objects = "*"
guests = ["*"]
rights = "rw"
"""
    run_dir = os.path.join(work, "run")
    os.makedirs(run_dir)
    config = os.path.join(run_dir, "bench.toml")
    with open(config, "w") as f:
        f.write(toml)
    env = dict(os.environ, NK_RUN_DIR=run_dir)
    log = open(os.path.join(work, "nkd.log"), "w")
    nkd = subprocess.Popen([os.path.join(bin_dir, "nkd"), "--config", config], env=env, stderr=log)
    nkctl = f"NK_RUN_DIR={run_dir} {os.path.join(bin_dir, 'nkctl')}"
    for _ in range(300):
        out = sh(f"{nkctl} net --json --platform {name}", check=False)
        if out.returncode == 0 and sum(1 for g in json.loads(out.stdout) if g.get("netbridge") in ("tun", "lwip")) == 3:
            break
        time.sleep(0.05)
    else:
        nkd.kill()
        raise RuntimeError("the nk platform did not come up: " + open(os.path.join(work, "nkd.log")).read())
    side = Side("nk", lambda c: f"{nkctl} exec --platform {name} alpha -- {c}",
                lambda c: f"{nkctl} exec --platform {name} beta -- {c}", "10.77.2.1", "10.77.2.1")

    # The rt guest's lwIP: a kernel TCP sender in alpha streams into its discard service (port 9).
    side.lwip = lambda megabytes: float(sh(
        f"{nkctl} exec --platform {name} alpha -- python3 -c \"import socket,time\n"
        f"s=socket.create_connection(('10.77.3.1',9)); b=b'x'*65536; n=0; t=time.time()\n"
        f"while n < {megabytes}*2**20: s.sendall(b); n+=len(b)\n"
        f"s.shutdown(socket.SHUT_WR); s.recv(1); print(n*8/(time.time()-t)/1e9)\"", timeout=300).stdout)

    def stop():
        nkd.terminate()
        nkd.wait()
    return side, stop


def veth_side():
    a, b = f"nkbva{os.getpid()}", f"nkbvb{os.getpid()}"
    sh(f"ip netns add {a} && ip netns add {b} && ip link add nkbv0 netns {a} type veth peer name nkbv1 netns {b} && "
       f"ip -n {a} addr add 10.88.0.1/24 dev nkbv0 && ip -n {b} addr add 10.88.0.2/24 dev nkbv1 && "
       f"ip -n {a} link set nkbv0 up && ip -n {b} link set nkbv1 up && ip -n {a} link set lo up && ip -n {b} link set lo up")
    side = Side("veth", lambda c: f"ip netns exec {a} {PIN} {c}", lambda c: f"ip netns exec {b} {PIN} {c}", "10.88.0.2",
                "10.88.0.2")

    def stop():
        sh(f"ip netns del {a}; ip netns del {b}", check=False)
    return side, stop


def pasta_side():
    # pasta maps the namespace's gateway address to the host's loopback: the server listens there.
    pasta = f"{PIN} pasta --runas 0:0 --config-net -a 10.5.0.2 -n 24 -g 10.5.0.1 -f -q --"
    side = Side("pasta", lambda c: f"{pasta} {c}", lambda c: f"{PIN} {c}", "10.5.0.1", "127.0.0.1")
    return side, lambda: None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--json", required=True)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=5)
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="nk-netbench-")
    stops = []
    try:
        sides = []
        for make in (lambda: nk_side(args.bin, work), veth_side, pasta_side):
            side, stop = make()
            sides.append(side)
            stops.append(stop)
        tests = [("throughput_1", "Gbit/s", lambda s: s.iperf(args.seconds, 1)),
                 ("throughput_4", "Gbit/s", lambda s: s.iperf(args.seconds, 4)),
                 ("latency", "us", lambda s: s.sockperf(args.seconds))]
        results = {(t, s.name): [] for t, _, _ in tests for s in sides}
        results[("lwip", "nk")] = []
        for r in range(args.rounds):
            for test, _, run in tests:
                for side in sides:  # alternate: each round runs every side once per test
                    try:
                        results[(test, side.name)].append(run(side))
                    except Exception as e:  # a peer that cannot run here is reported, not faked
                        print(f"  {side.name} {test}: {e}".splitlines()[0], file=sys.stderr)
                if test == "latency":  # once a round: the lwIP guest, which has no peer to alternate with
                    try:
                        results[("lwip", "nk")].append(sides[0].lwip(256))
                    except Exception as e:
                        print(f"  nk lwip: {e}".splitlines()[0], file=sys.stderr)
                print(f"round {r + 1}/{args.rounds} {test}: " +
                      ", ".join(f"{s.name} {results[(test, s.name)][-1]:.2f}" if results[(test, s.name)] else f"{s.name} -"
                                for s in sides), file=sys.stderr)
    finally:
        for stop in stops:
            stop()
        shutil.rmtree(work, ignore_errors=True)

    def median(test, side):
        values = results[(test, side)]
        return statistics.median(values) if values else None

    rows = []

    def row(metric, test, unit, peer, goal, higher_better, bound):
        nk, pv = median(test, "nk"), median(test, peer)
        ratio = nk / pv if nk is not None and pv else None
        met = False if ratio is None else None if bound is None else (ratio >= bound if higher_better else ratio <= bound)
        rows.append({"metric": metric, "unit": unit, "nk": None if nk is None else round(nk, 3), "peer": peer,
                     "peer_value": None if pv is None else round(pv, 3),
                     "ratio": None if ratio is None else round(ratio, 3), "goal": goal, "met": met})

    # The goals: one stream at least 0.8x veth and at least pasta; the round trip within
    # 1.5x veth's. Four streams and pasta's round trip are reported beside them.
    row("throughput", "throughput_1", "Gbit/s", "veth", ">= 0.8", True, 0.8)
    row("throughput", "throughput_1", "Gbit/s", "pasta", ">= 1.0", True, 1.0)
    row("throughput_4", "throughput_4", "Gbit/s", "veth", "reported", True, None)
    row("throughput_4", "throughput_4", "Gbit/s", "pasta", "reported", True, None)
    row("latency", "latency", "us", "veth", "<= 1.5", False, 1.5)
    row("latency", "latency", "us", "pasta", "reported", False, None)
    # The lwIP guest against the floor of 1 Gbit/s (a kernel TCP sender through the router).
    lw = median("lwip", "nk")
    rows.append({"metric": "lwip", "unit": "Gbit/s", "nk": None if lw is None else round(lw, 3), "peer": "goal",
                 "peer_value": 1.0, "ratio": None if lw is None else round(lw, 3), "goal": ">= 1.0",
                 "met": lw is not None and lw >= 1.0})
    print(f"{'metric':<14} {'unit':<7} {'nk':>9} {'peer':<6} {'peer value':>10} {'ratio':>7}  goal      met")
    for r in rows:
        fmt = lambda v: "-" if v is None else f"{v:.3f}"
        print(f"{r['metric']:<14} {r['unit']:<7} {fmt(r['nk']):>9} {r['peer']:<6} {fmt(r['peer_value']):>10} "
              f"{fmt(r['ratio']):>7}  {r['goal']:<9} {r['met']}")
    with open(args.json, "w") as f:
        f.write("[\n" + ",\n".join("  " + json.dumps(r) for r in rows) + "\n]\n")


if __name__ == "__main__":
    main()
