#!/usr/bin/env python3
"""What a connection costs in memory (issue 20): the server's resident set (VmRSS) with no room,
with one player (its room and the world's tables open), with N more idle bots connected (they
join and only read), and after those left.

Starts a fresh release server (pinned to CPU 0) with the arena fixed (so the world does not grow
with the players) or grown (`--arena grow`), runs the swarm's `idle` bots on CPU 1, and reads
/proc/PID/status at each stage. Prints the RSS at each stage and the growth per connection.

Usage: python3 scripts/memory.py [--bots 2000] [--arena 3000x2000|grow] [--port 8198]
                                 [--server PATH/TO/skirmish]
Needs Linux and taskset; build first with `cargo build --release --bins`.
"""

import argparse
import os
import subprocess
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RELEASE = os.path.join(ROOT, "target", "release")


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bots", type=int, default=2000)
    parser.add_argument("--arena", default="3000x2000")
    parser.add_argument("--port", type=int, default=8198)
    parser.add_argument("--server", default=os.path.join(RELEASE, "skirmish"))
    parser.add_argument("--hold", type=int, default=20, help="seconds all bots stay connected")
    parser.add_argument("--settle", type=int, default=25, help="seconds waited after they left")
    args = parser.parse_args()
    room = args.bots + 10
    command = [args.server, "--addr", f"127.0.0.1:{args.port}",
               "--max-players", str(room), "--max-room-players", str(room),
               "--max-connections", str(room + 100), "--max-connections-per-ip", str(room),
               "--seed", "1", "--log", "warn"]
    if args.arena != "grow":
        command += ["--arena", args.arena]
    server = subprocess.Popen(["taskset", "-c", "0"] + command,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(2.0)
        idle = rss_kib(server.pid)
        ramp = max(1, args.bots // 500)
        # One bot that stays throughout: its room (and the world's tables) exist from here on,
        # so the growth below is the connections'.
        first = subprocess.Popen(
            ["taskset", "-c", "1", os.path.join(RELEASE, "swarm"),
             "--url", f"ws://127.0.0.1:{args.port}/ws", "--bots", "1", "--behaviour", "idle",
             "--duration", f"{ramp + args.hold + 20}s"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(3.0)
        one = rss_kib(server.pid)
        swarm = subprocess.Popen(
            ["taskset", "-c", "1", os.path.join(RELEASE, "swarm"),
             "--url", f"ws://127.0.0.1:{args.port}/ws", "--bots", str(args.bots),
             "--behaviour", "idle", "--ramp", "500", "--duration", f"{ramp + args.hold + 2}s"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(ramp + args.hold)
        full = rss_kib(server.pid)
        swarm.wait(timeout=120)
        # Past the resume grace (10 s) and a check of the trim (every 10 s).
        time.sleep(args.settle)
        after = rss_kib(server.pid)
        first.kill()
    finally:
        server.terminate()
        server.wait()
    per = (full - one) / args.bots
    print(f"| {args.bots} idle bots, arena {args.arena} | no room {idle / 1024:.1f} MiB | "
          f"one player {one / 1024:.1f} MiB | +{args.bots} {full / 1024:.1f} MiB | "
          f"{per:.1f} KiB per connection | after they left {after / 1024:.1f} MiB |")


if __name__ == "__main__":
    main()
