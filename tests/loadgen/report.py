#!/usr/bin/env python3
"""Writes BENCHMARKS.md from tests/loadgen/results/report.json (made by bench.py) and the
criterion results in target/criterion (made by `cargo bench`)."""

import json
import math
import statistics
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "tests" / "loadgen" / "results"


def med(runs, key):
    # A key can be missing (the server's own delay histograms exist for ours only) or null.
    values = [r[key] for r in runs if r is not None and r.get(key) is not None and not math.isnan(r[key])]
    return statistics.median(values) if values else float("nan")


def ratio(ours, janus, lower_is_better=True):
    if not ours or not janus or math.isnan(ours) or math.isnan(janus):
        return "—"
    return f"{(janus / ours) if lower_is_better else (ours / janus):.2f}×"


def fmt(value, digits=0):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:,.{digits}f}"


def theil_sen_percent(cycles):
    """The trend through the memory samples as the median of all pairwise slopes, over the
    cycles after the warm-up, in % of the first sample. Unlike least squares, one sample taken
    just after the allocator returned pages (a dip of 20 MB) cannot tilt it."""
    samples = cycles.get("pss_kb_samples") or []
    slopes = [(y2 - y1) / (x2 - x1) for i, (x1, y1) in enumerate(samples)
              for x2, y2 in samples[i + 1:] if x2 != x1]
    if not slopes:
        return float("nan")
    return statistics.median(slopes) * (cycles["cycles"] - cycles["warm"]) * 100 / samples[0][1]


def criterion_rows():
    """The criterion medians of the bench's run. Kept in results/criterion.json as well, so
    that the report can be written again after `target/` is gone."""
    rows = []
    base = REPO / "target" / "criterion"
    for estimates in sorted(base.glob("*/*/new/estimates.json")) + sorted(base.glob("*/new/estimates.json")):
        name = estimates.parent.parent.relative_to(base).as_posix()
        data = json.loads(estimates.read_text())
        ns = data["median"]["point_estimate"]
        rows.append((name, ns))
    kept = RESULTS / "criterion.json"
    if rows:
        kept.write_text(json.dumps(rows, indent=1))
    elif kept.exists():
        rows = [tuple(row) for row in json.loads(kept.read_text())]
    return rows


