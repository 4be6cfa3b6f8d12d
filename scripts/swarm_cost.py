#!/usr/bin/env python3
"""What one core spends driving the bots: the swarm against the floor, run alternately.

For each round, starts a fresh release server pinned to CPU 0, then on CPU 1 either the floor
(`examples/swarm_floor.rs`: the cheapest tokio client that plays, reads every frame without
decoding it and sends an input per tick) or the swarm (`src/bin/swarm.rs`, which applies and
checks every frame), and prints one line each: the client's CPU use as it reports it, the
snapshots delivered, and the server's CPU use (from /proc). Alternating the two on the same
server build is what makes them comparable on a VM whose speed drifts between runs
(docs/PERFORMANCE.md, "What bounds the swarm").

Usage: python3 scripts/swarm_cost.py [--bots 2000] [--behaviour wander] [--seconds 30]
                                     [--rounds 3] [--port 8191]
Needs: Linux, taskset (util-linux), a Rust toolchain. Builds with `cargo build --release`.
"""

import argparse
import json
import os
import re
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
RELEASE = os.path.join(ROOT, "target", "release")


def cpu_seconds(pid):
    """User plus system CPU time of a process, in seconds."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def start_server(port, bots):
    server = subprocess.Popen(
        ["taskset", "-c", "0", os.path.join(RELEASE, "skirmish"),
         "--addr", f"127.0.0.1:{port}", "--max-players", str(bots + 10),
         "--max-connections-per-ip", str(bots + 10), "--seed", "1", "--log", "warn"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    return server


def run_floor(url, bots, seconds):
    out = subprocess.run(
        ["taskset", "-c", "1", os.path.join(RELEASE, "examples", "swarm_floor"),
         url, str(bots), str(seconds)],
        capture_output=True, text=True, check=True).stdout
    cpu = float(re.search(r"CPU ([\d.]+)% of one core", out).group(1))
    return cpu, None


def run_swarm(url, bots, seconds, behaviour):
    with tempfile.TemporaryDirectory() as scratch:
        report = os.path.join(scratch, "swarm.json")
        subprocess.run(
            ["taskset", "-c", "1", os.path.join(RELEASE, "swarm"), "--url", url,
             "--bots", str(bots), "--duration", f"{seconds}s", "--ramp", "500",
             "--behaviour", behaviour, "--json", report],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        with open(report) as file:
            result = json.load(file)
    return result["swarm_cpu_percent"], result["delivered_ratio"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bots", type=int, default=2000)
    parser.add_argument("--behaviour", default="wander")
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--port", type=int, default=8191)
    args = parser.parse_args()
    subprocess.run(["cargo", "build", "--release", "--bins", "--example", "swarm_floor"],
                   cwd=ROOT, check=True)
    url = f"ws://127.0.0.1:{args.port}/ws"
    print(f"| {args.bots} connections | client CPU | delivered | server CPU |")
    print("|---|---|---|---|")
    for _ in range(args.rounds):
        for client in ("swarm_floor", f"swarm {args.behaviour}"):
            server = start_server(args.port, args.bots)
            before, started = cpu_seconds(server.pid), time.monotonic()
            try:
                if client == "swarm_floor":
                    cpu, delivered = run_floor(url, args.bots, args.seconds)
                else:
                    cpu, delivered = run_swarm(url, args.bots, args.seconds, args.behaviour)
                server_cpu = 100 * (cpu_seconds(server.pid) - before) / (time.monotonic() - started)
            finally:
                server.terminate()
                server.wait()
            shown = "(not counted)" if delivered is None else f"{100 * delivered:.2f}%"
            print(f"| {client} | {cpu:.1f}% | {shown} | {server_cpu:.0f}% |", flush=True)


if __name__ == "__main__":
    main()
