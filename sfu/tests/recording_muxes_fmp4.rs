//! RTP from real encoders (ffmpeg: H.264 constrained baseline, Opus) muxed into fragmented MP4
//! without transcoding, checked with ffprobe: codecs, duration, every frame decodable — also
//! with loss and reordering, sequence and timestamp wrap-around, and an SSRC change that brings
//! a new resolution (new SPS). A VP8 camera gets a WebM file instead, finalized into a seekable
//! one (duration and cues) at the end.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use remote_assist_sfu::record::{Container, Recorder, Stream, webm};
use rtc::rtp::packetizer::Payloader;
use serde_json::Value;

/// Opus packets (20 ms) of a sine tone, from an Ogg file made by ffmpeg.
fn opus_packets(seconds: u32, freq: u32) -> Vec<Bytes> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.ogg");
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-f", "lavfi", "-i"])
        .arg(format!("sine=frequency={freq}:duration={seconds}"))
        .args([
            "-ac",
            "2",
            "-c:a",
            "libopus",
            "-b:a",
            "48k",
            "-frame_duration",
            "20",
            "-f",
            "ogg",
        ])
        .arg(&path)
        .status()
        .unwrap();
    assert!(status.success());
    let data = std::fs::read(&path).unwrap();
    let mut packets = Vec::new();
    let mut current = Vec::new();
    let mut at = 0;
    while at + 27 <= data.len() && &data[at..at + 4] == b"OggS" {
        let segments = data[at + 26] as usize;
        let table = &data[at + 27..at + 27 + segments];
        let mut body = at + 27 + segments;
        for &lace in table {
            current.extend_from_slice(&data[body..body + lace as usize]);
            body += lace as usize;
            if lace < 255 {
                packets.push(Bytes::from(std::mem::take(&mut current)));
            }
        }
        at = body;
    }
    // Drop OpusHead and OpusTags.
    packets
        .into_iter()
        .filter(|p| !p.starts_with(b"Opus"))
        .collect()
}

/// RTP for a clip: (packet, send time offset). Video at 15 fps, audio every 20 ms.
struct Source {
    ssrc: u32,
    seq: u16,
    ts: u32,
}

fn video_rtp(units: &[Bytes], src: &mut Source) -> Vec<(Duration, rtc::rtp::Packet)> {
    payloaded_rtp(
        rtc::rtp::codec::h264::H264Payloader::default(),
        102,
        units,
        src,
    )
}

fn vp8_video_rtp(frames: &[Bytes], src: &mut Source) -> Vec<(Duration, rtc::rtp::Packet)> {
    payloaded_rtp(
        rtc::rtp::codec::vp8::Vp8Payloader::default(),
        96,
        frames,
        src,
    )
}

fn payloaded_rtp(
    mut payloader: impl Payloader,
    payload_type: u8,
    units: &[Bytes],
    src: &mut Source,
) -> Vec<(Duration, rtc::rtp::Packet)> {
    let mut out = Vec::new();
    for (i, unit) in units.iter().enumerate() {
        let at = Duration::from_millis(i as u64 * 1000 / 15);
        let payloads = payloader.payload(1100, unit).unwrap();
        let n = payloads.len();
        for (j, payload) in payloads.into_iter().enumerate() {
            src.seq = src.seq.wrapping_add(1);
            out.push((
                at,
                rtc::rtp::Packet {
                    header: rtc::rtp::header::Header {
                        version: 2,
                        marker: j + 1 == n,
                        payload_type,
                        sequence_number: src.seq,
                        timestamp: src.ts,
                        ssrc: src.ssrc,
                        ..Default::default()
                    },
                    payload,
                },
            ));
        }
        src.ts = src.ts.wrapping_add(6000);
    }
    out
}

fn audio_rtp(packets: &[Bytes], src: &mut Source) -> Vec<(Duration, rtc::rtp::Packet)> {
    packets
        .iter()
        .enumerate()
        .map(|(i, payload)| {
            src.seq = src.seq.wrapping_add(1);
            let p = rtc::rtp::Packet {
                header: rtc::rtp::header::Header {
                    version: 2,
                    payload_type: 111,
                    sequence_number: src.seq,
                    timestamp: src.ts,
                    ssrc: src.ssrc,
                    ..Default::default()
                },
                payload: payload.clone(),
            };
            src.ts = src.ts.wrapping_add(960);
            (Duration::from_millis(i as u64 * 20), p)
        })
        .collect()
}

fn record(
    start: Instant,
    streams: Vec<(Stream, Vec<(Duration, rtc::rtp::Packet)>)>,
    path: &Path,
) -> Recorder {
    let mut all: Vec<(Duration, Stream, rtc::rtp::Packet)> = streams
        .into_iter()
        .flat_map(|(s, packets)| packets.into_iter().map(move |(t, p)| (t, s, p)))
        .collect();
    all.sort_by_key(|(t, _, _)| *t);
    let mut recorder = Recorder::new(start);
    let mut file = Vec::new();
    for (t, stream, packet) in all {
        recorder.push(stream, &packet, start + t);
        while let Some(bytes) = recorder.poll_output() {
            file.extend_from_slice(&bytes);
        }
    }
    recorder.finish();
    while let Some(bytes) = recorder.poll_output() {
        file.extend_from_slice(&bytes);
    }
    std::fs::write(path, &file).unwrap();
    recorder
}

