#!/usr/bin/env python3
"""The swarm against two or more server builds, alternately, in one sitting.

Each round starts every server binary in turn (pinned to CPU 0, fresh each time) and runs the
same swarm binary against it (pinned to CPU 1), so a VM whose speed drifts between runs drifts
for every build alike. One line per run: delivered %, the snapshot gap p99, the server's CPU,
its tick p99 (from /metrics' histogram), snapshots sent and skipped (latest wins: a slow writer
skips to the newest), the server's context switches per second (its threads' wake-ups: the
tick thread's and each writer's), and the CPU time the hypervisor stole from this VM during
the run (the usual cause of a run that delivers much less than its neighbours), and the
swarm's own CPU (a swarm near its whole core misses frames the server sent). Then the
medians per build.

With rooms, each run also reads `/rooms`: how many public rooms the bots filled and the worst
room's tick p99 (its bucket bound); and the server's CPU per client-tick in microseconds
(server CPU time over the snapshots it sent: one per client per tick delivered), the figure
to compare across room sizes and thread counts.

Usage: python3 scripts/ab_servers.py LABEL=PATH/TO/skirmish[@--flag=value,--flag=value] LABEL=...
           [--bots 1500] [--duration 30s] [--rounds 3] [--swarm target/release/swarm]
           [--port 8195] [--server-cpus 0] [--swarm-cpus 1]
A build's own swarm may follow `#` (`old=../old/skirmish#../old/swarm`: builds of two protocol
versions each need their own). A build's flags after `@` are passed to its server (e.g. `t1=target/release/skirmish@--tick-threads=1`),
so one binary with two settings compares like two builds.
Build each first (`cargo build --release` in its own worktree). Needs Linux and taskset.
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import tempfile
import time
import urllib.request

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def context_switches(pid):
    """Voluntary plus involuntary context switches of every thread of the process."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                for line in f:
                    if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                        total += int(line.split()[1])
        except FileNotFoundError:
            pass
    return total


