#!/usr/bin/env python3
"""The benchmarks of BENCHMARKS.md, side by side with Janus, in one run on this machine.

Both SFUs and the load generator run inside a network namespace this script makes (`rabench`,
two veth ends 10.203.0.1/.2), because Janus gathers ICE candidates on real interfaces only and
the tests must not use the machine's own network. remote-assist listens on 10.203.0.2; Janus
gathers on the namespace's addresses; the load generator's peers use 10.203.0.1.

Runs alternate between the two servers (A B A B ...) so that drift on the machine hits both;
the server under test runs on one core and the load generator on the other.
Results (JSON per run) go to tests/loadgen/results/, the tables to BENCHMARKS.md.

    tests/loadgen/bench              # everything (about 45 minutes)
    tests/loadgen/bench --quick      # fewer steps and repeats, for a look
    tests/loadgen/bench --memory-only  # the join/leave cycles again, into the last run's report
"""

import argparse
import atexit
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "tests" / "loadgen" / "results"
NS = "rabench"
PEER_IP = "10.203.0.1"
SERVER_IP = "10.203.0.2"
JANUS_WS_PORT = 8188
LOSS_LIMIT = 0.1  # percent
P99_LIMIT_US = 5000.0


def sh(*args, **kw):
    return subprocess.run(args, check=True, **kw)


# The server under test gets one core and the load generator the rest, so that the load
# generator never takes CPU from the server it measures (on 2 cores, both SFUs reached the
# point where they and the load generator together filled the machine before either reached
# its own limit). Capacity is then what one core serves, for both servers alike.
_CPUS = sorted(os.sched_getaffinity(0))
SERVER_CPUS = str(_CPUS[-1])
LOADGEN_CPUS = ",".join(str(c) for c in _CPUS[:-1]) or SERVER_CPUS


def on_server_cpu(*args):
    return ["taskset", "-c", SERVER_CPUS, *args]


def on_loadgen_cpus(*args):
    return ["taskset", "-c", LOADGEN_CPUS, *args]


def in_ns(*args):
    return ["ip", "netns", "exec", NS, *args]


def ensure_namespace():
    names = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    if NS in names.split():
        return
    sh("ip", "netns", "add", NS)
    sh(*in_ns("ip", "link", "set", "lo", "up"))
    sh("ip", "link", "add", "rabenchA", "type", "veth", "peer", "name", "rabenchB")
    for dev, ip in (("rabenchA", PEER_IP), ("rabenchB", SERVER_IP)):
        sh("ip", "link", "set", dev, "netns", NS)
        sh(*in_ns("ip", "addr", "add", f"{ip}/24", "dev", dev))
        sh(*in_ns("ip", "link", "set", dev, "up"))


def build_loadgen():
    """The load generator (also the floor's relay)."""
    sh("cargo", "build", "--release", "--quiet", "-p", "remote-assist-loadgen", cwd=REPO)
    return REPO / "target" / "release" / "remote-assist-loadgen"


def build():
    """The server as it ships (the `production` profile, as in the Dockerfile) and the load generator."""
    sh("cargo", "build", "--profile", "production", "--quiet", "-p", "remote-assist", cwd=REPO)
    return REPO / "target" / "production" / "remote-assist", build_loadgen()


class Server:
    def __init__(self, name, cmd, env=None, ready=None):
        self.name = name
        self.log = open(RESULTS / f"{name}.log", "w")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.log, text=True,
                                     env={**os.environ, **(env or {})})
        self.stdout_lines = []
        if ready:
            deadline = time.time() + 60
            for line in self.proc.stdout:
                self.stdout_lines.append(line)
                if ready in line:
                    break
                if time.time() > deadline:
                    raise RuntimeError(f"{name} did not start")
        # The process in the namespace is the child of `ip netns exec` (which execs it).
        self.pid = self.proc.pid
        # Whatever happens to the run, no server outlives the script.
        atexit.register(self.stop)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        if not self.log.closed:
            self.log.close()


OURS_PORT = [8443]


