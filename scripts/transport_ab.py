#!/usr/bin/env python3
"""The swarm over WebSocket and over long polling, alternately, against fresh servers.

Each round starts the server (pinned to CPU 0, fresh each time) and runs the swarm (pinned to
CPU 1) with `--transport websocket`, then again with `--transport polling`. One line per run:
the server's CPU over the run (/proc/PID/stat utime + stime, as scripts/ab_servers.py reads
it), delivered %, the snapshot gap p50 and p99, input-to-acknowledgement latency p50 and p99,
bytes received per bot per second (messages and their framing: WebSocket frame headers, or
HTTP heads and polling bodies' lengths), errors, and the CPU time the hypervisor stole. Then
the medians per transport.

Usage: python3 scripts/transport_ab.py [--server target/release/skirmish]
           [--swarm target/release/swarm] [--bots 200] [--duration 20s] [--rounds 2]
           [--behaviour wander] [--port 8196] [--swarm-port PORT] [--server-cpus 0]
           [--swarm-cpus 1]
Build both first (`cargo build --release`). Needs Linux and taskset. For a given round-trip
time, add delay on loopback around it (root): `tc qdisc add dev lo root netem delay 50ms`
(100 ms RTT), and `tc qdisc del dev lo root` afterwards; or, where the kernel has no netem,
run scripts/delay_proxy.py in front of the server and point the swarm at it (`--swarm-port`).
"""

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
TRANSPORTS = ("websocket", "polling")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def cpu_times():
    """(steal, total) jiffies of every CPU, from /proc/stat."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    return values[7], sum(values)


def run(args, transport):
    bots = args.bots
    server = subprocess.Popen(
        ["taskset", "-c", args.server_cpus, args.server, "--addr", f"127.0.0.1:{args.port}",
         "--max-players", str(bots + 10),
         # A polling bot holds two connections and a session of its address's budget.
         "--max-connections-per-ip", str(3 * bots + 10),
         "--seed", "1", "--log", "warn"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        server.stdout.readline()  # "skirmish listening on ..."
        with tempfile.TemporaryDirectory() as scratch:
            report_path = os.path.join(scratch, "swarm.json")
            cpu0, wall0 = cpu_seconds(server.pid), time.monotonic()
            steal0, total0 = cpu_times()
            subprocess.run(
                ["taskset", "-c", args.swarm_cpus, args.swarm,
                 "--url", f"ws://127.0.0.1:{args.swarm_port or args.port}/ws",
                 "--transport", transport,
                 "--bots", str(bots), "--duration", args.duration, "--ramp", "250",
                 "--behaviour", args.behaviour, "--json", report_path],
                capture_output=True, text=True)
            wall = time.monotonic() - wall0
            server_cpu = 100 * (cpu_seconds(server.pid) - cpu0) / wall
            steal1, total1 = cpu_times()
            with open(report_path) as f:
                report = json.load(f)
        return {
            "server_cpu": server_cpu,
            "delivered": 100 * report["delivered_ratio"],
            "gap_p50": report["gap"]["p50_ms"],
            "gap_p99": report["gap_p99_ms"],
            "ack_p50": report["ack_latency"]["p50_ms"],
            "ack_p99": report["ack_latency_p99_ms"],
            "bytes": report["bytes_per_bot_per_s"],
            "errors": report["errors"],
            "steal": 100 * (steal1 - steal0) / max(1, total1 - total0),
        }
    finally:
        server.terminate()
        server.wait(timeout=15)


HEADER = ("transport | server cpu % | delivered % | gap p50 | gap p99 | ack p50 | ack p99 | "
          "B/bot/s | errors | steal %")


def row(label, r):
    return (f"{label:>9} | {r['server_cpu']:11.1f} | {r['delivered']:11.3f} | "
            f"{r['gap_p50']:7.1f} | {r['gap_p99']:7.1f} | {r['ack_p50']:7.1f} | "
            f"{r['ack_p99']:7.1f} | {r['bytes']:7.0f} | {r['errors']:6d} | {r['steal']:7.1f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--server", default="target/release/skirmish")
    parser.add_argument("--swarm", default="target/release/swarm")
    parser.add_argument("--bots", type=int, default=200)
    parser.add_argument("--duration", default="20s")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--behaviour", default="wander")
    parser.add_argument("--port", type=int, default=8196)
    parser.add_argument("--swarm-port", type=int, default=None,
                        help="where the swarm connects, if not the server's port (a delay proxy)")
    parser.add_argument("--server-cpus", default="0")
    parser.add_argument("--swarm-cpus", default="1")
    args = parser.parse_args()
    runs = {transport: [] for transport in TRANSPORTS}
    print(HEADER, flush=True)
    for _ in range(args.rounds):
        for transport in TRANSPORTS:
            result = run(args, transport)
            runs[transport].append(result)
            print(row(transport, result), flush=True)
    print("medians:")
    for transport, results in runs.items():
        median = {key: statistics.median(r[key] for r in results) for key in results[0]}
        median["errors"] = int(median["errors"])
        print(row(transport, median))


if __name__ == "__main__":
    main()
