#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpus from the protocol's test vectors: every valid and
malformed message becomes one file under fuzz/corpus/<target>/, named after its vector.
Run it again after the vectors change (it only adds and overwrites seed files; inputs the
fuzzers found stay).

Usage: python3 fuzz/seed_corpus.py [tests/vectors/protocol_v8.json]
"""
import json
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent


def write(target, name, hex_bytes):
    folder = ROOT / "fuzz" / "corpus" / target
    folder.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^a-z0-9_-]+", "-", name.lower()).strip("-") or "empty"
    (folder / f"seed-{safe}").write_bytes(bytes.fromhex(hex_bytes))


def main():
    default = sorted((ROOT / "tests" / "vectors").glob("protocol_v*.json"))[-1]
    vectors = json.loads(pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else default).read_text())
    for v in vectors["client_messages"]:
        write("client_message", v["name"], v["hex"])
    for v in vectors["malformed_client_messages"]:
        write("client_message", "bad-" + v["name"], v["hex"])
    for v in vectors["server_messages"]:
        write("server_message", v["name"], v["hex"])
    for v in vectors["malformed_server_messages"]:
        write("server_message", "bad-" + v["name"], v["hex"])
    # Snapshot frames: the bytes after the variant byte, as a replica applies them.
    for i, frame in enumerate(vectors["snapshot_sequence"]["frames"]):
        write("snapshot_frame", f"frame-{i}", frame["hex"][2:])
        write("server_message", f"snapshot-frame-{i}", frame["hex"])
    if "empty_snapshot_frame" in vectors:
        write("snapshot_frame", "empty-view", vectors["empty_snapshot_frame"])
    for v in vectors["malformed_snapshot_frames"]:
        write("snapshot_frame", "bad-" + v["name"], v["hex"])


if __name__ == "__main__":
    main()
