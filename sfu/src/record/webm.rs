//! A WebM (Matroska) writer for recordings of VP8 cameras, which MP4 players would not take.
//!
//! While a session runs the file is *streamed*: the EBML header, a Segment of unknown size with
//! `Info` and `Tracks`, then one `Cluster` (of known size) per fragment, each starting at a video
//! keyframe. That is playable as it grows and after a crash. When the recording ends,
//! [`finalize`] rewrites it into a seekable file: a `SeekHead`, `Info` with the `Duration`, the
//! same tracks and clusters, and `Cues` pointing at every cluster.

use super::mp4::TrackRun;

const EBML: u32 = 0x1A45_DFA3;
const SEGMENT: u32 = 0x1853_8067;
const SEEK_HEAD: u32 = 0x114D_9B74;
const SEEK: u32 = 0x4DBB;
const SEEK_ID: u32 = 0x53AB;
const SEEK_POSITION: u32 = 0x53AC;
const INFO: u32 = 0x1549_A966;
const TIMESTAMP_SCALE: u32 = 0x2A_D7B1;
const DURATION: u32 = 0x4489;
const MUXING_APP: u32 = 0x4D80;
const WRITING_APP: u32 = 0x5741;
const TRACKS: u32 = 0x1654_AE6B;
const TRACK_ENTRY: u32 = 0xAE;
const TRACK_NUMBER: u32 = 0xD7;
const TRACK_UID: u32 = 0x73C5;
const TRACK_TYPE: u32 = 0x83;
const CODEC_ID: u32 = 0x86;
const CODEC_PRIVATE: u32 = 0x63A2;
const CODEC_DELAY: u32 = 0x56AA;
const SEEK_PRE_ROLL: u32 = 0x56BB;
const NAME: u32 = 0x536E;
const VIDEO: u32 = 0xE0;
const PIXEL_WIDTH: u32 = 0xB0;
const PIXEL_HEIGHT: u32 = 0xBA;
const AUDIO: u32 = 0xE1;
const SAMPLING_FREQUENCY: u32 = 0xB5;
const CHANNELS: u32 = 0x9F;
const CLUSTER: u32 = 0x1F43_B675;
const TIMESTAMP: u32 = 0xE7;
const SIMPLE_BLOCK: u32 = 0xA3;
const CUES: u32 = 0x1C53_BB6B;
const CUE_POINT: u32 = 0xBB;
const CUE_TIME: u32 = 0xB3;
const CUE_TRACK_POSITIONS: u32 = 0xB7;
const CUE_TRACK: u32 = 0xF7;
const CUE_CLUSTER_POSITION: u32 = 0xF1;

/// The size field of an element whose size is not known yet (a growing Segment).
const UNKNOWN_SIZE: [u8; 8] = [0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];
/// Blocks carry a signed 16-bit offset from their cluster's time: keep well inside it.
const MAX_CLUSTER_SPAN_MS: u64 = 30_000;

/// A track of the file.
#[derive(Clone, Debug)]
pub struct WebmTrack {
    pub number: u64,
    pub name: &'static str,
    pub kind: WebmTrackKind,
    /// Ticks per second of the samples' times (90 000 video, 48 000 audio).
    pub rate: u64,
}

#[derive(Clone, Debug)]
pub enum WebmTrackKind {
    Vp8 { width: u16, height: u16 },
    Opus { channels: u8 },
}

fn put_id(out: &mut Vec<u8>, id: u32) {
    let bytes = id.to_be_bytes();
    let skip = bytes.iter().position(|b| *b != 0).unwrap_or(3);
    out.extend_from_slice(&bytes[skip..]);
}

/// A size as an EBML variable-length integer, in the fewest bytes (never the all-ones value).
fn put_size(out: &mut Vec<u8>, size: u64) {
    let mut len = 1;
    while len < 8 && size >= (1u64 << (7 * len)) - 1 {
        len += 1;
    }
    let marked = size | (1u64 << (7 * len));
    out.extend_from_slice(&marked.to_be_bytes()[8 - len..]);
}

