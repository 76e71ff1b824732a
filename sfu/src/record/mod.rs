//! Recording taps: RTP of one camera (its video and audio) and of the supporter's voice, muxed
//! without transcoding while the session runs: into fragmented MP4 for H.264 cameras, into WebM
//! for VP8 cameras (which MP4 players would not take). The first video packet decides.
//!
//! The [`Recorder`] is sans-I/O like the rest of the SFU: feed it packets with their arrival
//! time, take finished bytes from [`Recorder::poll_output`] (the init segment first, then one
//! `moof`/`mdat` fragment about every [`FRAGMENT_TARGET_SECS`] seconds, each starting at a video
//! keyframe), and call [`Recorder::finish`] at the end. All tracks share one timeline anchored at
//! the recording's start, so they stay in sync even when a source reconnects (new SSRC, new
//! timestamp base) or a resolution changes (new SPS, carried in-band).

pub mod h264;
pub mod mp4;
pub mod vp8;
pub mod webm;

use std::collections::VecDeque;
use std::time::Instant;

use h264::{AccessUnit, H264Assembler, NAL_PPS, NAL_SPS, TimestampUnwrapper, sps_dimensions};
use mp4::{Sample, TrackKind, TrackRun, TrackSpec};
use vp8::{Vp8Assembler, Vp8Frame, keyframe_dimensions};
use webm::{WebmTrack, WebmTrackKind};

/// Fragments are cut at the first keyframe after this many seconds.
pub const FRAGMENT_TARGET_SECS: u64 = 2;
/// Audio waiting for the first video keyframe is kept at most this long; after that the
/// recording starts without video.
const MAX_WAIT_FOR_VIDEO_SECS: u64 = 10;

const VIDEO_TRACK: u32 = 1;
const CAMERA_AUDIO_TRACK: u32 = 2;
const SUPPORTER_AUDIO_TRACK: u32 = 3;
const VIDEO_RATE: u64 = 90_000;
const AUDIO_RATE: u64 = 48_000;

/// Which stream a packet belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    /// The camera's H.264 video.
    CameraVideo,
    /// The camera's VP8 video.
    CameraVideoVp8,
    CameraAudio,
    SupporterAudio,
}

/// The file format of a recording.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Container {
    /// Fragmented MP4 (H.264 + Opus), and audio-only recordings.
    Mp4,
    /// WebM (VP8 + Opus): streamed while recording, [`webm::finalize`]d at the end.
    Webm,
}

/// Maps one source's RTP timestamps onto the recording's timeline.
#[derive(Debug)]
struct SourceClock {
    ssrc: u32,
    unwrap: TimestampUnwrapper,
    first_rtp: u64,
    first_at: u64,
}

/// One track's timeline and the samples waiting to go into a fragment.
#[derive(Debug)]
struct TrackState {
    rate: u64,
    source: Option<SourceClock>,
    /// (start time, sample); the newest one's duration is only known when the next arrives.
    queued: VecDeque<(u64, Sample)>,
    last: Option<(u64, Sample)>,
    /// End of the last sample handed to a fragment (timeline stays monotonic).
    written_until: u64,
    samples_written: u64,
}

impl TrackState {
    fn new(rate: u64) -> Self {
        Self {
            rate,
            source: None,
            queued: VecDeque::new(),
            last: None,
            written_until: 0,
            samples_written: 0,
        }
    }

    /// The timeline position of an RTP timestamp from `ssrc`, arriving `elapsed_ticks` after the
    /// recording started. A new SSRC starts where the wall clock says, never before what was
    /// already recorded.
    fn time_of(&mut self, ssrc: u32, rtp_ts: u32, elapsed_ticks: u64) -> u64 {
        if self.source.as_ref().is_none_or(|s| s.ssrc != ssrc) {
            let floor = self
                .last
                .as_ref()
                .map_or(self.written_until, |(t, _)| t + 1);
            let mut unwrap = TimestampUnwrapper::default();
            let first_rtp = unwrap.unwrap(rtp_ts);
            self.source = Some(SourceClock {
                ssrc,
                unwrap,
                first_rtp,
                first_at: elapsed_ticks.max(floor),
            });
        }
        let source = self.source.as_mut().expect("set above");
        let ext = source.unwrap.unwrap(rtp_ts);
        source.first_at + ext.saturating_sub(source.first_rtp)
    }