def start_ours(bin_, loadgen, data_dir, recording, rooms, name, extra_env=None):
    # Each instance its own port: several run at once (recording on and off).
    port = OURS_PORT[0]
    OURS_PORT[0] += 1
    accounts = data_dir / "accounts.json"
    if not accounts.exists():
        sh(str(loadgen), "provision", "--bin", str(bin_), "--data-dir", str(data_dir),
           "--rooms", str(rooms), "--out", str(accounts))
    # The rate limits guard against guessing and floods from one address; the load generator
    # is one address logging in a supporter per room and 1,000 times in the join/leave cycles.
    env = {"RA_LOG_LEVEL": "warn", "RA_RECORDING_ENABLED": "true" if recording else "false",
           "RA_RATE_LIMIT_LOGIN_PER_MINUTE": "100000",
           "RA_RATE_LIMIT_LOGIN_PER_ACCOUNT_PER_MINUTE": "100000",
           "RA_RATE_LIMIT_API_PER_MINUTE": "1000000", **(extra_env or {})}
    server = Server(name, in_ns(*on_server_cpu(str(bin_), "serve", "--data-dir", str(data_dir), "--listen",
                                f"{SERVER_IP}:{port}", "--media-port", "0", "--media-public-ip", SERVER_IP)),
                    env=env, ready="listening on")
    server.address = f"{SERVER_IP}:{port}"
    return server, accounts


def start_janus(conf_dir, record_dir=None):
    sh(str(REPO / "tests" / "loadgen" / "janus-conf"), str(conf_dir), str(JANUS_WS_PORT),
       stdout=subprocess.DEVNULL)
    server = Server("janus", in_ns(*on_server_cpu("janus", "-F", str(conf_dir), "-o", "-N", "-d", "2")))
    for _ in range(100):
        probe = subprocess.run(in_ns("bash", "-c", f"echo > /dev/tcp/127.0.0.1/{JANUS_WS_PORT}"),
                               capture_output=True)
        if probe.returncode == 0:
            break
        time.sleep(0.2)
    return server


ROOM_COUNTER = [1000]


def run(loadgen, target, server, rooms, seconds, accounts=None, recording=False, janus_rec=None, tag=""):
    out = RESULTS / f"{target}-{rooms}rooms{tag}-{int(time.time() * 1000)}.json"
    args = [str(loadgen), "run", "--target", target, "--rooms", str(rooms), "--seconds", str(seconds),
            "--warmup", "3", "--pid", str(server.pid), "--peer-ip", PEER_IP, "--out", str(out)]
    if target == "ours":
        args += ["--address", server.address, "--accounts", str(accounts)]
    else:
        args += ["--address", f"ws://127.0.0.1:{JANUS_WS_PORT}", "--first-room", str(ROOM_COUNTER[0])]
        ROOM_COUNTER[0] += rooms + 1
        if janus_rec:
            args += ["--janus-record-dir", janus_rec]
    if recording:
        args.append("--recording")
    proc = subprocess.run(in_ns(*on_loadgen_cpus(*args)), capture_output=True, text=True, timeout=seconds + 240)
    if proc.returncode != 0:
        # The whole error (a panic's message comes before its backtrace) next to the results.
        failed = out.with_suffix(".stderr")
        failed.write_text(proc.stderr)
        lines = proc.stderr.strip().splitlines()
        first = next((i for i, line in enumerate(lines) if "panicked" in line or line.startswith("Error")), None)
        reason = " ".join(lines[first:first + 2]) if first is not None else (lines[-1] if lines else "no output")
        print(f"  {target} {rooms} rooms failed: {reason} (all of it: {failed})")
        return None
    result = json.loads(out.read_text())
    print(f"  {target:5} {rooms:2} rooms: loss {result['loss_percent']:.3f} %, delay p50 "
          f"{result['delay_p50_us']:.0f} us p99 {result['delay_p99_us']:.0f} us, cpu "
          f"{result['server_cpu_percent']:.0f} % (load generator {result['loadgen_cpu_percent']:.0f} %), "
          f"{result['cpu_us_per_forwarded_packet']:.1f} us/pkt, "
          f"join kf p50 {result['join_first_keyframe_p50_ms']:.0f} ms"
          + (f", in the server p50 {result['server_handling_p50_us']:.0f} us p99 {result['server_handling_p99_us']:.0f} us"
             if result.get("server_handling_p99_us") is not None else ""))
    time.sleep(2)  # let the server settle (peers leave)
    return result


def ok(result):
    return (result is not None and result["loss_percent"] <= LOSS_LIMIT
            and result["delay_p99_us"] <= P99_LIMIT_US)