fn probe(path: &Path) -> Value {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-show_entries"])
        .args(["stream=codec_name,codec_type,width,height,nb_read_frames:format=duration"])
        .args(["-of", "json"])
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn frame_widths(path: &Path) -> Vec<u64> {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            "frame=width",
            "-of",
            "csv=p=0",
        ])
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// The recording's real length: the end of its last packet on the shared timeline (ffprobe's
/// format duration double-counts a stream's start offset in fragmented files).
fn media_end(path: &Path) -> f64 {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "packet=pts_time,duration_time",
            "-of",
            "csv=p=0",
        ])
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut parts = l.split(',');
            let pts: f64 = parts.next()?.parse().ok()?;
            let dur: f64 = parts.next().and_then(|d| d.parse().ok()).unwrap_or(0.02);
            Some(pts + dur)
        })
        .fold(0.0, f64::max)
}

fn video_frames(probe: &Value) -> u64 {
    probe["streams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["codec_type"] == "video")
        .and_then(|s| s["nb_read_frames"].as_str())
        .unwrap()
        .parse()
        .unwrap()
}

fn codecs(probe: &Value) -> Vec<String> {
    probe["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["codec_name"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn a_clean_session_becomes_a_playable_mp4() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rec.mp4");
    let units = h264_clip("640x480", 4, 30);
    let cam_audio = opus_packets(4, 440);
    let voice = opus_packets(4, 660);
    let start = Instant::now();
    let recorder = record(
        start,
        vec![
            (
                Stream::CameraVideo,
                video_rtp(
                    &units,
                    &mut Source {
                        ssrc: 1,
                        seq: 100,
                        ts: 5000,
                    },
                ),
            ),
            (
                Stream::CameraAudio,
                audio_rtp(
                    &cam_audio,
                    &mut Source {
                        ssrc: 2,
                        seq: 7,
                        ts: 9,
                    },
                ),
            ),
            (
                Stream::SupporterAudio,
                audio_rtp(
                    &voice,
                    &mut Source {
                        ssrc: 3,
                        seq: 40_000,
                        ts: 77,
                    },
                ),
            ),
        ],
        &path,
    );
    let probe = probe(&path);
    assert_eq!(codecs(&probe), vec!["h264", "opus", "opus"], "{probe}");
    assert!(
        (media_end(&path) - 4.0).abs() < 0.5,
        "duration {}",
        media_end(&path)
    );
    assert_eq!(
        video_frames(&probe),
        units.len() as u64,
        "every frame decodes"
    );
    let stats = recorder.stats();
    assert!(stats.fragments >= 2, "fragments of about 2 s: {stats:?}");
    // The file starts with the init segment and every fragment is a moof.
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(&bytes[4..8], b"ftyp");
}

#[test]
fn loss_and_reordering_leave_a_decodable_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rec.mp4");
    let units = h264_clip("640x480", 6, 15);
    let mut video = video_rtp(
        &units,
        &mut Source {
            ssrc: 1,
            seq: 1,
            ts: 0,
        },
    );
    // Swap neighbours every 7 packets and lose every 97th.
    for i in (0..video.len() - 1).step_by(7) {
        let (a, b) = (video[i].1.clone(), video[i + 1].1.clone());
        video[i].1 = b;
        video[i + 1].1 = a;
    }
    let sent = video.len();
    let video: Vec<_> = video
        .into_iter()
        .enumerate()
        .filter(|(i, _)| i % 97 != 50)
        .map(|(_, p)| p)
        .collect();
    assert!(video.len() < sent);
    let audio = opus_packets(6, 440);
    let voice = opus_packets(6, 660);
    let start = Instant::now();
    let recorder = record(
        start,
        vec![
            (Stream::CameraVideo, video),
            (
                Stream::CameraAudio,
                audio_rtp(
                    &audio,
                    &mut Source {
                        ssrc: 2,
                        seq: 1,
                        ts: 0,
                    },
                ),
            ),
            (
                Stream::SupporterAudio,
                audio_rtp(
                    &voice,
                    &mut Source {
                        ssrc: 3,
                        seq: 9,
                        ts: 0,
                    },
                ),
            ),
        ],
        &path,
    );
    let probe = probe(&path);
    let stats = recorder.stats();
    assert!(
        stats.video_frames_dropped > 0,
        "loss was exercised: {stats:?}"
    );
    assert_eq!(
        video_frames(&probe),
        stats.video_frames,
        "every written frame decodes"
    );
    assert!(stats.video_frames > units.len() as u64 / 3);
    assert!(
        (media_end(&path) - 6.0).abs() < 0.5,
        "duration {}",
        media_end(&path)
    );
}

