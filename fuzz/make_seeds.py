#!/usr/bin/env python3
"""Writes the seed corpus of the rtp_recording target from real encoder output: a short H.264
(constrained baseline, Annex B) and VP8 (IVF) clip made with ffmpeg, packetized the way browsers
do (STAP-A for SPS+PPS, FU-A for large NAL units, single NAL units otherwise; the VP8 payload
descriptor), interleaved with Opus-sized audio packets. The format is the target's own packet
description (see fuzz_targets/rtp_recording.rs). Run once; the seeds are committed.
   fuzz/make_seeds.py   (needs ffmpeg)
"""
import os
import struct
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
MAX_PAYLOAD = 255

CAMERA_VIDEO, CAMERA_VIDEO_VP8, CAMERA_AUDIO, SUPPORTER_AUDIO = 0, 1, 2, 3
EXPLICIT_SEQ, OTHER_SSRC, MARKER = 0b100, 0b1000, 0b1_0000


def packet(stream, step_ms, timestamp, payload, marker=False, seq=None):
    flags = stream | (MARKER if marker else 0) | (EXPLICIT_SEQ if seq is not None else 0)
    out = bytes([flags, step_ms])
    if seq is not None:
        out += struct.pack(">H", seq)
    out += struct.pack(">I", timestamp & 0xFFFFFFFF)
    assert len(payload) <= MAX_PAYLOAD
    return out + bytes([len(payload)]) + payload


def nal_units(annexb):
    units, i = [], 0
    starts = []
    while True:
        j = annexb.find(b"\x00\x00\x01", i)
        if j < 0:
            break
        starts.append(j + 3)
        i = j + 3
    for k, s in enumerate(starts):
        end = starts[k + 1] - 3 if k + 1 < len(starts) else len(annexb)
        unit = annexb[s:end].rstrip(b"\x00")
        if unit:
            units.append(unit)
    return units


def h264_payloads(unit):
    """Single NAL unit or FU-A fragments."""
    if len(unit) <= MAX_PAYLOAD:
        return [unit]
    header, body = unit[0], unit[1:]
    indicator = (header & 0xE0) | 28
    chunks = [body[i:i + MAX_PAYLOAD - 2] for i in range(0, len(body), MAX_PAYLOAD - 2)]
    out = []
    for n, chunk in enumerate(chunks):
        fu = (header & 0x1F) | (0x80 if n == 0 else 0) | (0x40 if n == len(chunks) - 1 else 0)
        out.append(bytes([indicator, fu]) + chunk)
    return out


def h264_seed(annexb, seconds_per_frame=0.1):
    units = nal_units(annexb)
    out, ts, pending = b"", 1000, []
    sps_pps = [u for u in units if u[0] & 0x1F in (7, 8)][:2]
    stap = bytes([24]) + b"".join(struct.pack(">H", len(u)) + u for u in sps_pps)
    for unit in units:
        kind = unit[0] & 0x1F
        if kind in (7, 8, 6, 9):
            continue
        payloads = h264_payloads(unit)
        if kind == 5:
            out += packet(CAMERA_VIDEO, 0, ts, stap)
        for n, p in enumerate(payloads):
            out += packet(CAMERA_VIDEO, 1, ts, p, marker=n == len(payloads) - 1)
        out += packet(CAMERA_AUDIO, 20, ts // 90 * 48, bytes(60))
        out += packet(SUPPORTER_AUDIO, 20, ts // 90 * 48 + 7, bytes(40))
        ts += int(90_000 * seconds_per_frame)
    return out


def vp8_seed(ivf):
    frames, i = [], 32
    while i + 12 <= len(ivf):
        size = struct.unpack("<I", ivf[i:i + 4])[0]
        frames.append(ivf[i + 12:i + 12 + size])
        i += 12 + size
    out, ts = b"", 5000
    for frame in frames:
        chunks = [frame[i:i + MAX_PAYLOAD - 1] for i in range(0, len(frame), MAX_PAYLOAD - 1)]
        for n, chunk in enumerate(chunks):
            descriptor = 0x10 if n == 0 else 0x00  # S bit on the first packet, partition 0
            out += packet(CAMERA_VIDEO_VP8, 1, ts, bytes([descriptor]) + chunk,
                          marker=n == len(chunks) - 1)
        out += packet(CAMERA_AUDIO, 20, ts // 90 * 48, bytes(60))
        ts += 9000
    return out


def main():
    with tempfile.TemporaryDirectory() as tmp:
        h264, ivf = os.path.join(tmp, "clip.h264"), os.path.join(tmp, "clip.ivf")
        common = ["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                  "testsrc=size=160x120:rate=10"]
        subprocess.run(common + ["-t", "2.5", "-c:v", "libx264", "-profile:v", "baseline", "-pix_fmt", "yuv420p",
                                 "-g", "10", "-bsf:v", "h264_mp4toannexb", "-f", "h264", h264],
                       check=True)
        subprocess.run(common + ["-t", "1", "-c:v", "libvpx", "-g", "5", "-f", "ivf", ivf],
                       check=True)
        seeds = os.path.join(HERE, "seeds", "rtp_recording")
        os.makedirs(seeds, exist_ok=True)
        with open(h264, "rb") as f:
            annexb = f.read()
        with open(os.path.join(seeds, "h264_with_audio"), "wb") as f:
            f.write(h264_seed(annexb))
        with open(ivf, "rb") as f:
            vp8 = f.read()
        with open(os.path.join(seeds, "vp8_with_audio"), "wb") as f:
            f.write(vp8_seed(vp8))
        # Audio only, with a sequence jump and a timestamp wrap.
        audio = b"".join(packet(CAMERA_AUDIO, 20, 0xFFFFF000 + n * 960, bytes(50),
                                seq=(65530 + n) & 0xFFFF) for n in range(40))
        with open(os.path.join(seeds, "audio_wrapping"), "wb") as f:
            f.write(audio)
        # The recording's WebM output is the webm_recovery target's seed.
        print("seeds written to", seeds)


if __name__ == "__main__":
    main()