fn put_element(out: &mut Vec<u8>, id: u32, body: &[u8]) {
    put_id(out, id);
    put_size(out, body.len() as u64);
    out.extend_from_slice(body);
}

fn put_master(out: &mut Vec<u8>, id: u32, fill: impl FnOnce(&mut Vec<u8>)) {
    let mut body = Vec::new();
    fill(&mut body);
    put_element(out, id, &body);
}

fn put_uint(out: &mut Vec<u8>, id: u32, value: u64) {
    let bytes = value.to_be_bytes();
    let skip = bytes.iter().position(|b| *b != 0).unwrap_or(7);
    put_element(out, id, &bytes[skip..]);
}

/// An unsigned integer always 8 bytes long (so an element's size does not depend on its value).
fn put_uint8(out: &mut Vec<u8>, id: u32, value: u64) {
    put_element(out, id, &value.to_be_bytes());
}

fn put_float(out: &mut Vec<u8>, id: u32, value: f64) {
    put_element(out, id, &value.to_be_bytes());
}

fn put_string(out: &mut Vec<u8>, id: u32, value: &str) {
    put_element(out, id, value.as_bytes());
}

fn ebml_header(out: &mut Vec<u8>) {
    put_master(out, EBML, |e| {
        put_uint(e, 0x4286, 1); // EBMLVersion
        put_uint(e, 0x42F7, 1); // EBMLReadVersion
        put_uint(e, 0x42F2, 4); // EBMLMaxIDLength
        put_uint(e, 0x42F3, 8); // EBMLMaxSizeLength
        put_string(e, 0x4282, "webm"); // DocType
        put_uint(e, 0x4287, 4); // DocTypeVersion
        put_uint(e, 0x4285, 2); // DocTypeReadVersion
    });
}

fn info(out: &mut Vec<u8>, duration_ms: Option<f64>) {
    put_master(out, INFO, |i| {
        put_uint(i, TIMESTAMP_SCALE, 1_000_000); // 1 ms
        if let Some(duration) = duration_ms {
            put_float(i, DURATION, duration);
        }
        put_string(i, MUXING_APP, "remote-assist");
        put_string(i, WRITING_APP, "remote-assist");
    });
}

/// The `OpusHead` identification header that Matroska carries as Opus's CodecPrivate.
fn opus_head(channels: u8) -> Vec<u8> {
    let mut head = b"OpusHead".to_vec();
    head.push(1); // version
    head.push(channels);
    head.extend_from_slice(&312u16.to_le_bytes()); // pre-skip (browsers' encoder delay)
    head.extend_from_slice(&48_000u32.to_le_bytes());
    head.extend_from_slice(&0u16.to_le_bytes()); // output gain
    head.push(0); // mapping family
    head
}

fn tracks(out: &mut Vec<u8>, tracks: &[WebmTrack]) {
    put_master(out, TRACKS, |t| {
        for track in tracks {
            put_master(t, TRACK_ENTRY, |e| {
                put_uint(e, TRACK_NUMBER, track.number);
                put_uint(e, TRACK_UID, track.number);
                put_string(e, NAME, track.name);
                match &track.kind {
                    WebmTrackKind::Vp8 { width, height } => {
                        put_uint(e, TRACK_TYPE, 1);
                        put_string(e, CODEC_ID, "V_VP8");
                        put_master(e, VIDEO, |v| {
                            put_uint(v, PIXEL_WIDTH, u64::from(*width));
                            put_uint(v, PIXEL_HEIGHT, u64::from(*height));
                        });
                    }
                    WebmTrackKind::Opus { channels } => {
                        put_uint(e, TRACK_TYPE, 2);
                        put_string(e, CODEC_ID, "A_OPUS");
                        put_element(e, CODEC_PRIVATE, &opus_head(*channels));
                        put_uint(e, CODEC_DELAY, 6_500_000); // 312 samples, in ns
                        put_uint(e, SEEK_PRE_ROLL, 80_000_000);
                        put_master(e, AUDIO, |a| {
                            put_float(a, SAMPLING_FREQUENCY, 48_000.0);
                            put_uint(a, CHANNELS, u64::from(*channels));
                        });
                    }
                }
            });
        }
    });
}