#[test]
fn sequence_and_timestamp_wrap_around() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rec.mp4");
    let units = h264_clip("320x240", 4, 15);
    let audio = opus_packets(4, 440);
    let start = Instant::now();
    record(
        start,
        vec![
            (
                Stream::CameraVideo,
                video_rtp(
                    &units,
                    &mut Source {
                        ssrc: 1,
                        seq: 65_500,
                        ts: u32::MAX - 50_000,
                    },
                ),
            ),
            (
                Stream::CameraAudio,
                audio_rtp(
                    &audio,
                    &mut Source {
                        ssrc: 2,
                        seq: 65_530,
                        ts: u32::MAX - 20_000,
                    },
                ),
            ),
        ],
        &path,
    );
    let probe = probe(&path);
    assert_eq!(video_frames(&probe), units.len() as u64);
    assert!(
        (media_end(&path) - 4.0).abs() < 0.5,
        "duration {}",
        media_end(&path)
    );
}

#[test]
fn a_reconnect_with_a_new_resolution_continues_the_same_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rec.mp4");
    let first = h264_clip("640x480", 3, 15);
    let second = h264_clip("320x240", 3, 15);
    let mut video = video_rtp(
        &first,
        &mut Source {
            ssrc: 1,
            seq: 10,
            ts: 1000,
        },
    );
    // The phone reconnects 0.5 s later: new SSRC, new sequence and timestamp bases, new SPS.
    let offset = Duration::from_millis(3500);
    video.extend(
        video_rtp(
            &second,
            &mut Source {
                ssrc: 99,
                seq: 30_000,
                ts: 123_456_789,
            },
        )
        .into_iter()
        .map(|(t, p)| (t + offset, p)),
    );
    let start = Instant::now();
    let recorder = record(start, vec![(Stream::CameraVideo, video)], &path);
    let probe = probe(&path);
    let total = (first.len() + second.len()) as u64;
    assert_eq!(recorder.stats().video_frames, total);
    assert_eq!(video_frames(&probe), total, "both parts decode");
    let widths = frame_widths(&path);
    assert!(
        widths.contains(&640) && widths.contains(&320),
        "resolution changes in-band"
    );
    assert!(
        (media_end(&path) - 6.5).abs() < 0.5,
        "duration {}",
        media_end(&path)
    );
}

#[test]
fn a_vp8_camera_is_recorded_to_a_seekable_webm() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("streamed.webm");
    let frames = vp8_frames(6);
    let mut video = vp8_video_rtp(
        &frames,
        &mut Source {
            ssrc: 11,
            seq: 65_000, // wraps during the clip
            ts: 4_294_900_000,
        },
    );
    // A lost packet and a swapped pair: a short freeze, never a broken picture.
    video.remove(40);
    video.swap(60, 61);
    let start = Instant::now();
    let recorder = record(
        start,
        vec![
            (Stream::CameraVideoVp8, video),
            (
                Stream::CameraAudio,
                audio_rtp(
                    &opus_packets(6, 440),
                    &mut Source {
                        ssrc: 12,
                        seq: 1,
                        ts: 0,
                    },
                ),
            ),
            (
                Stream::SupporterAudio,
                audio_rtp(
                    &opus_packets(6, 660),
                    &mut Source {
                        ssrc: 13,
                        seq: 9,
                        ts: 5,
                    },
                ),
            ),
        ],
        &path,
    );
    assert_eq!(recorder.container(), Some(Container::Webm));
    let stats = recorder.stats();
    assert!(stats.fragments >= 2, "clusters of about 2 s: {stats:?}");
    assert!(
        stats.video_frames_dropped >= 1,
        "the loss was noticed: {stats:?}"
    );
    let streamed = std::fs::read(&path).unwrap();
    assert_eq!(&streamed[..4], &[0x1A, 0x45, 0xDF, 0xA3], "EBML");
    // Playable as it was streamed (what a crash would leave).
    let live = probe(&path);
    assert_eq!(codecs(&live), vec!["vp8", "opus", "opus"], "{live}");
    assert_eq!(
        video_frames(&live),
        stats.video_frames,
        "every kept frame decodes"
    );

    let finalized = webm::finalize(&streamed).unwrap();
    let final_path = dir.path().join("final.webm");
    std::fs::write(&final_path, &finalized).unwrap();
    let done = probe(&final_path);
    assert_eq!(codecs(&done), vec!["vp8", "opus", "opus"], "{done}");
    assert_eq!(video_frames(&done), stats.video_frames);
    let width = done["streams"][0]["width"].as_u64().unwrap();
    assert_eq!(width, 320);
    let duration: f64 = done["format"]["duration"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((duration - 6.0).abs() < 0.5, "duration {duration}");
    assert!(
        finalized.windows(4).any(|w| w == [0x1C, 0x53, 0xBB, 0x6B]),
        "a seek index (Cues)"
    );
    // Seeking lands on a picture.
    let seek = Command::new("ffmpeg")
        .args(["-v", "error", "-ss", "4", "-i"])
        .arg(&final_path)
        .args(["-frames:v", "1", "-f", "null", "-"])
        .output()
        .unwrap();
    assert!(
        seek.status.success(),
        "{}",
        String::from_utf8_lossy(&seek.stderr)
    );
    assert!(
        seek.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&seek.stderr)
    );
}
