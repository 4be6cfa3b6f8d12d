#!/usr/bin/env python3
"""Reads an exposition of GET /metrics on stdin and checks it as a scraper would: with the
official Python client's strict OpenMetrics parser, then a few values. Run by tests/metrics.rs.

Usage: metrics_parse.py --players N --players-away N [--version V] < exposition

Exits 0 when everything holds, 1 naming what does not, 2 when prometheus_client is missing."""

import argparse
import math
import re
import sys
import time

try:
    from prometheus_client.openmetrics.parser import text_string_to_metric_families
except ImportError:
    print("metrics_parse.py: the Python module prometheus_client is missing; "
          "install it with: python3 -m pip install prometheus_client", file=sys.stderr)
    sys.exit(2)

# The sample names each OpenMetrics type allows, after its family's name.
SUFFIXES = {
    "counter": ["_total", "_created"],
    "gauge": [""],
    "histogram": ["_bucket", "_count", "_sum", "_created"],
    "info": ["_info"],
}


def described_families(text):
    """Family names with both a # HELP and a # TYPE line in the raw text, and their types."""
    helped = set(re.findall(r"^# HELP (\S+) ", text, re.M))
    typed = dict(re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M))
    return {name: kind for name, kind in typed.items() if name in helped}


def undescribed_samples(text):
    """Sample lines whose family has no # HELP and # TYPE line before the samples."""
    families = described_families(text)
    missing = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        sample = re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line).group(0)
        if not any(sample == name + suffix
                   for name, kind in families.items() for suffix in SUFFIXES.get(kind, [""])):
            missing.append(line)
    return missing


def value(families, sample_name, labels=None):
    for family in families.values():
        for sample in family.samples:
            if sample.name == sample_name and (labels is None or sample.labels == labels):
                return sample.value
    return None


def check_histogram(family):
    """Cumulative buckets never go down, and the +Inf bucket equals the count."""
    problems = []
    buckets = [(float(s.labels["le"]), s.value) for s in family.samples if s.name.endswith("_bucket")]
    counts = [s.value for s in family.samples if s.name.endswith("_count")]
    if not buckets or buckets[-1][0] != math.inf:
        problems.append(f"{family.name}: no +Inf bucket last")
    for (bound, count), (next_bound, next_count) in zip(buckets, buckets[1:]):
        if next_bound <= bound or next_count < count:
            problems.append(f"{family.name}: bucket le={next_bound} ({next_count}) after le={bound} ({count})")
    if buckets and counts != [buckets[-1][1]]:
        problems.append(f"{family.name}: +Inf bucket {buckets[-1][1]} but count {counts}")
    return problems


def check(text, expected):
    problems = []
    try:
        families = {family.name: family for family in text_string_to_metric_families(text)}
    except ValueError as error:
        return [f"the OpenMetrics parser refused the exposition: {error}"]
    for family in families.values():
        if family.type == "unknown" or not family.documentation:
            problems.append(f"{family.name}: no HELP or no TYPE (type {family.type})")
        if family.type == "histogram":
            problems.extend(check_histogram(family))
    problems.extend(f"sample without # HELP and # TYPE: {line}" for line in undescribed_samples(text))

    for name, want in [("skirmish_players", expected.players),
                       ("skirmish_players_away", expected.players_away)]:
        got = value(families, name)
        if got != want:
            problems.append(f"{name} is {got}, expected {want}")
    build = families.get("skirmish_build")
    if build is None or build.type != "info" or [s.value for s in build.samples] != [1.0]:
        problems.append(f"skirmish_build_info is not one info sample of 1: {build}")
    elif expected.version and build.samples[0].labels.get("version") != expected.version:
        problems.append(f"skirmish_build_info version {build.samples[0].labels} != {expected.version}")
    elif not build.samples[0].labels.get("protocol"):
        problems.append("skirmish_build_info has no protocol label")
    started = [value(families, name) for name in
               ("skirmish_process_start_time_seconds", "process_start_time_seconds")]
    now = time.time()
    if started[0] is None or started[0] != started[1] or not now - 86400 < started[0] <= now + 1:
        problems.append(f"process start times {started} are not one plausible time before {now}")
    for family, impossible in [("skirmish_connections_rejected", "kicked"),
                               ("skirmish_connections_closed", "join_timeout")]:
        reasons = [s.labels.get("reason") for s in families[family].samples]
        if not reasons or impossible in reasons:
            problems.append(f"{family} reasons {reasons} (none, or the impossible {impossible})")
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--players", type=float, required=True)
    parser.add_argument("--players-away", type=float, required=True)
    parser.add_argument("--version")
    expected = parser.parse_args()
    text = sys.stdin.read()
    problems = check(text, expected)
    for problem in problems:
        print(f"metrics_parse.py: {problem}", file=sys.stderr)
    if problems:
        sys.exit(1)
    print(f"metrics_parse.py: {text.count(chr(10))} lines, every family described and parsed")


if __name__ == "__main__":
    main()