/// The start of a streamed file: EBML header, Segment of unknown size, Info, Tracks.
pub fn header(list: &[WebmTrack]) -> Vec<u8> {
    let mut out = Vec::new();
    ebml_header(&mut out);
    put_id(&mut out, SEGMENT);
    out.extend_from_slice(&UNKNOWN_SIZE);
    info(&mut out, None);
    tracks(&mut out, list);
    out
}

/// One fragment as clusters: every sample of the runs as a SimpleBlock, in time order.
pub fn clusters(list: &[WebmTrack], runs: &[TrackRun]) -> Vec<u8> {
    // (time in ms, track number, keyframe, data)
    let mut blocks: Vec<(u64, u64, bool, &[u8])> = Vec::new();
    for run in runs {
        let Some(track) = list.iter().find(|t| t.number == u64::from(run.track_id)) else {
            continue;
        };
        let mut at = run.base_time;
        for sample in &run.samples {
            let ms = at * 1000 / track.rate;
            let keyframe = sample.keyframe || matches!(track.kind, WebmTrackKind::Opus { .. });
            blocks.push((ms, track.number, keyframe, &sample.data));
            at += u64::from(sample.duration);
        }
    }
    blocks.sort_by_key(|(ms, track, _, _)| (*ms, *track));
    let mut out = Vec::new();
    let mut start = 0;
    while start < blocks.len() {
        let base = blocks[start].0;
        let end = blocks[start..]
            .iter()
            .position(|(ms, ..)| ms - base > MAX_CLUSTER_SPAN_MS)
            .map_or(blocks.len(), |n| start + n);
        put_master(&mut out, CLUSTER, |c| {
            put_uint(c, TIMESTAMP, base);
            for (ms, track, keyframe, data) in &blocks[start..end] {
                let mut block = Vec::with_capacity(data.len() + 4);
                put_size(&mut block, *track);
                block.extend_from_slice(&((ms - base) as i16).to_be_bytes());
                block.push(if *keyframe { 0x80 } else { 0x00 });
                block.extend_from_slice(data);
                put_element(c, SIMPLE_BLOCK, &block);
            }
        });
        start = end;
    }
    out
}

/// Why a streamed file could not be finalized.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WebmError {
    #[error("not a WebM file written by this server")]
    NotOurs,
    #[error("the file is cut short inside an element at byte {0}")]
    Truncated(usize),
}

/// Reads an element ID at `at`: (id, length in bytes).
fn read_id(data: &[u8], at: usize) -> Option<(u32, usize)> {
    let first = *data.get(at)?;
    let len = (first.leading_zeros() + 1) as usize;
    if len > 4 {
        return None;
    }
    let bytes = data.get(at..at + len)?;
    Some((
        bytes.iter().fold(0u32, |v, b| (v << 8) | u32::from(*b)),
        len,
    ))
}

/// Reads an element size at `at`: (size, or `None` when unknown; length in bytes).
fn read_size(data: &[u8], at: usize) -> Option<(Option<u64>, usize)> {
    let first = *data.get(at)?;
    let len = (first.leading_zeros() + 1) as usize;
    if len > 8 {
        return None;
    }
    let bytes = data.get(at..at + len)?;
    let mut value = u64::from(first) & ((1u64 << (8 - len)) - 1);
    for b in &bytes[1..] {
        value = (value << 8) | u64::from(*b);
    }
    let all_ones = (1u64 << (7 * len)) - 1;
    Some(((value != all_ones).then_some(value), len))
}

