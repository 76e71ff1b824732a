#!/usr/bin/env python3
"""The floor under the bench's "added delay": the same path with a relay that does nothing.

A sender (10.203.0.1, like the load generator's cameras) stamps a datagram and sends it to a
relay on 10.203.0.2 (where the SFU listens), which sends it straight back to a receiver next
to the sender; the receiver takes the kernel's arrival time (`SO_TIMESTAMPNS`), as the load
generator does. The relay (`remote-assist-loadgen relay`, native code) sleeps in `recvfrom`
between datagrams, as an SFU does between packets, on the core the bench gives the servers and
with the real-time priority the SFU's media worker takes (`SCHED_RR` 10), so the number is two
veth hops plus waking a sleeping process, with no media work. (Until 2026-12-08 the relay was
a Python loop, whose own per-datagram work raised the floor.)
Packets go out in bursts of four (a video frame's first packets) every 2 ms, which is about
the packet rate the SFU sees at the bench's smallest step (2 rooms: ~1,700 datagrams a second);
a core that sleeps between sparse packets wakes more slowly on this virtual machine, so a sparser
floor would measure the hypervisor rather than the path. As the load generator times only the
packet that carries a frame's stamp (the first), only the first of each burst is timed.

    python3 tests/loadgen/floor.py [--seconds 20]     # root: the bench's network namespace; builds the load generator if out of date
"""

import argparse
import json
import socket
import statistics
import struct
import subprocess
import sys
import time

import bench

# Linux (asm-generic): SO_TIMESTAMPNS, also the control message type; Python does not name it.
SO_TIMESTAMPNS = 35

# The priority `media_realtime_priority` gives the SFU's media worker by default.
RELAY_PRIORITY = "10"


def run(seconds, loadgen_bin):
    """Measures the floor; returns datagrams, p50_us and p99_us."""
    bench.ensure_namespace()
    relay = subprocess.Popen(bench.in_ns(*bench.on_server_cpu(
        "chrt", "--rr", RELAY_PRIORITY, str(loadgen_bin), "relay",
        "--bind", "10.203.0.2:40999", "--to", "10.203.0.1:40998")))
    try:
        time.sleep(0.5)
        # The sender and receiver run inside the namespace too (this script re-executes itself).
        out = subprocess.run(bench.in_ns(*bench.on_loadgen_cpus(sys.executable, __file__, "--measure", str(seconds))),
                             capture_output=True, text=True, check=True, timeout=seconds + 60).stdout
        relay.wait(10)
    finally:
        if relay.poll() is None:
            relay.kill()
    return json.loads(out)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=20)
    opts = parser.parse_args()
    floor = run(opts.seconds, bench.build_loadgen())
    print(f"relay floor: {floor['datagrams']} datagrams, p50 {floor['p50_us']:.0f} us, "
          f"p99 {floor['p99_us']:.0f} us")


def measure(seconds):
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    receiver.bind(("10.203.0.1", 40998))
    receiver.settimeout(1)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    payload = bytes(1100)
    delays = []
    end = time.time() + seconds
    while time.time() < end:
        for _ in range(4):
            sender.sendto(struct.pack("!q", time.time_ns()) + payload, ("10.203.0.2", 40999))
        for i in range(4):
            data, ancillary, _, _ = receiver.recvmsg(2048, 64)
            sent = struct.unpack("!q", data[:8])[0]
            for level, kind, value in ancillary:
                if i == 0 and level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                    sec, nsec = struct.unpack("qq", value[:16])
                    delays.append((sec * 1_000_000_000 + nsec - sent) / 1000)
        time.sleep(0.002)
    sender.sendto(b"stop", ("10.203.0.2", 40999))
    delays.sort()
    p99 = delays[int(len(delays) * 0.99)]
    print(json.dumps({"datagrams": len(delays), "p50_us": statistics.median(delays), "p99_us": p99}))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--measure":
        measure(int(sys.argv[2]))
    else:
        main()
