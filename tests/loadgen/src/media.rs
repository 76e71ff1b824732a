//! The media the load generator sends: a real H.264 clip (Debian ffmpeg, 640x480, about
//! 1 Mbit/s, 30 fps, a keyframe every 2 s) and real Opus packets (20 ms), made once and cached.
//!
//! Every access unit goes out behind a small SEI message (H.264 "user data unregistered", which
//! decoders ignore and SFUs forward untouched) in a packet of its own: the camera's index, the
//! frame number and the send time. The subscriber reads it back, which gives the added one-way
//! delay per frame and tells which camera a stream is, whatever SSRC the SFU chose. The clip's
//! RTP payloads are cut once at load, so a camera's work between stamping a frame and sending
//! the stamp is one small packet's encryption, not the whole frame's packetization.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, ensure};
use bytes::{BufMut, Bytes, BytesMut};
use rtc::rtp::packetizer::Payloader;

/// Identifies our SEI payload among any others.
const STAMP_UUID: [u8; 16] = *b"remote-assist-lg";
const SEI_NAL: u8 = 6;
const SEI_USER_DATA_UNREGISTERED: u8 = 5;
/// The largest RTP payload the cameras send, as a browser's packetizer would.
const RTP_PAYLOAD_SIZE: usize = 1100;

pub struct Clip {
    /// The access units (30 per second) cut into RTP payloads of at most 1,100 bytes.
    pub video_payloads: Vec<Vec<Bytes>>,
    pub keyframes: Vec<bool>,
    /// Opus packets of 20 ms.
    pub opus: Vec<Bytes>,
}

fn ffmpeg(args: &[&str]) -> anyhow::Result<()> {
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-y"])
        .args(args)
        .status()
        .context("ffmpeg is needed (Debian package ffmpeg)")?;
    ensure!(status.success(), "ffmpeg failed: {args:?}");
    Ok(())
}

/// Makes (or reuses) the clip in `cache`.
pub fn load(cache: &Path) -> anyhow::Result<Clip> {
    std::fs::create_dir_all(cache)?;
    let video = cache.join("clip-640x480-30fps-1mbps-gop60.h264");
    if !video.is_file() {
        let tmp = video.with_extension("tmp.h264");
        ffmpeg(&[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=640x480:rate=30:duration=10,noise=alls=20:allf=t",
            "-c:v",
            "libx264",
            "-profile:v",
            "baseline",
            "-pix_fmt",
            "yuv420p",
            "-bf",
            "0",
            "-b:v",
            "1000k",
            "-maxrate",
            "1000k",
            "-bufsize",
            "1000k",
            "-g",
            "60",
            "-keyint_min",
            "60",
            "-x264-params",
            "repeat-headers=1:aud=1:scenecut=0",
            "-f",
            "h264",
            tmp.to_str().context("utf-8 path")?,
        ])?;
        std::fs::rename(&tmp, &video)?;
    }
    let audio = cache.join("tone-20ms.ogg");
    if !audio.is_file() {
        let tmp: PathBuf = audio.with_extension("tmp.ogg");
        ffmpeg(&[
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:duration=10",
            "-ac",
            "2",
            "-c:a",
            "libopus",
            "-b:a",
            "32k",
            "-frame_duration",
            "20",
            "-f",
            "ogg",
            tmp.to_str().context("utf-8 path")?,
        ])?;
        std::fs::rename(&tmp, &audio)?;
    }
    let frames = remote_assist_sfu::test_client::split_access_units(&std::fs::read(&video)?);
    ensure!(frames.len() >= 200, "the clip has {} frames", frames.len());
    let keyframes = frames
        .iter()
        .map(|f| remote_assist_sfu::test_client::is_keyframe(f))
        .collect();
    let opus = ogg_packets(&std::fs::read(&audio)?);
    ensure!(opus.len() >= 400, "the audio has {} packets", opus.len());
    let mut payloader = rtc::rtp::codec::h264::H264Payloader::default();
    let video_payloads = frames
        .iter()
        .map(|frame| payloader.payload(RTP_PAYLOAD_SIZE, frame))
        .collect::<Result<_, _>>()?;
    Ok(Clip {
        video_payloads,
        keyframes,
        opus,
    })
}

/// The Opus packets of an Ogg file (identification and comment headers left out).
fn ogg_packets(data: &[u8]) -> Vec<Bytes> {
    let mut packets = Vec::new();
    let mut current = Vec::new();
    let mut at = 0;
    while at + 27 <= data.len() && &data[at..at + 4] == b"OggS" {
        let segments = data[at + 26] as usize;
        let Some(table) = data.get(at + 27..at + 27 + segments) else {
            break;
        };
        let mut body = at + 27 + segments;
        for &lace in table {
            let Some(part) = data.get(body..body + lace as usize) else {
                return packets;
            };
            current.extend_from_slice(part);
            body += lace as usize;
            if lace < 255 {
                let packet = std::mem::take(&mut current);
                if !packet.starts_with(b"Opus") {
                    packets.push(Bytes::from(packet));
                }
            }
        }
        at = body;
    }
    packets
}