    /// Adds a sample at `time`; the previous one gets its duration.
    fn add(&mut self, time: u64, sample: Sample, default_duration: u32) {
        if let Some((t, mut prev)) = self.last.take() {
            let gap = time.saturating_sub(t);
            // Long gaps (a pause, a reconnect) keep the previous sample's natural length.
            prev.duration = if gap > 0 && gap < self.rate * 2 {
                gap as u32
            } else {
                prev.duration.max(1)
            };
            self.queued.push_back((t, prev));
        }
        let mut sample = sample;
        sample.duration = default_duration;
        self.last = Some((time, sample));
    }

    /// Takes the queued samples that start before `until` (all of them when `None`).
    fn take_run(&mut self, track_id: u32, until: Option<u64>, include_last: bool) -> TrackRun {
        if include_last && let Some(last) = self.last.take() {
            self.queued.push_back(last);
        }
        let mut samples = Vec::new();
        let mut base = None;
        while let Some((t, _)) = self.queued.front() {
            if until.is_some_and(|u| *t >= u) {
                break;
            }
            let (t, s) = self.queued.pop_front().expect("peeked");
            // Keep the timeline monotonic: decode time = max(start, end of what was written).
            let start = t.max(self.written_until);
            if base.is_none() {
                base = Some(start);
            }
            self.written_until = start + u64::from(s.duration);
            self.samples_written += 1;
            samples.push(s);
        }
        TrackRun {
            track_id,
            base_time: base.unwrap_or(self.written_until),
            samples,
        }
    }
}

/// Counters of one recording.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RecorderStats {
    pub video_frames: u64,
    pub video_frames_dropped: u64,
    pub audio_packets: u64,
    pub fragments: u64,
    pub bytes: u64,
}

pub struct Recorder {
    started: Instant,
    video: TrackState,
    camera_audio: TrackState,
    supporter_audio: TrackState,
    assembler: H264Assembler,
    video_ssrc: Option<u32>,
    sps: Option<Vec<u8>>,
    pps: Option<Vec<u8>>,
    /// Set once the init segment is out; whether it has a video track.
    initialized: Option<bool>,
    fragment_start: Option<u64>,
    sequence: u32,
    output: VecDeque<Vec<u8>>,
    stats: RecorderStats,
    /// When the last video keyframe arrived, and when one was last asked for.
    last_keyframe: Option<Instant>,
    last_keyframe_ask: Option<Instant>,
    /// Decided by the first video frame (or MP4 for an audio-only recording).
    container: Option<Container>,
    vp8: Vp8Assembler,
    /// VP8 picture size from the first keyframe (WebM track header).
    vp8_size: Option<(u16, u16)>,
}

/// A keyframe is asked for at most this often while one is overdue.
const KEYFRAME_ASK_INTERVAL_MS: u64 = 1000;

fn opus_duration(toc_and_more: &[u8]) -> u32 {
    let Some(&toc) = toc_and_more.first() else {
        return 960;
    };
    let config = toc >> 3;
    let frame = match config {
        0..=11 => [480, 960, 1920, 2880][usize::from(config % 4)],
        12..=15 => [480, 960][usize::from(config % 2)],
        _ => [120, 240, 480, 960][usize::from(config % 4)],
    };
    let frames = match toc & 3 {
        0 => 1,
        1 | 2 => 2,
        _ => u32::from(toc_and_more.get(1).map_or(1, |b| (b & 0x3F).max(1))),
    };
    frame * frames
}

fn to_avcc(nals: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(nals.iter().map(|n| n.len() + 4).sum());
    for nal in nals {
        out.extend_from_slice(&(nal.len() as u32).to_be_bytes());
        out.extend_from_slice(nal);
    }
    out
}

impl Recorder {
    pub fn new(started: Instant) -> Self {
        Self {
            started,
            video: TrackState::new(VIDEO_RATE),
            camera_audio: TrackState::new(AUDIO_RATE),
            supporter_audio: TrackState::new(AUDIO_RATE),
            assembler: H264Assembler::new(),
            video_ssrc: None,
            sps: None,
            pps: None,
            initialized: None,
            fragment_start: None,
            sequence: 1,
            output: VecDeque::new(),
            stats: RecorderStats::default(),
            last_keyframe: None,
            last_keyframe_ask: None,
            container: None,
            vp8: Vp8Assembler::new(),
            vp8_size: None,
        }
    }