def cpu_times():
    """(steal, total) jiffies of every CPU, from /proc/stat: steal is time the hypervisor gave
    to other guests while this VM wanted to run."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    return fields[7], sum(fields[:8])


def scrape(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        return response.read().decode()


def counter(metrics, name):
    found = re.search(rf"^{name}(?:{{[^}}]*}})? (\S+)$", metrics, re.M)
    return int(float(found.group(1))) if found else -1


def tick_p99_ms(metrics):
    buckets = [(float("inf") if le == "+Inf" else float(le), int(count))
               for le, count in re.findall(
                   r'skirmish_tick_duration_seconds_bucket\{le="([^"]+)"\} (\d+)', metrics)]
    total = buckets[-1][1]
    for bound, cumulative in buckets:
        if cumulative >= 0.99 * total:
            return bound * 1000
    return float("inf")


def worst_room(port):
    """(public rooms, the worst room's tick p99 in ms) from /rooms; (0, None) without rooms."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/rooms", timeout=5) as response:
            rooms = json.load(response)["rooms"]
    except (OSError, ValueError, KeyError):
        return 0, None
    p99s = [room["tick_p99_us"] for room in rooms if room.get("tick_p99_us") is not None]
    return len(rooms), (max(p99s) / 1000 if p99s else None)


def run(server_binary, server_flags, swarm_binary, bots, duration, port, cpus):
    server = subprocess.Popen(
        ["taskset", "-c", cpus["server"], server_binary, "--addr", f"127.0.0.1:{port}",
         "--max-players", str(bots + 10), "--max-connections-per-ip", str(bots + 10),
         "--seed", "1", "--log", "warn", *server_flags],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        server.stdout.readline()  # "skirmish listening on ..."
        with tempfile.TemporaryDirectory() as scratch:
            report_path = os.path.join(scratch, "swarm.json")
            cpu0, switches0, wall0 = cpu_seconds(server.pid), context_switches(server.pid), time.monotonic()
            steal0, total0 = cpu_times()
            subprocess.run(
                ["taskset", "-c", cpus["swarm"], swarm_binary, "--url", f"ws://127.0.0.1:{port}/ws",
                 "--bots", str(bots), "--duration", duration, "--ramp", "250",
                 "--json", report_path],
                capture_output=True, text=True)
            wall = time.monotonic() - wall0
            server_cpu = 100 * (cpu_seconds(server.pid) - cpu0) / wall
            switches = (context_switches(server.pid) - switches0) / wall
            steal1, total1 = cpu_times()
            steal = 100 * (steal1 - steal0) / max(1, total1 - total0)
            metrics = scrape(port)
            rooms, worst_tick_p99 = worst_room(port)
            with open(report_path) as f:
                report = json.load(f)
        return {
            "delivered": 100 * report["delivered_ratio"],
            "gap_p99": report["gap_p99_ms"],
            "server_cpu": server_cpu,
            "tick_p99": tick_p99_ms(metrics),
            "sent": counter(metrics, "skirmish_snapshots_sent_total"),
            "skipped": counter(metrics, "skirmish_snapshots_skipped_total"),
            "switches": switches,
            "steal": steal,
            "errors": report["errors"],
            "swarm_cpu": report["swarm_cpu_percent"],
            "rooms": rooms,
            "room_tick_p99": worst_tick_p99 if worst_tick_p99 is not None else float("nan"),
            # Server CPU time per snapshot sent (a client's tick), the run's ramp included.
            "us_per_client_tick": 1e6 * (server_cpu / 100 * wall)
            / max(1, counter(metrics, "skirmish_snapshots_sent_total")),
        }
    finally:
        server.terminate()
        server.wait(timeout=15)


def row(label, r):
    return (f"{label:>10} | {r['delivered']:7.3f} | {r['gap_p99']:6.1f} | {r['server_cpu']:4.0f} | "
            f"{r['tick_p99']:5g} | {r['sent']:9d} | {r['skipped']:8d} | {r['switches']:8.0f} | "
            f"{r['steal']:5.1f} | {r['errors']:6d} | {r['rooms']:5d} | {r['room_tick_p99']:7g} | "
            f"{r['us_per_client_tick']:6.2f} | {r['swarm_cpu']:5.0f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("builds", nargs="+", help="LABEL=PATH of a server binary")
    parser.add_argument("--bots", type=int, default=1500)
    parser.add_argument("--duration", default="30s")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--swarm", default="target/release/swarm")
    parser.add_argument("--port", type=int, default=8195)
    parser.add_argument("--server-cpus", default="0", help="taskset list for the server")
    parser.add_argument("--swarm-cpus", default="1", help="taskset list for the swarm")
    args = parser.parse_args()
    builds = []
    for spec in args.builds:
        label, _, rest = spec.partition("=")
        rest, _, swarm = rest.partition("#")
        path, _, flags = rest.partition("@")
        flags = [f for flag in flags.split(",") if flag for f in flag.split("=", 1)]
        builds.append((label, path, flags, swarm or args.swarm))
    cpus = {"server": args.server_cpus, "swarm": args.swarm_cpus}
    results = {label: [] for label, _, _, _ in builds}
    print(f"{args.bots} bots, {args.duration}, {args.rounds} rounds, server on CPUs {args.server_cpus}, "
          f"swarm on {args.swarm_cpus}")
    print("     build | deliv % | gap99 | cpu% | tick99 | sent      | skipped  | ctxsw/s  | steal% | errors "
          "| rooms | room99 | us/c-t | swarm%")
    for round_ in range(args.rounds):
        for label, path, flags, swarm in builds:
            r = run(path, flags, swarm, args.bots, args.duration, args.port, cpus)
            results[label].append(r)
            print(row(label, r), flush=True)
            time.sleep(2)
    print("medians:")
    for label, runs in results.items():
        median = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
        for key in ("sent", "skipped", "errors", "rooms"):
            median[key] = int(median[key])
        print(row(label, median))


if __name__ == "__main__":
    main()
