#!/usr/bin/env python3
"""Two (or more) remote-assist binaries at one load, runs alternating: the before/after check of
a change to the media path, in the bench's network namespace with the bench's core split.

    python3 tests/loadgen/ab.py --rooms 22 --runs 5 old=/tmp/remote-assist.old new=target/production/remote-assist
    python3 tests/loadgen/ab.py --rooms 22 --env new:RA_SOME_SWITCH=1 a=BIN new=BIN

Each binary gets its own server (started once, provisioned once) and they take turns A B A B,
so drift on the machine hits all alike. `--env LABEL:NAME=VALUE` sets an environment variable for
one label's server (the same binary twice with a switch, say). After each round the do-nothing
relay's floor (`floor.py`) is measured too, so a run's delay can be read against the floor of
its own minutes. Prints each run and the medians; writes them all to tests/loadgen/ab-results/
(which the full bench, unlike results/, keeps).
Needs root; builds the load generator (release) if it is out of date.
"""

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import bench
import floor

KEYS = ("delay_p50_us", "delay_p99_us", "server_cpu_percent", "cpu_us_per_forwarded_packet", "loss_percent",
        "join_first_keyframe_p50_ms", "server_handling_p50_us", "server_handling_p99_us", "server_wait_p99_us")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rooms", type=int, default=22)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--env", action="append", default=[], help="LABEL:NAME=VALUE")
    parser.add_argument("servers", nargs="+", help="LABEL=PATH of a remote-assist binary")
    opts = parser.parse_args()
    bench.RESULTS.mkdir(parents=True, exist_ok=True)
    bench.ensure_namespace()
    # The servers under test are the binaries given; only the load generator is built here.
    loadgen = bench.build_loadgen()
    envs = {}
    for item in opts.env:
        label, assignment = item.split(":", 1)
        name, value = assignment.split("=", 1)
        envs.setdefault(label, {})[name] = value
    work = Path(tempfile.mkdtemp(prefix="ra-ab-"))
    servers = []
    for spec in opts.servers:
        label, path = spec.split("=", 1)
        server, accounts = bench.start_ours(Path(path).resolve(), loadgen, work / label, False, opts.rooms,
                                            f"ab-{label}", extra_env=envs.get(label))
        servers.append((label, server, accounts))
    results = {label: [] for label, _, _ in servers}
    floors = []
    try:
        for _ in range(opts.runs):
            for label, server, accounts in servers:
                print(f"{label}:", end="")
                result = bench.run(loadgen, "ours", server, opts.rooms, opts.seconds, accounts=accounts,
                                   tag=f"-ab-{label}")
                results[label].append(result)
            floors.append(floor.run(opts.seconds, loadgen))
            print(f"floor: p50 {floors[-1]['p50_us']:.0f} us, p99 {floors[-1]['p99_us']:.0f} us")
    finally:
        for _, server, _ in servers:
            server.stop()
    print(f"\nmedians over {opts.runs} runs at {opts.rooms} rooms:")
    for label, runs in results.items():
        done = [r for r in runs if r is not None]
        medians = {k: statistics.median(r[k] for r in done) for k in KEYS
                   if done and all(r.get(k) is not None for r in done)}
        print(f"  {label:8} " + ", ".join(f"{k} {v:.2f}" for k, v in medians.items()))
        print(f"  {'':8} p99 per run: " + ", ".join(f"{r['delay_p99_us']:.0f}" for r in done))
    if floors:
        print(f"  {'floor':8} p50 {statistics.median(f['p50_us'] for f in floors):.0f} us, "
              f"p99 {statistics.median(f['p99_us'] for f in floors):.0f} us; per round: "
              + ", ".join(f"{f['p50_us']:.0f}/{f['p99_us']:.0f}" for f in floors))
    out = bench.RESULTS.parent / "ab-results" / time.strftime(f"%Y-%m-%d-%H%M-{opts.rooms}rooms.json")
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"rooms": opts.rooms, "servers": dict(s.split("=", 1) for s in opts.servers),
                               "env": envs, "runs": results, "floor_runs": floors}, indent=1))
    print(f"runs: {out}")


if __name__ == "__main__":
    main()