    /// The file format, once the first video frame (or the audio-only timeout) decided it.
    pub fn container(&self) -> Option<Container> {
        self.container
    }

    /// Whether the camera should be asked for a keyframe now: the last one is older than a
    /// fragment, so the next fragment could not start on time (browsers send keyframes rarely
    /// on their own, which would make fragments — and what a crash can lose — minutes long).
    /// Answers `true` at most once per second while that lasts.
    pub fn keyframe_due(&mut self, at: Instant) -> bool {
        let Some(last) = self.last_keyframe else {
            return false;
        };
        let overdue = at.saturating_duration_since(last).as_secs() >= FRAGMENT_TARGET_SECS;
        let asked_recently = self.last_keyframe_ask.is_some_and(|asked| {
            at.saturating_duration_since(asked).as_millis() < u128::from(KEYFRAME_ASK_INTERVAL_MS)
        });
        if overdue && !asked_recently {
            self.last_keyframe_ask = Some(at);
            return true;
        }
        false
    }

    pub fn stats(&self) -> RecorderStats {
        self.stats
    }

    fn ticks_since_start(&self, at: Instant, rate: u64) -> u64 {
        let elapsed = at.saturating_duration_since(self.started);
        (elapsed.as_secs_f64() * rate as f64) as u64
    }

    /// Feeds one RTP packet of `stream`.
    pub fn push(&mut self, stream: Stream, packet: &rtc::rtp::Packet, at: Instant) {
        let h = &packet.header;
        match stream {
            Stream::CameraVideoVp8 => {
                if self.video_ssrc != Some(h.ssrc) {
                    self.vp8.reset();
                    self.video_ssrc = Some(h.ssrc);
                }
                let elapsed = self.ticks_since_start(at, VIDEO_RATE);
                let frames =
                    self.vp8
                        .push(h.sequence_number, h.timestamp, h.marker, &packet.payload);
                for frame in frames {
                    if frame.keyframe {
                        self.last_keyframe = Some(at);
                    }
                    self.vp8_frame(h.ssrc, frame, elapsed);
                }
                self.stats.video_frames_dropped =
                    self.assembler.frames_dropped + self.vp8.frames_dropped;
            }
            Stream::CameraVideo => {
                if self.video_ssrc != Some(h.ssrc) {
                    // A reconnected camera: nothing of the old source is combined with the new.
                    self.assembler.reset();
                    self.video_ssrc = Some(h.ssrc);
                }
                let elapsed = self.ticks_since_start(at, VIDEO_RATE);
                let units =
                    self.assembler
                        .push(h.sequence_number, h.timestamp, h.marker, &packet.payload);
                for unit in units {
                    if unit.keyframe {
                        self.last_keyframe = Some(at);
                    }
                    self.video_frame(h.ssrc, unit, elapsed);
                }
                self.stats.video_frames_dropped = self.assembler.frames_dropped;
            }
            Stream::CameraAudio | Stream::SupporterAudio => {
                if packet.payload.is_empty() {
                    return;
                }
                let elapsed = self.ticks_since_start(at, AUDIO_RATE);
                let track = if stream == Stream::CameraAudio {
                    &mut self.camera_audio
                } else {
                    &mut self.supporter_audio
                };
                let time = track.time_of(h.ssrc, h.timestamp, elapsed);
                let duration = opus_duration(&packet.payload);
                track.add(
                    time,
                    Sample {
                        duration,
                        keyframe: true,
                        data: packet.payload.to_vec(),
                    },
                    duration,
                );
                self.stats.audio_packets += 1;
                if self.initialized.is_none() && elapsed > MAX_WAIT_FOR_VIDEO_SECS * AUDIO_RATE {
                    self.write_init(false);
                }
                if self.initialized == Some(false) {
                    self.maybe_cut_audio_only();
                }
            }
        }
    }

