#!/usr/bin/env python3
"""Skirmish's send path against the floor (issue 20), alternately, in one sitting.

The floor is `examples/floor_server.rs`: one thread writing one pre-framed frame (6 + 14·N
bytes) to every socket each tick with a plain write(2). Each round starts the floor and then
Skirmish (fresh processes, pinned to CPU 0) and runs the same client against each: the
cheapest one that plays (`examples/swarm_floor.rs`: joins, reads every frame without decoding
it, sends an input per tick; pinned to CPU 1). The server's CPU is read from /proc over the
window in which every connection plays (a second after the ramp to a second before the end),
and divided by the client-ticks delivered in it: server CPU microseconds per client per tick
delivered, the figure to compare (a saturated server that drops frames is not cheaper). Also: frames the clients received over what the ticks of the run would send
(delivered), and the ratio Skirmish/floor per round. Then the medians.

Usage: python3 scripts/floor_ab.py [--clients 1000,2000] [--seconds 30] [--rounds 3]
           [--port 8196] [--skirmish-flag=--tick-threads=1 ...]
           [--build LABEL=PATH/TO/skirmish ...] [--input-every 1]
`--build` (repeatable) compares several Skirmish builds against the same floor in each round
(default: `skirmish=target/release/skirmish`); the ratio is then given for each.
By default Skirmish puts every client in one room (as the floor does): `--max-room-players`
and the connection caps are raised to fit. Needs Linux and taskset. Builds with
`cargo build --release --bins --example floor_server --example swarm_floor`.
"""

import argparse
import os
import re
import socket
import statistics
import subprocess
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
RELEASE = os.path.join(ROOT, "target", "release")
HZ = 30
RAMP_PER_SECOND = 500  # swarm_floor's


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def start(kind, port, clients, seconds, extra, binary=None):
    if kind == "floor":
        command = [os.path.join(RELEASE, "examples", "floor_server"), f"127.0.0.1:{port}",
                   str(HZ), str(seconds + 15)]
    else:
        room = clients + 10
        command = [binary, "--addr", f"127.0.0.1:{port}",
                   "--max-players", str(room), "--max-room-players", str(room),
                   "--max-connections", str(room + 100), "--max-connections-per-ip", str(room),
                   "--seed", "1", "--log", "warn"] + extra
    server = subprocess.Popen(["taskset", "-c", "0"] + command,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_until_listening(port)
    return server


def wait_until_listening(port, timeout=10.0):
    """Returns once the server accepts connections (a fixed sleep lost the first clients of
    a ramp when a binary started slowly), then lets it settle a moment."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            time.sleep(0.5)
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port} after {timeout} s")


def run_once(kind, port, clients, seconds, extra, binary=None, input_every=1):
    server = start(kind, port, clients, seconds, extra, binary)
    try:
        started = time.monotonic()
        client = subprocess.Popen(
            ["taskset", "-c", "1", os.path.join(RELEASE, "examples", "swarm_floor"),
             f"ws://127.0.0.1:{port}/ws", str(clients), str(seconds), str(input_every)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        ramp = clients / RAMP_PER_SECOND
        window = (started + ramp + 1.5, started + seconds - 1.5)
        time.sleep(max(0.0, window[0] - time.monotonic()))
        before = cpu_seconds(server.pid)
        time.sleep(max(0.0, window[1] - time.monotonic()))
        used = cpu_seconds(server.pid) - before
        out, _ = client.communicate(timeout=seconds + 60)
    finally:
        server.terminate()
        server.wait()
    frames = int(re.search(r"(\d+) frames received", out).group(1))
    failed = int(re.search(r"(\d+) failed", out).group(1))
    span = window[1] - window[0]
    per_client_tick = 1e6 * used / (clients * HZ * span)
    expected = clients * HZ * (seconds - ramp)
    delivered = min(1.0, frames / expected)
    return {
        # Per client-tick delivered: a saturated server that drops frames is not cheaper.
        "us": per_client_tick / max(delivered, 1e-9),
        "cpu": 100 * used / span,
        "delivered": delivered,
        "failed": failed,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", default="1000,2000")
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--port", type=int, default=8196)
    parser.add_argument("--skirmish-flag", action="append", default=[])
    parser.add_argument("--build", action="append", default=[])
    parser.add_argument("--input-every", type=int, default=1,
                        help="ticks between a client's inputs (0: none, the read side's share)")
    args = parser.parse_args()
    subprocess.run(["cargo", "build", "--release", "--bins", "--example", "floor_server",
                    "--example", "swarm_floor"], cwd=ROOT, check=True)
    builds = dict(b.split("=", 1) for b in args.build) or {
        "skirmish": os.path.join(RELEASE, "skirmish")}
    for clients in [int(n) for n in args.clients.split(",")]:
        print(f"\n| N = {clients} | server CPU µs per delivered client-tick | server core | delivered | failed |")
        print("|---|---|---|---|---|")
        results = {label: [] for label in ["floor", *builds]}
        ratios = {label: [] for label in builds}
        for _ in range(args.rounds):
            for label in results:
                binary = builds.get(label)
                kind = "floor" if binary is None else "skirmish"
                result = run_once(kind, args.port, clients, args.seconds, args.skirmish_flag,
                                  binary, args.input_every)
                results[label].append(result)
                print(f"| {label} | {result['us']:.2f} | {result['cpu']:.0f}% | "
                      f"{100 * result['delivered']:.2f}% | {result['failed']} |", flush=True)
            for label in builds:
                ratios[label].append(results[label][-1]["us"] / results["floor"][-1]["us"])
        medians = ", ".join(f"{label} {statistics.median(r['us'] for r in runs):.2f}"
                            for label, runs in results.items())
        print(f"| medians (µs) | {medians} | | | |")
        for label, values in ratios.items():
            print(f"| {label} / floor per round | {', '.join(f'{r:.2f}' for r in values)} "
                  f"(median {statistics.median(values):.2f}) | | | |")


if __name__ == "__main__":
    main()