# The join/leave cycles' server returns freed memory to the system at once
# (`MIMALLOC_PURGE_DELAY=0`; the default waits 1 s and then only on the thread's next
# allocation), so that its PSS follows the memory in use. With the default, PSS samples taken
# every 100 cycles jumped between 54 and 95 MB in one 2,000-cycle run (freed pages kept for
# reuse by idle threads), which hides a leak as easily as it fakes one.
CYCLES_ALLOCATOR_ENV = {"MIMALLOC_PURGE_DELAY": "0"}
# The first cycles fill bounded caches: PSS rose for about 400 cycles, then stayed flat
# (SQLite, for one, keeps up to 2 MB of pages per connection, eight connections, while the
# audit log and session tables grow). Growth is measured over the 1,000 cycles after these.
CYCLES_WARM = 500


def memory_cycles(bin_, loadgen, work, quick):
    """PSS over 1,000 join/leave cycles after the warm-up (the loadgen's `cycles`)."""
    print("memory: 1000 join/leave cycles")
    server, accounts = start_ours(bin_, loadgen, work / "ours-mem", False, 1, "ours-mem",
                                  extra_env=CYCLES_ALLOCATOR_ENV)
    warm = 100 if quick else CYCLES_WARM
    cycles = warm + (200 if quick else 1000)
    try:
        out = RESULTS / "cycles.json"
        subprocess.run(in_ns(*on_loadgen_cpus(str(loadgen), "cycles", "--address", server.address, "--accounts",
                             str(accounts), "--cycles", str(cycles), "--warm", str(warm), "--pid",
                             str(server.pid), "--peer-ip", PEER_IP, "--out", str(out))),
                       check=True, timeout=3600)
        result = json.loads(out.read_text())
    finally:
        server.stop()
    result["server_env"] = CYCLES_ALLOCATOR_ENV
    return result