/// The stamp carried by one access unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamp {
    pub camera: u32,
    pub frame: u32,
    /// Nanoseconds since the load generator's epoch.
    pub sent_ns: u64,
}

/// Nanoseconds since `epoch`.
pub fn since(epoch: Instant) -> u64 {
    epoch.elapsed().as_nanos() as u64
}

/// The RTP payload (a single SEI NAL unit) that carries `stamp`; sent in front of its frame.
pub fn stamp_payload(stamp: Stamp) -> Bytes {
    let mut payload = Vec::with_capacity(32);
    payload.extend_from_slice(&STAMP_UUID);
    payload.extend_from_slice(&stamp.camera.to_be_bytes());
    payload.extend_from_slice(&stamp.frame.to_be_bytes());
    payload.extend_from_slice(&stamp.sent_ns.to_be_bytes());
    // RBSP: no three-byte pattern 00 00 0x may appear; insert emulation prevention bytes.
    let mut rbsp = vec![SEI_USER_DATA_UNREGISTERED, payload.len() as u8];
    rbsp.extend_from_slice(&payload);
    rbsp.push(0x80); // rbsp trailing bits
    let mut out = BytesMut::with_capacity(rbsp.len() + 8);
    out.put_u8(SEI_NAL);
    let mut zeros = 0;
    for byte in rbsp {
        if zeros >= 2 && byte <= 3 {
            out.put_u8(3);
            zeros = 0;
        }
        zeros = if byte == 0 { zeros + 1 } else { 0 };
        out.put_u8(byte);
    }
    out.freeze()
}

/// The stamp in an RTP payload that is our SEI NAL unit.
pub fn read_stamp(payload: &[u8]) -> Option<Stamp> {
    if payload.first()? & 0x1F != SEI_NAL || *payload.get(1)? != SEI_USER_DATA_UNREGISTERED {
        return None;
    }
    // Undo emulation prevention.
    let mut raw = Vec::with_capacity(payload.len());
    let mut zeros = 0;
    for &byte in &payload[3..] {
        if zeros >= 2 && byte == 3 {
            zeros = 0;
            continue;
        }
        zeros = if byte == 0 { zeros + 1 } else { 0 };
        raw.push(byte);
    }
    if raw.len() < 32 || raw[..16] != STAMP_UUID {
        return None;
    }
    Some(Stamp {
        camera: u32::from_be_bytes(raw[16..20].try_into().ok()?),
        frame: u32::from_be_bytes(raw[20..24].try_into().ok()?),
        sent_ns: u64::from_be_bytes(raw[24..32].try_into().ok()?),
    })
}

/// Whether an RTP H.264 payload starts an IDR picture (single NAL, STAP-A or FU-A start).
pub fn starts_keyframe(payload: &[u8]) -> bool {
    let Some(&header) = payload.first() else {
        return false;
    };
    match header & 0x1F {
        5 => true,
        24 => {
            let mut at = 1;
            while at + 2 < payload.len() {
                let len = usize::from(u16::from_be_bytes([payload[at], payload[at + 1]]));
                if payload.get(at + 2).is_some_and(|h| h & 0x1F == 5) {
                    return true;
                }
                at += 2 + len;
            }
            false
        }
        28 => payload
            .get(1)
            .is_some_and(|fu| fu & 0x80 != 0 && fu & 0x1F == 5),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_read_back_even_when_they_need_escaping() {
        // 00 00 00 01 inside the send time must be escaped, or it would end the NAL unit.
        let stamp = Stamp {
            camera: 3,
            frame: 0x0000_0100,
            sent_ns: 0x0000_0001_0000_0000,
        };
        let payload = stamp_payload(stamp);
        assert!(
            !payload
                .windows(3)
                .any(|w| w[0] == 0 && w[1] == 0 && w[2] <= 2)
        );
        assert_eq!(read_stamp(&payload), Some(stamp));
        assert!(!starts_keyframe(&payload));
        assert_eq!(read_stamp(&[0x65, 1, 2, 3]), None);
    }

    #[test]
    fn keyframes_are_found_in_their_packets() {
        let mut idr = vec![0, 0, 0, 1, 0x65];
        idr.extend(std::iter::repeat_n(7u8, 3000));
        let mut payloader = rtc::rtp::codec::h264::H264Payloader::default();
        let payloads = payloader
            .payload(RTP_PAYLOAD_SIZE, &Bytes::from(idr))
            .unwrap();
        assert!(payloads.len() >= 3);
        assert!(starts_keyframe(&payloads[0]));
        assert!(payloads[1..].iter().all(|p| !starts_keyframe(p)));
    }
}
