#!/usr/bin/env python3
"""The cluster's targets of docs/PERFORMANCE.md, on one machine: a local redis-server and three
release nodes joined to it, the swarm against the first node.

1. Join latency: bots arriving by quick play at --rate joins a second through node 1, each
   timed from its TCP connect to the Welcome on the node it ends on (redirects included, as
   the swarm reports it): p50, p99, max, and how many were redirected.
2. Redis load: rooms of one player (--max-room-players 1), --rooms-per-node rooms on each node,
   then the commands and bytes Redis handled over --window seconds (INFO stats and
   commandstats deltas), per node per second, beside each node's own count of calls.
3. A killed node: node 3 (with rooms) is killed with SIGKILL; node 1's /rooms is polled every
   20 ms until none of node 3's rooms is listed: the time, against the lease.

Usage: python3 scripts/cluster_measure.py [--joins 1500] [--rate 100] [--rooms-per-node 100]
                                          [--window 10] [--lease 5s] [--base-port 8281]
Needs: Linux, redis-server, release builds (cargo build --release).
"""

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def redis_cli(port, *args):
    """One command over a raw socket (RESP), answering the bulk string (enough for INFO)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        command = f"*{len(args)}\r\n" + "".join(f"${len(a)}\r\n{a}\r\n" for a in args)
        s.sendall(command.encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
            if data.startswith(b"$"):
                header, _, rest = data.partition(b"\r\n")
                if len(rest) >= int(header[1:]) + 2:
                    return rest[: int(header[1:])].decode()
            elif data.endswith(b"\r\n"):
                return data.decode()


def info_number(info, name):
    match = re.search(rf"^{name}:(\d+)", info, re.M)
    return int(match.group(1)) if match else 0


def commandstats(port):
    stats = {}
    for name, calls in re.findall(r"^cmdstat_(\w+):calls=(\d+)", redis_cli(port, "INFO", "commandstats"), re.M):
        stats[name] = int(calls)
    return stats


def metric(port, name):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    match = re.search(rf"^{name} (\S+)$", text, re.M)
    return float(match.group(1)) if match else 0.0


def rooms(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/rooms", timeout=5) as response:
        return json.load(response)["rooms"]


class Cluster:
    def __init__(self, base_port, lease, flags):
        self.redis_port = free_port()
        self.redis = subprocess.Popen(
            ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no"], stdout=subprocess.DEVNULL)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", self.redis_port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        self.ports = [base_port + i for i in range(3)]
        self.nodes = []
        for i, port in enumerate(self.ports):
            node = subprocess.Popen(
                ["target/release/skirmish", "--addr", f"127.0.0.1:{port}", "--redis-url",
                 f"redis://127.0.0.1:{self.redis_port}", "--node-id", f"n{i + 1}",
                 "--cluster-lease", lease, "--max-players", "5000",
                 "--max-connections-per-ip", "5000", "--log", "warn", *flags],
                cwd=ROOT, stdout=subprocess.PIPE, text=True)
            node.stdout.readline()
            self.nodes.append(node)

    def stop(self):
        for process in [*self.nodes, self.redis]:
            if process.poll() is None:
                process.terminate()
        for process in [*self.nodes, self.redis]:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


def swarm(port, bots, rate, duration, behaviour="idle"):
    path = tempfile.mktemp(suffix=".json")
    subprocess.run(
        ["target/release/swarm", "--url", f"ws://127.0.0.1:{port}/ws", "--bots", str(bots),
         "--ramp", str(rate), "--duration", duration, "--behaviour", behaviour, "--json", path],
        cwd=ROOT, capture_output=True, text=True)
    with open(path) as f:
        report = json.load(f)
    os.unlink(path)
    return report


def join_latency_alone(args):
    """The same joins against one node without a cluster: the floor the cluster adds to (a
    welcome leaves at the room's next tick, so half a tick on average is in both)."""
    port = args.base_port + 10
    node = subprocess.Popen(
        ["target/release/skirmish", "--addr", f"127.0.0.1:{port}", "--max-players", "5000",
         "--max-connections-per-ip", "5000", "--log", "warn"],
        cwd=ROOT, stdout=subprocess.PIPE, text=True)
    node.stdout.readline()
    try:
        report = swarm(port, args.joins, args.rate, f"{args.joins / args.rate + 3:.0f}s")
        connect = report["connect"]
        print(f"join latency without a cluster, same joins: p50 {connect['p50_ms']:.2f} ms  "
              f"p99 {connect['p99_ms']:.2f} ms  max {connect['max_ms']:.2f} ms; "
              f"established {report['bots_established']}/{args.joins}, errors {report['errors']}")
    finally:
        node.terminate()
        node.wait(timeout=10)


def join_latency(args):
    cluster = Cluster(args.base_port, args.lease, [])
    try:
        duration = f"{args.joins / args.rate + 3:.0f}s"
        report = swarm(cluster.ports[0], args.joins, args.rate, duration)
        connect = report["connect"]
        per_node = [len([r for r in rooms(cluster.ports[0]) if r["node"] == f"n{i + 1}"]) for i in range(3)]
        print(f"join latency at {args.rate:g} joins/s, {args.joins} quick plays through n1: "
              f"p50 {connect['p50_ms']:.2f} ms  p99 {connect['p99_ms']:.2f} ms  max {connect['max_ms']:.2f} ms; "
              f"established {report['bots_established']}/{args.joins}, redirected {report['redirects']}, "
              f"errors {report['errors']}; rooms per node {per_node}")
    finally:
        cluster.stop()


def redis_load(args):
    cluster = Cluster(args.base_port, args.lease, ["--max-room-players", "1"])
    try:
        bots = 3 * args.rooms_per_node
        duration = f"{bots / 100 + args.window + 6:.0f}s"
        swarm_process = subprocess.Popen(
            ["target/release/swarm", "--url", f"ws://127.0.0.1:{cluster.ports[0]}/ws", "--bots",
             str(bots), "--ramp", "100", "--duration", duration, "--behaviour", "idle"],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(bots / 100 + 3)
        listed = rooms(cluster.ports[0])
        per_node = [len([r for r in listed if r["node"] == f"n{i + 1}"]) for i in range(3)]
        before_info = redis_cli(cluster.redis_port, "INFO", "stats")
        before_stats = commandstats(cluster.redis_port)
        before_calls = [metric(port, "skirmish_cluster_calls_total") for port in cluster.ports]
        time.sleep(args.window)
        after_info = redis_cli(cluster.redis_port, "INFO", "stats")
        after_stats = commandstats(cluster.redis_port)
        after_calls = [metric(port, "skirmish_cluster_calls_total") for port in cluster.ports]
        swarm_process.wait()
        per = 3 * args.window
        commands = (info_number(after_info, "total_commands_processed")
                    - info_number(before_info, "total_commands_processed")) / per
        bytes_in = (info_number(after_info, "total_net_input_bytes")
                    - info_number(before_info, "total_net_input_bytes")) / per
        bytes_out = (info_number(after_info, "total_net_output_bytes")
                     - info_number(before_info, "total_net_output_bytes")) / per
        calls = [(a - b) / args.window for a, b in zip(after_calls, before_calls)]
        by_command = {name: (after_stats.get(name, 0) - before_stats.get(name, 0)) / per
                      for name in after_stats if after_stats.get(name, 0) != before_stats.get(name, 0)}
        print(f"redis load, rooms per node {per_node}, over {args.window} s: per node per second "
              f"{commands:.1f} commands (incl. those inside scripts: "
              f"{', '.join(f'{k} {v:.1f}' for k, v in sorted(by_command.items()))}), "
              f"{bytes_in:.0f} bytes in, {bytes_out:.0f} bytes out; "
              f"each node's own calls/s {[round(c, 1) for c in calls]}")
    finally:
        cluster.stop()


def killed_node(args):
    cluster = Cluster(args.base_port, args.lease, ["--max-room-players", "1"])
    try:
        swarm_process = subprocess.Popen(
            ["target/release/swarm", "--url", f"ws://127.0.0.1:{cluster.ports[0]}/ws", "--bots",
             "30", "--ramp", "100", "--duration", "30s", "--behaviour", "idle"],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not [r for r in rooms(cluster.ports[0]) if r["node"] == "n3"]:
            if time.monotonic() > deadline:
                sys.exit("node 3 got no rooms")
            time.sleep(0.1)
        time.sleep(1)
        listed = len([r for r in rooms(cluster.ports[0]) if r["node"] == "n3"])
        cluster.nodes[2].kill()
        killed = time.monotonic()
        while [r for r in rooms(cluster.ports[0]) if r["node"] == "n3"]:
            time.sleep(0.02)
        gone = time.monotonic() - killed
        swarm_process.kill()
        print(f"killed node: its {listed} rooms left the listing {gone:.2f} s after SIGKILL "
              f"(lease {args.lease}; target at most twice the lease)")
    finally:
        cluster.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--joins", type=int, default=1500)
    parser.add_argument("--rate", type=float, default=100)
    parser.add_argument("--rooms-per-node", type=int, default=100)
    parser.add_argument("--window", type=int, default=10)
    parser.add_argument("--lease", default="5s")
    parser.add_argument("--base-port", type=int, default=8281)
    parser.add_argument("--only", choices=["joins", "redis", "kill"])
    args = parser.parse_args()
    os.chdir(ROOT)
    if args.only in (None, "joins"):
        join_latency(args)
        join_latency_alone(args)
    if args.only in (None, "redis"):
        redis_load(args)
    if args.only in (None, "kill"):
        killed_node(args)


if __name__ == "__main__":
    main()