def median(results, key):
    values = [r[key] for r in results if r is not None]
    return statistics.median(values) if values else float("nan")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--max-rooms", type=int, default=64)
    parser.add_argument("--memory-only", action="store_true",
                        help="run only the join/leave cycles and update them in the last run's report")
    opts = parser.parse_args()
    if opts.memory_only:
        ensure_namespace()
        bin_, loadgen = build()
        report = json.loads((RESULTS / "report.json").read_text())
        work = Path(tempfile.mkdtemp(prefix="ra-bench-"))
        report["cycles"] = memory_cycles(bin_, loadgen, work, False)
        report["cycles"]["date"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        (RESULTS / "report.json").write_text(json.dumps(report, indent=1))
        shutil.rmtree(work, ignore_errors=True)
        subprocess.run([sys.executable, str(REPO / "tests" / "loadgen" / "report.py")], check=True)
        return
    # Results describe the last run only.
    shutil.rmtree(RESULTS, ignore_errors=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    ensure_namespace()
    bin_, loadgen = build()
    work = Path(tempfile.mkdtemp(prefix="ra-bench-"))
    seconds = 10 if opts.quick else 20
    repeats = 1 if opts.quick else 3
    # p99 at one load moves by half a millisecond from run to run on this machine: the fixed
    # load, where the delay targets are read, gets more runs.
    fixed_repeats = 1 if opts.quick else 5
    # Up to 64 rooms: on its own core, remote-assist passed 32 and more.
    steps = [2, 4, 6, 8, 10, 12, 14, 16, 20, 24, 28, 32, 40, 48, 56, 64] if not opts.quick else [2, 4, 8]
    steps = [s for s in steps if s <= opts.max_rooms]
    machine = subprocess.run(["bash", "-c", "nproc; grep -m1 'model name' /proc/cpuinfo; free -g | awk '/Mem/{print $2}'"],
                             capture_output=True, text=True).stdout.split("\n")
    report = {"machine": {"cores": machine[0], "cpu": machine[1].split(":")[-1].strip(), "mem_gb": machine[2],
                          "server_cpus": SERVER_CPUS, "loadgen_cpus": LOADGEN_CPUS},
              "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "seconds": seconds, "repeats": repeats,
              "fixed_repeats": fixed_repeats}

    # What the measured path costs with a relay that does nothing (the floor under "added
    # delay"), measured again between the fixed-load runs below.
    import floor
    report["floor_runs"] = [floor.run(seconds, loadgen)]
    print(f"relay floor: p50 {report['floor_runs'][0]['p50_us']:.0f} us, "
          f"p99 {report['floor_runs'][0]['p99_us']:.0f} us")

    ours, accounts = start_ours(bin_, loadgen, work / "ours", False, max(steps) + 2, "ours")
    janus = start_janus(work / "janus-conf")
    try:
        # 1. Capacity: rooms until loss > 0.1 % or p99 > 5 ms, alternating.
        print("capacity")
        capacity = {"ours": 0, "janus": 0}
        sweep = {"ours": [], "janus": []}
        alive = {"ours": True, "janus": True}
        for rooms in steps:
            for target, server in (("ours", ours), ("janus", janus)):
                if not alive[target]:
                    continue
                result = run(loadgen, target, server, rooms, seconds, accounts=accounts, tag="-cap")
                if not ok(result):
                    # p99 on this virtual machine jumps now and then with nothing running: a
                    # step fails only when a second try fails too (the same rule for both).
                    print(f"  {target} {rooms} rooms: once more")
                    result = run(loadgen, target, server, rooms, seconds, accounts=accounts, tag="-cap")
                sweep[target].append({"rooms": rooms, "result": result})
                if ok(result):
                    capacity[target] = rooms
                else:
                    alive[target] = False
            if not any(alive.values()):
                break
        report["capacity"] = capacity
        report["sweep"] = sweep

        # 2-4. At a fixed load, 70 % of our capacity (at least 2 rooms), both servers, A B A B,
        # with the do-nothing relay between: CPU per forwarded packet, delay, jitter, joins.
        fixed = max(2, int(round(capacity["ours"] * 0.7)))
        print(f"fixed load: {fixed} rooms x {fixed_repeats}")
        fixed_runs = {"ours": [], "janus": []}
        for _ in range(fixed_repeats):
            for target, server in (("ours", ours), ("janus", janus)):
                fixed_runs[target].append(run(loadgen, target, server, fixed, seconds, accounts=accounts, tag="-fixed"))
            report["floor_runs"].append(floor.run(seconds, loadgen))
            print(f"  relay floor: p50 {report['floor_runs'][-1]['p50_us']:.0f} us, "
                  f"p99 {report['floor_runs'][-1]['p99_us']:.0f} us")
        report["fixed"] = {"rooms": fixed, "runs": fixed_runs}
    finally:
        ours.stop()

    # 5. Recording: ours with recording on (a fresh server), Janus with record=true.
    print("recording")
    rec_rooms = 2
    ours_rec, accounts_rec = start_ours(bin_, loadgen, work / "ours-rec", True, rec_rooms, "ours-rec")
    janus_rec_dir = work / "janus-rec"
    janus_rec_dir.mkdir()
    recording = {"rooms": rec_rooms, "ours_off": [], "ours_on": [], "janus_off": [], "janus_on": []}
    try:
        ours_plain, accounts_plain = start_ours(bin_, loadgen, work / "ours-plain", False, rec_rooms, "ours-plain")
        try:
            for _ in range(repeats):
                recording["ours_off"].append(run(loadgen, "ours", ours_plain, rec_rooms, seconds, accounts=accounts_plain, tag="-norec"))
                recording["janus_off"].append(run(loadgen, "janus", janus, rec_rooms, seconds, tag="-norec"))
                recording["ours_on"].append(run(loadgen, "ours", ours_rec, rec_rooms, seconds, accounts=accounts_rec, recording=True, tag="-rec"))
                recording["janus_on"].append(run(loadgen, "janus", janus, rec_rooms, seconds, recording=True, janus_rec=str(janus_rec_dir), tag="-rec"))
        finally:
            ours_plain.stop()
        ours_objects = work / "ours-rec" / "objects"
        recording["ours_bytes_stored"] = sum(f.stat().st_size for f in ours_objects.rglob("*") if f.is_file())
        recording["janus_bytes_stored"] = sum(f.stat().st_size for f in janus_rec_dir.rglob("*") if f.is_file())
        # Janus needs janus-pp-rec to make its .mjr files playable; time that post-processing.
        mjrs = sorted(janus_rec_dir.rglob("*video*.mjr"))
        started = time.time()
        for mjr in mjrs:
            subprocess.run(["janus-pp-rec", str(mjr), str(mjr.with_suffix(".mp4"))], capture_output=True)
        recording["janus_pp_rec_seconds"] = time.time() - started
        recording["janus_video_files"] = len(mjrs)
    finally:
        ours_rec.stop()
    report["recording"] = recording

    # 6. Memory: PSS per room (from the sweep) and after 1,000 join/leave cycles.
    report["cycles"] = memory_cycles(bin_, loadgen, work, opts.quick)
    janus.stop()
    (RESULTS / "report.json").write_text(json.dumps(report, indent=1))
    shutil.rmtree(work, ignore_errors=True)
    subprocess.run([sys.executable, str(REPO / "tests" / "loadgen" / "report.py")], check=True)


if __name__ == "__main__":
    main()