def main():
    report = json.loads((RESULTS / "report.json").read_text())
    m = report["machine"]
    lines = [
        "# Benchmarks",
        "",
        "Measured by `tests/loadgen/bench` (load generator: `tests/loadgen`, a room = four cameras",
        "sending a real H.264 clip — 640x480, ~1 Mbit/s, 30 fps, keyframe every 2 s — with Opus, and",
        "one supporter receiving all four and sending Opus back to each), against remote-assist and",
        "Janus VideoRoom 1.1.2 (Debian) in the same run, runs alternating between the two. Both",
        "servers and the load generator share the machine, inside a network namespace the script",
        "makes (Janus gathers ICE candidates on real interfaces only). The server under test runs",
        f"on core {m.get('server_cpus', '?')} and the load generator on core {m.get('loadgen_cpus', '?')} (`taskset`), so that the load",
        "generator never takes CPU from the server it measures: capacity is what one core serves, and",
        "a server's CPU % is of that core.",
        "",
        f"Machine: {m['cores']} cores ({m['cpu']}), {m['mem_gb']} GiB. Date: {report['date']}. Each",
        f"measured window: {report['seconds']} s after 3 s of warm-up; medians over {report.get('fixed_repeats', report['repeats'])} runs at the",
        f"fixed load and {report['repeats']} for recording. remote-assist built as it ships (the `production`",
        "profile: release with whole-program optimisation); Janus as Debian packages it. Ratios are",
        "\"how many times better than Janus\".",
        "",
        "What the numbers include: the delay is measured from the camera task stamping a frame to",
        "the kernel's receive time (`SO_TIMESTAMPNS`) at the supporter's socket of the packet that",
        "carries the stamp (a small SEI packet sent first, ahead of the frame's own packets), on the",
        "same machine's clock — so it includes encrypting that one packet, two veth hops and the",
        "server, but not the supporter task's wait to be scheduled or its decryption, for both",
        "servers alike.",
        "CPU is the server process's user+system time from `/proc`.",
        "",
    ]
    cap = report["capacity"]
    lines += [
        "## 1. Capacity",
        "",
        "Rooms added in steps until loss > 0.1 % or added delay p99 > 5 ms (a step that fails is run",
        "once more, for both servers alike, and fails only if it fails again; the table shows the last try).",
        "",
        "| rooms | remote-assist loss % | p99 µs | CPU % | Janus loss % | p99 µs | CPU % |",
        "|---|---|---|---|---|---|---|",
    ]
    by_rooms = {}
    for target in ("ours", "janus"):
        for step in report["sweep"][target]:
            by_rooms.setdefault(step["rooms"], {})[target] = step["result"]
    for rooms in sorted(by_rooms):
        o = by_rooms[rooms].get("ours")
        j = by_rooms[rooms].get("janus")
        cell = lambda r, k, d=0: fmt(r[k], d) if r else "—"
        lines.append(f"| {rooms} | {cell(o, 'loss_percent', 3)} | {cell(o, 'delay_p99_us')} | {cell(o, 'server_cpu_percent')} "
                     f"| {cell(j, 'loss_percent', 3)} | {cell(j, 'delay_p99_us')} | {cell(j, 'server_cpu_percent')} |")
    # A server that passed the sweep's last step has a capacity of at least that, not equal to
    # it: then there is no ratio to give, only a bound.
    top = max(by_rooms) if by_rooms else 0
    at_top = {t: cap[t] == top and top > 0 for t in ("ours", "janus")}
    cap_text = {t: (f"≥ {cap[t]}" if at_top[t] else str(cap[t])) for t in ("ours", "janus")}
    if at_top["ours"] and at_top["janus"]:
        cap_ratio = f"not measured: both passed the sweep's last step ({top} rooms)"
    elif at_top["ours"]:
        cap_ratio = f"≥ {ratio(cap['ours'], cap['janus'], lower_is_better=False)}"
    else:
        cap_ratio = ratio(cap['ours'], cap['janus'], lower_is_better=False)
    lines += [
        "",
        f"**Capacity: remote-assist {cap_text['ours']} rooms, Janus {cap_text['janus']} rooms "
        f"(ratio {cap_ratio}).**",
        "",
    ]
    fixed = report["fixed"]
    o, j = fixed["runs"]["ours"], fixed["runs"]["janus"]
    rows = [
        ("Server CPU per forwarded packet (µs)", "cpu_us_per_forwarded_packet", 2, True),
        ("Server CPU (% of one core)", "server_cpu_percent", 1, True),
        ("Added delay p50 (µs)", "delay_p50_us", 0, True),
        ("Added delay p99 (µs)", "delay_p99_us", 0, True),
        ("Jitter (ms)", "jitter_ms", 3, True),
        ("Loss (%)", "loss_percent", 3, True),
        ("Join → first packet p50 (ms)", "join_first_packet_p50_ms", 1, True),
        ("Join → first packet p95 (ms)", "join_first_packet_p95_ms", 1, True),
        ("Join → first keyframe p50 (ms)", "join_first_keyframe_p50_ms", 1, True),
        ("Join → first keyframe p95 (ms)", "join_first_keyframe_p95_ms", 1, True),
        ("Server PSS (MB)", "server_pss_kb", 1, True),
    ]
    lines += [
        f"## 2–4. CPU per packet, added delay, join time — {fixed['rooms']} rooms",
        "",
        "| measure | remote-assist | Janus | ratio |",
        "|---|---|---|---|",
    ]
    for label, key, digits, lower in rows:
        ov, jv = med(o, key), med(j, key)
        if key == "server_pss_kb":
            ov, jv = ov / 1024, jv / 1024
        lines.append(f"| {label} | {fmt(ov, digits)} | {fmt(jv, digits)} | {ratio(ov, jv, lower)} |")
    floor_p50, floor_p99 = med(report["floor_runs"], "p50_us"), med(report["floor_runs"], "p99_us")
    above = lambda runs, key, floor_value: med(runs, key) - floor_value
    lines += [
        "",
        "The same path through a relay that does nothing (`tests/loadgen/floor.py`: native code, at the",
        f"media worker's real-time priority; {len(report['floor_runs'])} runs, one before the sweep and one after each",
        f"pair above): p50 {fmt(floor_p50)} µs, p99 {fmt(floor_p99)} µs — two veth hops and waking a sleeping",
        "process, which any server has.",
    ]
    if above(o, "delay_p50_us", floor_p50) > 0:
        lines += [
            f"Above it, remote-assist adds {fmt(above(o, 'delay_p50_us', floor_p50))} µs at p50 and "
            f"{fmt(above(o, 'delay_p99_us', floor_p99))} µs at p99; Janus {fmt(above(j, 'delay_p50_us', floor_p50))} µs "
            f"and {fmt(above(j, 'delay_p99_us', floor_p99))} µs.",
        ]
    else:
        lines += [
            "remote-assist's own p50 is at or below it in this run, so here the relay gives no floor",
            "to subtract (a core that waits longer between packets wakes more slowly on this machine).",
        ]
    if not math.isnan(med(o, "server_handling_p50_us")):
        lines += [
            "",
            "The server's own share, from its `/metrics` over the same windows, for every datagram and not",
            "only the stamped ones (kernel receive time of a datagram to everything it caused handed to the",
            "kernel, `ra_media_datagram_handling_seconds`; quantiles interpolated within histogram buckets): "
            f"p50 {fmt(med(o, 'server_handling_p50_us'))} µs, p99 {fmt(med(o, 'server_handling_p99_us'))} µs,",
            f"of which waiting for the media thread (`ra_media_receive_wait_seconds`) p50 {fmt(med(o, 'server_wait_p50_us'))} µs,",
            f"p99 {fmt(med(o, 'server_wait_p99_us'))} µs. Janus has no such measure.",
        ]
    rec = report["recording"]
    tracks = rec["rooms"] * 4
    cpu_on, cpu_off = med(rec["ours_on"], "server_cpu_percent"), med(rec["ours_off"], "server_cpu_percent")
    jcpu_on, jcpu_off = med(rec["janus_on"], "server_cpu_percent"), med(rec["janus_off"], "server_cpu_percent")
    lines += [
        "",
        f"## 5. Recording cost — {rec['rooms']} rooms ({tracks} cameras recorded)",
        "",
        "| measure | remote-assist | Janus (`record=true`) |",
        "|---|---|---|",
        f"| server CPU, recording off (% of a core) | {fmt(cpu_off, 1)} | {fmt(jcpu_off, 1)} |",
        f"| server CPU, recording on | {fmt(cpu_on, 1)} | {fmt(jcpu_on, 1)} |",
        f"| CPU per recorded camera (% of a core) | {fmt((cpu_on - cpu_off) / tracks, 2)} | {fmt((jcpu_on - jcpu_off) / tracks, 2)} |",
        f"| bytes stored | {fmt(rec['ours_bytes_stored'])} (encrypted MP4) | {fmt(rec['janus_bytes_stored'])} (.mjr, plaintext) |",
        f"| post-processing before playable | none (fragmented MP4 while live) | `janus-pp-rec`: {fmt(rec['janus_pp_rec_seconds'], 1)} s for {rec['janus_video_files']} video files |",
        "",
    ]
    cycles = report["cycles"]
    sweep_pss = [(s["rooms"], s["result"]["server_pss_kb"]) for s in report["sweep"]["ours"] if s["result"]]
    per_room = ""
    if len(sweep_pss) >= 2:
        (r0, p0), (r1, p1) = sweep_pss[0], sweep_pss[-1]
        per_room = f"{(p1 - p0) / max(r1 - r0, 1) / 1024:.2f} MB per room (PSS from {r0} to {r1} rooms)"
    lines += [
        "## 6. Memory",
        "",
        f"- remote-assist: {per_room or '—'}.",
        f"- {cycles['cycles']} join/leave cycles (a camera comes online, a supporter connects it and",
        f"  receives video, both leave): PSS {cycles['pss_kb_after_warm'] / 1024:.1f} MB after the first",
        f"  {cycles['warm']} (warm-up: allocator arenas, caches), {cycles['pss_kb_at_end'] / 1024:.1f} MB at the end:",
        f"  **growth {cycles['growth_percent']:.2f} %** over the {cycles['cycles'] - cycles['warm']} cycles after it ({cycles['seconds']:.0f} s).",
    ]
    if cycles.get("server_env"):
        settings = ", ".join(f"`{k}={v}`" for k, v in cycles["server_env"].items())
        lines += [f"  The server ran with {settings}: freed memory goes back to the system at once, so PSS"
                  " follows the memory in use (see the notes below)."]
    if cycles.get("date"):
        lines += [f"  Measured {cycles['date']} (`tests/loadgen/bench --memory-only`), after the rest of this report."]
    if "trend_percent" in cycles:
        samples = ", ".join(f"{kb / 1024:.1f}" for _, kb in cycles["pss_kb_samples"])
        lines += [
            f"  Sampled every 100 cycles after the warm-up (MB): {samples}; trend over the",
            f"  {cycles['cycles'] - cycles['warm']} cycles: least squares {cycles['trend_percent']:+.2f} %, median of pairwise slopes",
            f"  (Theil–Sen, which one low sample cannot tilt) **{theil_sen_percent(cycles):+.2f} %**.",
        ]
    lines += [
        "",
    ]
    crit = criterion_rows()
    lines += [
        "## 7. Micro-benchmarks (criterion, `cargo bench -p remote-assist-sfu -p remote-assist`)",
        "",
        "| benchmark | median |",
        "|---|---|",
    ]
    for name, ns in crit:
        lines.append(f"| {name} | {ns / 1000:.2f} µs |" if ns >= 1000 else f"| {name} | {ns:.0f} ns |")
    if not crit:
        lines.append("| (not run) | — |")
    lines += [
        "",
        "## Targets",
        "",
        "| target | result |",
        "|---|---|",
        f"| ≥ 2× Janus' capacity | {cap_ratio} |",
        f"| added delay p50 ≤ 100 µs, p99 ≤ 1 ms at 70 % load | {fmt(med(o, 'delay_p50_us'))} µs, {fmt(med(o, 'delay_p99_us'))} µs"
        f" at {fixed['rooms']} rooms (70 % of ours)"
        + (f"; in the server alone {fmt(med(o, 'server_handling_p50_us'))} µs, {fmt(med(o, 'server_handling_p99_us'))} µs"
           if not math.isnan(med(o, "server_handling_p50_us")) else "") + " |",
        f"| join → first keyframe ≤ 150 ms | p50 {fmt(med(o, 'join_first_keyframe_p50_ms'), 1)} ms, p95 {fmt(med(o, 'join_first_keyframe_p95_ms'), 1)} ms |",
        f"| recording ≤ 1 % of a core per track | {fmt((cpu_on - cpu_off) / tracks, 2)} % per camera |",
        f"| memory growth < 1 % after 1,000 cycles | {cycles['growth_percent']:.2f} %"
        + (f"; trend {theil_sen_percent(cycles):+.2f} % (Theil–Sen), {cycles['trend_percent']:+.2f} % (least squares)"
           if "trend_percent" in cycles else "") + " |",
        "",
        "Raw results: `tests/loadgen/results/*.json`. Reproduce: `tests/loadgen/bench` (root, for",
        "the network namespace; installs nothing — run `tests/run` once first).",
        "",
    ]
    notes = REPO / "tests" / "loadgen" / "NOTES.md"
    if notes.exists():
        lines += [notes.read_text()]
    (REPO / "BENCHMARKS.md").write_text("\n".join(lines))
    print("BENCHMARKS.md written")


if __name__ == "__main__":
    main()
