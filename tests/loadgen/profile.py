#!/usr/bin/env python3
"""Where the server's CPU goes under load: `perf record` (CPU clock samples) of remote-assist
while the load generator runs N rooms against it, in the bench's network namespace.

    python3 tests/loadgen/profile.py [--rooms 8] [--seconds 20] [--callers SYMBOL]

Prints the hottest symbols (flat, self time) and where it left perf.data (a temporary directory);
with --callers, the call chains into SYMBOL instead; with --inclusive, each function's time with
its callees' (both by DWARF unwinding, so fewer samples a second).
Uses the binaries `tests/loadgen/bench` builds (the server as it ships, in the `production`
profile); needs root and Debian linux-perf.
"""

import argparse
import subprocess
import tempfile
import threading
from pathlib import Path

import bench


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rooms", type=int, default=8)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--callers", help="show the call chains into this symbol")
    parser.add_argument("--inclusive", action="store_true",
                        help="time including callees (DWARF call graphs): which stage of the path costs what")
    opts = parser.parse_args()
    bench.RESULTS.mkdir(parents=True, exist_ok=True)
    bench.ensure_namespace()
    bin_, loadgen = bench.build()
    work = Path(tempfile.mkdtemp(prefix="ra-profile-"))
    server, accounts = bench.start_ours(bin_, loadgen, work / "ours", False, opts.rooms, "ours-profile")
    data = work / "perf.data"
    sampling = "-F 499 --call-graph dwarf,16384" if opts.callers or opts.inclusive else "-F 999"
    # Sample the measured window only (the run's warm-up is 3 s).
    perf = threading.Thread(target=lambda: subprocess.run(
        ["bash", "-c", f"sleep 8; exec perf record -q -e cpu-clock {sampling} -p {server.pid} -o {data} "
                       f"-- sleep {max(5, opts.seconds - 8)}"], check=True))
    perf.start()
    try:
        bench.run(loadgen, "ours", server, opts.rooms, opts.seconds, accounts=accounts, tag="-profile")
    finally:
        perf.join()
        server.stop()
    shape = ["--percent-limit", "0.7"]
    children = "--no-children"
    if opts.callers:
        shape = ["--percent-limit", "2", "--symbol-filter", opts.callers, "-G"]
    elif opts.inclusive:
        shape, children = ["--percent-limit", "1.5", "-g", "none"], "--children"
    report = subprocess.run(["perf", "report", "-i", str(data), children, "--sort", "symbol",
                             "--stdio", "-q", *shape],
                            capture_output=True, text=True, check=True).stdout
    print(report)
    print(f"perf data: {data}")


if __name__ == "__main__":
    main()
