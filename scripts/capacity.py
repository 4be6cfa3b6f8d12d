#!/usr/bin/env python3
"""Reproduces the swarm capacity table of docs/PERFORMANCE.md.

For each bot count, starts a fresh release server pinned to CPU 0 and the swarm pinned to CPU 1
(taskset), runs the swarm for the given duration at 30 Hz, and prints one Markdown row: the
arena's size at the end (the bundled game's arena grows with the players; from /metrics), the
server's CPU use (from /proc), its tick-duration p99 (from /metrics' histogram, as the upper
bound of the bucket holding the 99th percentile), delivered %, snapshot gap p99, and bytes per
bot per second (from the swarm's JSON report). After the table, a second one with a row per bot
count for the rooms the bots were placed in (the JSON report's `rooms`): how many, the players
per room, and the worst room's delivered % and snapshot gap p99, so that one starved room is
not hidden in the overall figures.

Usage: python3 scripts/capacity.py [--bots 100,250,500,1000,2000] [--duration 60s] [--port 8190]
                                  [--area-per-player 150000 | --arena 3000x2000]
Needs: Linux, taskset (util-linux), a Rust toolchain. Builds with `cargo build --release`.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def scrape(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        return response.read().decode()


def tick_p99_ms(metrics):
    buckets = [(float("inf") if le == "+Inf" else float(le), int(count))
               for le, count in re.findall(r'skirmish_tick_duration_seconds_bucket\{le="([^"]+)"\} (\d+)', metrics)]
    total = buckets[-1][1]
    for bound, cumulative in buckets:
        if cumulative >= 0.99 * total:
            return bound * 1000
    return float("inf")


def gauge(metrics, name):
    return int(float(re.search(rf"^{name} (\S+)$", metrics, re.M).group(1)))


def run(bots, duration, port, arena_flags):
    server = subprocess.Popen(
        ["taskset", "-c", "0", "target/release/skirmish", "--addr", f"127.0.0.1:{port}",
         "--max-players", str(bots + 10), "--max-connections-per-ip", str(bots + 10),
         "--seed", "1", "--log", "warn", *arena_flags],
        cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        server.stdout.readline()  # "skirmish listening on ..."
        report_path = tempfile.mktemp(suffix=".json")
        cpu_before, wall_before = cpu_seconds(server.pid), time.monotonic()
        swarm = subprocess.run(
            ["taskset", "-c", "1", "target/release/swarm", "--url", f"ws://127.0.0.1:{port}/ws",
             "--bots", str(bots), "--duration", duration, "--ramp", "250", "--json", report_path],
            cwd=ROOT, capture_output=True, text=True)
        server_cpu = 100 * (cpu_seconds(server.pid) - cpu_before) / (time.monotonic() - wall_before)
        metrics = scrape(port)
        with open(report_path) as f:
            report = json.load(f)
        os.unlink(report_path)
        if swarm.returncode not in (0, 1):
            sys.exit(f"swarm failed: {swarm.stderr}")
        arena = f"{gauge(metrics, 'skirmish_arena_width_units')}x{gauge(metrics, 'skirmish_arena_height_units')}"
        return server_cpu, tick_p99_ms(metrics), report, arena
    finally:
        server.terminate()
        server.wait(timeout=10)


ROOMS_HEADER = ("| bots | rooms | players per room | worst room delivered % | worst room gap p99 ms |\n"
                "|-----:|------:|-----------------:|-----------------------:|----------------------:|")


def rooms_row(bots, report):
    """One row of the rooms table from a swarm JSON report: the worst room by delivered and by
    gap p99, each with its room id."""
    rooms = report["rooms"]
    if not rooms:
        return f"| {bots} | 0 | – | – | – |"
    players = [room["players"] for room in rooms]
    spread = f"{min(players)}" if min(players) == max(players) else f"{min(players)}-{max(players)}"
    starved = min(rooms, key=lambda room: room["delivered"])
    gappy = max(rooms, key=lambda room: room["gap_p99_ms"])
    return (f"| {bots} | {len(rooms)} | {spread} | {100 * starved['delivered']:.3f} (room {starved['id']}) | "
            f"{gappy['gap_p99_ms']:.1f} (room {gappy['id']}) |")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bots", default="100,250,500,1000,2000")
    parser.add_argument("--duration", default="60s")
    parser.add_argument("--port", type=int, default=8190)
    arena = parser.add_mutually_exclusive_group()
    arena.add_argument("--area-per-player", type=int,
                       help="the server's --area-per-player (default: the server's default)")
    arena.add_argument("--arena", help="a fixed arena, WIDTHxHEIGHT (the server's --arena)")
    parser.add_argument("--max-room-players", type=int,
                        help="the server's --max-room-players (default: the server's default, 64)")
    args = parser.parse_args()
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    print("| bots | arena | server CPU % | tick p99 (≤, ms) | delivered % | gap p99 ms | KiB/s per bot | kbit/s per bot | errors | swarm CPU % |")
    print("|-----:|------:|------------:|-----------------:|------------:|-----------:|--------------:|---------------:|-------:|------------:|")
    room_rows = []
    for bots in [int(b) for b in args.bots.split(",")]:
        flags = (["--arena", args.arena] if args.arena else
                 ["--area-per-player", str(args.area_per_player)] if args.area_per_player else [])
        if args.max_room_players:
            flags += ["--max-room-players", str(args.max_room_players)]
        server_cpu, tick_p99, r, arena = run(bots, args.duration, args.port, flags)
        rate = r['bytes_per_bot_per_s']
        print(f"| {bots} | {arena} | {server_cpu:.0f} | {tick_p99:g} | {100 * r['delivered_ratio']:.3f} | "
              f"{r['gap_p99_ms']:.1f} | {rate / 1024:.1f} | {rate * 8 / 1000:.1f} | {r['errors']} | "
              f"{r['swarm_cpu_percent']:.0f} |", flush=True)
        room_rows.append(rooms_row(bots, r))
    print()
    print(ROOMS_HEADER)
    print("\n".join(room_rows))


if __name__ == "__main__":
    main()
