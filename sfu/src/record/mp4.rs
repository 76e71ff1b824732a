//! A fragmented-MP4 writer for recordings: an init segment (`ftyp` + `moov`) followed by
//! `moof`/`mdat` fragments, readable while the file is still growing.
//!
//! Video is H.264 in an `avc3` sample entry: parameter sets travel in-band with every keyframe,
//! so a resolution change mid-recording (a new SPS) needs no new init segment. Audio is Opus
//! (`Opus` sample entry with `dOps`, as in the Opus-in-ISOBMFF specification).

/// What a track carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TrackKind {
    /// H.264; `sps`/`pps` of the first keyframe go into `avcC`.
    H264 {
        width: u16,
        height: u16,
        sps: Vec<u8>,
        pps: Vec<u8>,
    },
    Opus {
        channels: u8,
    },
}

#[derive(Clone, Debug)]
pub struct TrackSpec {
    pub id: u32,
    pub kind: TrackKind,
    pub timescale: u32,
}

/// One sample of a fragment.
#[derive(Clone, Debug)]
pub struct Sample {
    pub duration: u32,
    pub keyframe: bool,
    pub data: Vec<u8>,
}

/// Samples of one track in one fragment, starting at `base_time` (track timescale).
#[derive(Clone, Debug)]
pub struct TrackRun {
    pub track_id: u32,
    pub base_time: u64,
    pub samples: Vec<Sample>,
}

fn put_box(out: &mut Vec<u8>, kind: &[u8; 4], body: impl FnOnce(&mut Vec<u8>)) {
    let start = out.len();
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(kind);
    body(out);
    let size = (out.len() - start) as u32;
    out[start..start + 4].copy_from_slice(&size.to_be_bytes());
}

fn put_full_box(
    out: &mut Vec<u8>,
    kind: &[u8; 4],
    version: u8,
    flags: u32,
    body: impl FnOnce(&mut Vec<u8>),
) {
    put_box(out, kind, |out| {
        out.push(version);
        out.extend_from_slice(&flags.to_be_bytes()[1..]);
        body(out);
    });
}

fn u16be(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_be_bytes());
}
fn u32be(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_be_bytes());
}
fn u64be(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_be_bytes());
}

const IDENTITY_MATRIX: [u32; 9] = [0x0001_0000, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000];

/// The init segment: `ftyp` and `moov` with one `trak` per track and `mvex`.
pub fn init_segment(tracks: &[TrackSpec]) -> Vec<u8> {
    let mut out = Vec::new();
    put_box(&mut out, b"ftyp", |o| {
        o.extend_from_slice(b"isom");
        u32be(o, 0x200);
        for brand in [b"isom", b"iso6", b"mp41", b"avc1"] {
            o.extend_from_slice(brand);
        }
    });
    put_box(&mut out, b"moov", |o| {
        put_full_box(o, b"mvhd", 0, 0, |o| {
            u32be(o, 0); // creation
            u32be(o, 0); // modification
            u32be(o, 1000); // timescale
            u32be(o, 0); // duration: unknown (fragmented)
            u32be(o, 0x0001_0000); // rate
            u16be(o, 0x0100); // volume
            o.extend_from_slice(&[0; 10]);
            for v in IDENTITY_MATRIX {
                u32be(o, v);
            }
            o.extend_from_slice(&[0; 24]);
            u32be(o, tracks.iter().map(|t| t.id).max().unwrap_or(0) + 1);
        });
        for track in tracks {
            trak(o, track);
        }
        put_box(o, b"mvex", |o| {
            for track in tracks {
                put_full_box(o, b"trex", 0, 0, |o| {
                    u32be(o, track.id);
                    u32be(o, 1); // sample description index
                    u32be(o, 0);
                    u32be(o, 0);
                    u32be(o, 0);
                });
            }
        });
    });
    out
}

fn trak(o: &mut Vec<u8>, track: &TrackSpec) {
    let (is_video, width, height) = match &track.kind {
        TrackKind::H264 { width, height, .. } => (true, *width, *height),
        TrackKind::Opus { .. } => (false, 0, 0),
    };
    put_box(o, b"trak", |o| {
        put_full_box(o, b"tkhd", 0, 0x3, |o| {
            u32be(o, 0);
            u32be(o, 0);
            u32be(o, track.id);
            u32be(o, 0);
            u32be(o, 0); // duration
            o.extend_from_slice(&[0; 8]);
            u16be(o, 0); // layer
            u16be(o, if is_video { 0 } else { 1 }); // alternate group
            u16be(o, if is_video { 0 } else { 0x0100 }); // volume
            u16be(o, 0);
            for v in IDENTITY_MATRIX {
                u32be(o, v);
            }
            u32be(o, u32::from(width) << 16);
            u32be(o, u32::from(height) << 16);
        });
        put_box(o, b"mdia", |o| {
            put_full_box(o, b"mdhd", 0, 0, |o| {
                u32be(o, 0);
                u32be(o, 0);
                u32be(o, track.timescale);
                u32be(o, 0);
                u16be(o, 0x55C4); // language "und"
                u16be(o, 0);
            });
            put_full_box(o, b"hdlr", 0, 0, |o| {
                u32be(o, 0);
                o.extend_from_slice(if is_video { b"vide" } else { b"soun" });
                o.extend_from_slice(&[0; 12]);
                o.extend_from_slice(if is_video {
                    b"VideoHandler\0".as_slice()
                } else {
                    b"SoundHandler\0".as_slice()
                });
            });
            put_box(o, b"minf", |o| {
                if is_video {
                    put_full_box(o, b"vmhd", 0, 1, |o| o.extend_from_slice(&[0; 8]));
                } else {
                    put_full_box(o, b"smhd", 0, 0, |o| o.extend_from_slice(&[0; 4]));
                }
                put_box(o, b"dinf", |o| {
                    put_full_box(o, b"dref", 0, 0, |o| {
                        u32be(o, 1);
                        put_full_box(o, b"url ", 0, 1, |_| {});
                    });
                });
                put_box(o, b"stbl", |o| {
                    put_full_box(o, b"stsd", 0, 0, |o| {
                        u32be(o, 1);
                        sample_entry(o, &track.kind);
                    });
                    for kind in [b"stts", b"stsc", b"stco"] {
                        put_full_box(o, kind, 0, 0, |o| u32be(o, 0));
                    }
                    put_full_box(o, b"stsz", 0, 0, |o| {
                        u32be(o, 0);
                        u32be(o, 0);
                    });
                });
            });
        });
    });
}