    fn vp8_frame(&mut self, ssrc: u32, frame: Vp8Frame, elapsed: u64) {
        if self.container == Some(Container::Mp4) {
            // An H.264 file cannot take VP8 (a camera that came back with the other codec).
            self.stats.video_frames_dropped += 1;
            return;
        }
        let time = self.video.time_of(ssrc, frame.timestamp as u32, elapsed);
        if frame.keyframe {
            if self.initialized.is_none() {
                self.vp8_size = keyframe_dimensions(&frame.data);
                self.container = Some(Container::Webm);
                self.write_init(true);
                self.fragment_start = Some(time);
            } else if self.initialized == Some(true)
                && self
                    .fragment_start
                    .is_some_and(|s| time.saturating_sub(s) >= FRAGMENT_TARGET_SECS * VIDEO_RATE)
            {
                self.cut(Some(time));
                self.fragment_start = Some(time);
            }
        }
        if self.initialized != Some(true) {
            return;
        }
        self.video.add(
            time,
            Sample {
                duration: 3000,
                keyframe: frame.keyframe,
                data: frame.data,
            },
            3000,
        );
        self.stats.video_frames += 1;
    }

    fn video_frame(&mut self, ssrc: u32, unit: AccessUnit, elapsed: u64) {
        if self.container == Some(Container::Webm) {
            self.stats.video_frames_dropped += 1;
            return;
        }
        let mut nals = unit.nals;
        for nal in &nals {
            match nal.first().map(|h| h & 0x1F) {
                Some(NAL_SPS) => self.sps = Some(nal.clone()),
                Some(NAL_PPS) => self.pps = Some(nal.clone()),
                _ => {}
            }
        }
        if unit.keyframe {
            // avc3: parameter sets in-band with every keyframe, even if the sender sent them
            // earlier (a player may start at any fragment).
            let has = |nals: &[Vec<u8>], t| {
                nals.iter()
                    .any(|n| n.first().is_some_and(|h| h & 0x1F == t))
            };
            if !has(&nals, NAL_PPS)
                && let Some(pps) = &self.pps
            {
                nals.insert(0, pps.clone());
            }
            if !has(&nals, NAL_SPS)
                && let Some(sps) = &self.sps
            {
                nals.insert(0, sps.clone());
            }
        }
        // Access unit delimiters carry nothing a container needs.
        nals.retain(|n| n.first().is_some_and(|h| h & 0x1F != 9));
        let time = self.video.time_of(ssrc, unit.timestamp as u32, elapsed);
        if unit.keyframe {
            if self.initialized.is_none() && self.sps.is_some() && self.pps.is_some() {
                self.container = Some(Container::Mp4);
                self.write_init(true);
                self.fragment_start = Some(time);
                // Audio from before the first picture starts the recording too.
            } else if self.initialized == Some(true)
                && self
                    .fragment_start
                    .is_some_and(|s| time.saturating_sub(s) >= FRAGMENT_TARGET_SECS * VIDEO_RATE)
            {
                self.cut(Some(time));
                self.fragment_start = Some(time);
            }
        }
        if self.initialized != Some(true) {
            return; // before the first keyframe, or an audio-only recording
        }
        self.video.add(
            time,
            Sample {
                duration: 3000,
                keyframe: unit.keyframe,
                data: to_avcc(&nals),
            },
            3000,
        );
        self.stats.video_frames += 1;
    }

    /// The WebM tracks: VP8 video (when recorded), the camera's voice, the supporter's voice.
    fn webm_tracks(&self) -> Vec<WebmTrack> {
        let mut list = Vec::new();
        if self.initialized == Some(true) {
            let (width, height) = self.vp8_size.unwrap_or((640, 480));
            list.push(WebmTrack {
                number: u64::from(VIDEO_TRACK),
                name: "camera",
                kind: WebmTrackKind::Vp8 { width, height },
                rate: VIDEO_RATE,
            });
        }
        for (id, name) in [
            (CAMERA_AUDIO_TRACK, "camera audio"),
            (SUPPORTER_AUDIO_TRACK, "supporter voice"),
        ] {
            list.push(WebmTrack {
                number: u64::from(id),
                name,
                kind: WebmTrackKind::Opus { channels: 2 },
                rate: AUDIO_RATE,
            });
        }
        list
    }

    /// One fragment in the recording's format.
    fn fragment_bytes(&self, runs: &[TrackRun]) -> Vec<u8> {
        match self.container {
            Some(Container::Webm) => webm::clusters(&self.webm_tracks(), runs),
            _ => mp4::fragment(self.sequence, runs),
        }
    }