/// (id, start of body, end of body) of the element at `at`.
fn element(data: &[u8], at: usize) -> Result<(u32, usize, usize), WebmError> {
    let (id, id_len) = read_id(data, at).ok_or(WebmError::Truncated(at))?;
    let (size, size_len) = read_size(data, at + id_len).ok_or(WebmError::Truncated(at))?;
    let body = at + id_len + size_len;
    let end = match size {
        Some(size) => body
            .checked_add(usize::try_from(size).map_err(|_| WebmError::Truncated(at))?)
            .filter(|end| *end <= data.len())
            .ok_or(WebmError::Truncated(at))?,
        None => data.len(),
    };
    Ok((id, body, end))
}

fn read_uint(body: &[u8]) -> u64 {
    body.iter()
        .take(8)
        .fold(0u64, |v, b| (v << 8) | u64::from(*b))
}

/// What finalizing needs to know of one cluster.
struct ClusterInfo {
    /// Offset of the cluster within the old Segment's data.
    old_offset: usize,
    time_ms: u64,
    /// The cluster begins with a video keyframe (a place to seek to).
    starts_with_keyframe: bool,
    /// Whether any block of the cluster is video (track 1).
    has_video: bool,
}

/// Rewrites a streamed recording into its seekable final form (see the module docs). A cluster
/// cut short by a crash at the end is left out.
pub fn finalize(streamed: &[u8]) -> Result<Vec<u8>, WebmError> {
    let (id, _, header_end) = element(streamed, 0)?;
    if id != EBML {
        return Err(WebmError::NotOurs);
    }
    let (id, segment_start, segment_end) = element(streamed, header_end)?;
    if id != SEGMENT {
        return Err(WebmError::NotOurs);
    }
    let mut tracks_bytes: Option<&[u8]> = None;
    let mut clusters: Vec<ClusterInfo> = Vec::new();
    let mut body = Vec::new(); // the clusters, copied
    let mut last_ms = 0u64;
    let mut at = segment_start;
    while at < segment_end {
        let Ok((id, start, end)) = element(streamed, at) else {
            break; // a torn last element
        };
        match id {
            TRACKS => tracks_bytes = Some(&streamed[at..end]),
            CLUSTER => {
                let mut info = ClusterInfo {
                    old_offset: body.len(),
                    time_ms: 0,
                    starts_with_keyframe: false,
                    has_video: false,
                };
                let mut child = start;
                while child < end {
                    let (cid, cstart, cend) = element(streamed, child)?;
                    let value = &streamed[cstart..cend];
                    match cid {
                        TIMESTAMP => info.time_ms = read_uint(value),
                        SIMPLE_BLOCK if value.len() >= 4 => {
                            let track = value[0] & 0x7F;
                            let relative = i16::from_be_bytes([value[1], value[2]]);
                            let time = info.time_ms.saturating_add_signed(i64::from(relative));
                            last_ms = last_ms.max(time);
                            if track == 1 {
                                if !info.has_video {
                                    info.starts_with_keyframe = value[3] & 0x80 != 0;
                                }
                                info.has_video = true;
                            }
                        }
                        _ => {}
                    }
                    child = cend;
                }
                body.extend_from_slice(&streamed[at..end]);
                clusters.push(info);
            }
            _ => {} // Info is rebuilt; anything else is not ours and is dropped
        }
        at = end;
    }
    let tracks_bytes = tracks_bytes.ok_or(WebmError::NotOurs)?;
    // Blocks have no duration of their own: add a typical frame's worth to the last one.
    let duration = if clusters.is_empty() {
        0.0
    } else {
        (last_ms + 20) as f64
    };

    let mut info_bytes = Vec::new();
    info(&mut info_bytes, Some(duration));
    // The SeekHead's size does not depend on the positions (8-byte positions), so lay it out
    // with zeros first and fill it in once the positions are known.
    let seek_head = |positions: [u64; 3]| {
        let mut out = Vec::new();
        put_master(&mut out, SEEK_HEAD, |s| {
            for (id, position) in [INFO, TRACKS, CUES].into_iter().zip(positions) {
                put_master(s, SEEK, |e| {
                    let mut id_bytes = Vec::new();
                    put_id(&mut id_bytes, id);
                    put_element(e, SEEK_ID, &id_bytes);
                    put_uint8(e, SEEK_POSITION, position);
                });
            }
        });
        out
    };
    let head_len = seek_head([0; 3]).len();
    let info_at = head_len as u64;
    let tracks_at = info_at + info_bytes.len() as u64;
    let clusters_at = tracks_at + tracks_bytes.len() as u64;
    let cues_at = clusters_at + body.len() as u64;
    let mut cues = Vec::new();
    put_master(&mut cues, CUES, |c| {
        for cluster in &clusters {
            // Seek targets: clusters that start with a picture, or any cluster of an audio-only
            // recording.
            if cluster.has_video && !cluster.starts_with_keyframe {
                continue;
            }
            put_master(c, CUE_POINT, |p| {
                put_uint(p, CUE_TIME, cluster.time_ms);
                put_master(p, CUE_TRACK_POSITIONS, |t| {
                    put_uint(t, CUE_TRACK, if cluster.has_video { 1 } else { 2 });
                    put_uint(
                        t,
                        CUE_CLUSTER_POSITION,
                        clusters_at + cluster.old_offset as u64,
                    );
                });
            });
        }
    });

    let mut segment = seek_head([info_at, tracks_at, cues_at]);
    segment.extend_from_slice(&info_bytes);
    segment.extend_from_slice(tracks_bytes);
    segment.extend_from_slice(&body);
    segment.extend_from_slice(&cues);
    let mut out = streamed[..header_end].to_vec();
    put_id(&mut out, SEGMENT);
    put_size(&mut out, segment.len() as u64);
    out.extend_from_slice(&segment);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::mp4::Sample;
    use super::*;

    #[test]
    fn sizes_are_minimal_variable_length_integers() {
        let enc = |v| {
            let mut o = Vec::new();
            put_size(&mut o, v);
            o
        };
        assert_eq!(enc(0), vec![0x80]);
        assert_eq!(enc(126), vec![0xFE]);
        assert_eq!(enc(127), vec![0x40, 0x7F], "0x7F alone would mean unknown");
        assert_eq!(enc(300), vec![0x41, 0x2C]);
        for v in [
            0u64,
            1,
            126,
            127,
            128,
            16_382,
            16_383,
            1 << 30,
            (1 << 40) + 5,
        ] {
            let bytes = enc(v);
            assert_eq!(read_size(&bytes, 0), Some((Some(v), bytes.len())), "{v}");
        }
        assert_eq!(read_size(&UNKNOWN_SIZE, 0), Some((None, 8)));
    }

    #[test]
    fn a_torn_file_is_refused_or_cut_at_the_last_whole_cluster() {
        let list = [WebmTrack {
            number: 2,
            name: "audio",
            kind: WebmTrackKind::Opus { channels: 2 },
            rate: 48_000,
        }];
        let mut file = header(&list);
        let run = |base| TrackRun {
            track_id: 2,
            base_time: base,
            samples: vec![
                Sample {
                    duration: 960,
                    keyframe: true,
                    data: vec![0xF8; 40]
                };
                50
            ],
        };
        file.extend(clusters(&list, &[run(0)]));
        let whole = file.len();
        file.extend(clusters(&list, &[run(48_000)]));
        let final_all = finalize(&file).unwrap();
        let final_cut = finalize(&file[..whole + 30]).unwrap();
        assert!(final_cut.len() < final_all.len());
        assert!(finalize(b"not webm").is_err());
        for cut in [0, 3, 10, 40] {
            let _ = finalize(&file[..cut]);
        }
    }
}