fn sample_entry(o: &mut Vec<u8>, kind: &TrackKind) {
    match kind {
        TrackKind::H264 {
            width,
            height,
            sps,
            pps,
        } => put_box(o, b"avc3", |o| {
            o.extend_from_slice(&[0; 6]);
            u16be(o, 1); // data reference index
            o.extend_from_slice(&[0; 16]);
            u16be(o, *width);
            u16be(o, *height);
            u32be(o, 0x0048_0000);
            u32be(o, 0x0048_0000);
            u32be(o, 0);
            u16be(o, 1); // frame count
            o.extend_from_slice(&[0; 32]); // compressor name
            u16be(o, 0x0018);
            u16be(o, 0xFFFF);
            put_box(o, b"avcC", |o| {
                o.push(1);
                o.push(sps.get(1).copied().unwrap_or(0x42));
                o.push(sps.get(2).copied().unwrap_or(0xE0));
                o.push(sps.get(3).copied().unwrap_or(0x1F));
                o.push(0xFF); // 4-byte NAL lengths
                o.push(0xE1); // one SPS
                u16be(o, sps.len() as u16);
                o.extend_from_slice(sps);
                o.push(1); // one PPS
                u16be(o, pps.len() as u16);
                o.extend_from_slice(pps);
            });
        }),
        TrackKind::Opus { channels } => put_box(o, b"Opus", |o| {
            o.extend_from_slice(&[0; 6]);
            u16be(o, 1);
            o.extend_from_slice(&[0; 8]);
            u16be(o, u16::from(*channels));
            u16be(o, 16);
            u16be(o, 0);
            u16be(o, 0);
            u32be(o, 48_000 << 16);
            put_box(o, b"dOps", |o| {
                o.push(0); // version
                o.push(*channels);
                u16be(o, 312); // pre-skip
                u32be(o, 48_000);
                u16be(o, 0); // output gain
                o.push(0); // channel mapping family
            });
        }),
    }
}

const KEYFRAME_FLAGS: u32 = 0x0200_0000;
const NON_KEYFRAME_FLAGS: u32 = 0x0101_0000;

/// One `moof` + `mdat` holding every run (runs with no samples are left out).
pub fn fragment(sequence: u32, runs: &[TrackRun]) -> Vec<u8> {
    let runs: Vec<&TrackRun> = runs.iter().filter(|r| !r.samples.is_empty()).collect();
    let mut moof = Vec::new();
    // Where each run's data_offset field is, to patch once the moof size is known.
    let mut offset_fields = Vec::new();
    put_box(&mut moof, b"moof", |o| {
        put_full_box(o, b"mfhd", 0, 0, |o| u32be(o, sequence));
        for run in &runs {
            put_box(o, b"traf", |o| {
                // default-base-is-moof
                put_full_box(o, b"tfhd", 0, 0x02_0000, |o| u32be(o, run.track_id));
                put_full_box(o, b"tfdt", 1, 0, |o| u64be(o, run.base_time));
                // data-offset, sample duration, size and flags present
                put_full_box(o, b"trun", 0, 0x0701, |o| {
                    u32be(o, run.samples.len() as u32);
                    offset_fields.push(o.len());
                    u32be(o, 0);
                    for s in &run.samples {
                        u32be(o, s.duration);
                        u32be(o, s.data.len() as u32);
                        u32be(
                            o,
                            if s.keyframe {
                                KEYFRAME_FLAGS
                            } else {
                                NON_KEYFRAME_FLAGS
                            },
                        );
                    }
                });
            });
        }
    });
    let moof_len = moof.len();
    let mut data_start = moof_len + 8; // after the mdat header
    for (field, run) in offset_fields.iter().zip(&runs) {
        moof[*field..*field + 4].copy_from_slice(&(data_start as u32).to_be_bytes());
        data_start += run.samples.iter().map(|s| s.data.len()).sum::<usize>();
    }
    let mut out = moof;
    put_box(&mut out, b"mdat", |o| {
        for run in &runs {
            for s in &run.samples {
                o.extend_from_slice(&s.data);
            }
        }
    });
    out
}