    fn write_init(&mut self, with_video: bool) {
        if self.container == Some(Container::Webm) {
            self.initialized = Some(with_video);
            let init = webm::header(&self.webm_tracks());
            self.stats.bytes += init.len() as u64;
            self.output.push_back(init);
            return;
        }
        self.container = Some(Container::Mp4);
        let mut tracks = Vec::new();
        if with_video {
            let sps = self.sps.clone().unwrap_or_default();
            let (width, height) = sps_dimensions(&sps).unwrap_or((640, 480));
            tracks.push(TrackSpec {
                id: VIDEO_TRACK,
                kind: TrackKind::H264 {
                    width,
                    height,
                    sps,
                    pps: self.pps.clone().unwrap_or_default(),
                },
                timescale: VIDEO_RATE as u32,
            });
        }
        for id in [CAMERA_AUDIO_TRACK, SUPPORTER_AUDIO_TRACK] {
            tracks.push(TrackSpec {
                id,
                kind: TrackKind::Opus { channels: 2 },
                timescale: AUDIO_RATE as u32,
            });
        }
        let init = mp4::init_segment(&tracks);
        self.stats.bytes += init.len() as u64;
        self.output.push_back(init);
        self.initialized = Some(with_video);
    }

    fn maybe_cut_audio_only(&mut self) {
        let start = *self
            .fragment_start
            .get_or_insert(self.camera_audio.written_until);
        let newest = self
            .camera_audio
            .last
            .as_ref()
            .map_or(0, |(t, _)| *t)
            .max(self.supporter_audio.last.as_ref().map_or(0, |(t, _)| *t));
        if newest.saturating_sub(start) >= FRAGMENT_TARGET_SECS * AUDIO_RATE {
            self.cut(None);
            self.fragment_start = Some(newest);
        }
    }

    /// Writes a fragment with everything before `video_cut` (a keyframe's time; audio is cut at
    /// the same instant), or everything queued when `None`.
    fn cut(&mut self, video_cut: Option<u64>) {
        let audio_cut = video_cut.map(|t| t * AUDIO_RATE / VIDEO_RATE);
        let mut runs = Vec::new();
        if self.initialized == Some(true) {
            runs.push(self.video.take_run(VIDEO_TRACK, video_cut, false));
        }
        runs.push(
            self.camera_audio
                .take_run(CAMERA_AUDIO_TRACK, audio_cut, false),
        );
        runs.push(
            self.supporter_audio
                .take_run(SUPPORTER_AUDIO_TRACK, audio_cut, false),
        );
        if runs.iter().all(|r| r.samples.is_empty()) {
            return;
        }
        let fragment = self.fragment_bytes(&runs);
        self.sequence += 1;
        self.stats.fragments += 1;
        self.stats.bytes += fragment.len() as u64;
        self.output.push_back(fragment);
    }

    /// Finished bytes, in order: the init segment, then fragments.
    pub fn poll_output(&mut self) -> Option<Vec<u8>> {
        self.output.pop_front()
    }

    /// Ends the recording: everything still buffered goes into a last fragment.
    pub fn finish(&mut self) {
        let elapsed = self.ticks_since_start(Instant::now(), VIDEO_RATE);
        let ssrc = self.video_ssrc.unwrap_or(0);
        for unit in self.assembler.flush() {
            self.video_frame(ssrc, unit, elapsed);
        }
        for frame in self.vp8.flush() {
            self.vp8_frame(ssrc, frame, elapsed);
        }
        if self.initialized.is_none() {
            if self.camera_audio.last.is_none() && self.supporter_audio.last.is_none() {
                return; // nothing was ever recorded
            }
            self.write_init(false);
        }
        let with_video = self.initialized == Some(true);
        let mut runs = Vec::new();
        if with_video {
            runs.push(self.video.take_run(VIDEO_TRACK, None, true));
        }
        runs.push(self.camera_audio.take_run(CAMERA_AUDIO_TRACK, None, true));
        runs.push(
            self.supporter_audio
                .take_run(SUPPORTER_AUDIO_TRACK, None, true),
        );
        if runs.iter().any(|r| !r.samples.is_empty()) {
            let fragment = self.fragment_bytes(&runs);
            self.sequence += 1;
            self.stats.fragments += 1;
            self.stats.bytes += fragment.len() as u64;
            self.output.push_back(fragment);
        }
    }
}
