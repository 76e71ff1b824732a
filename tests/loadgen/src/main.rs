//! remote-assist-loadgen: realistic load over real WebRTC (DTLS-SRTP) against remote-assist or
//! Janus VideoRoom, on loopback.
//!
//! A room is four cameras publishing a real H.264 clip (640x480, ~1 Mbit/s, 30 fps, keyframe
//! every 2 s) with Opus, and one supporter receiving all four and sending Opus back to each.
//! Against remote-assist the peers use the server's own signaling, as the browsers do; against
//! Janus they use its WebSocket API. The run measures loss (gaps in what subscribers receive),
//! added one-way delay per frame (send time in an SEI message, arrival from the kernel's receive
//! timestamp at the subscriber's socket), jitter, join → first packet and
//! first keyframe, and the SFU process's CPU and memory from `/proc`.
//!
//! Subcommands: `provision` (accounts for N rooms through the admin CLI), `run` (one measured
//! run, JSON result), `smoke` (the test suite's check: its own server, 2 rooms, 10 s, no loss),
//! `cycles` (memory over join/leave cycles) and `relay` (the do-nothing relay of the bench's
//! floor).
//! Every wait is bounded; a run stops by itself.

mod janus;
mod media;
mod ours;
mod peers;
mod relay;
mod stats;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use clap::{Parser, Subcommand};
use tokio::sync::watch;

use crate::ours::RoomAccounts;
use crate::peers::{SentCounters, Shared};
use crate::stats::{Collected, RunResult, sample_process};

#[derive(Parser)]
#[command(
    name = "remote-assist-loadgen",
    about = "Load generator for remote-assist and Janus"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Creates the accounts of N rooms with the server's admin CLI (before the server starts).
    Provision {
        #[arg(long)]
        bin: PathBuf,
        #[arg(long)]
        data_dir: PathBuf,
        #[arg(long)]
        rooms: usize,
        #[arg(long)]
        out: PathBuf,
    },
    /// One measured run.
    Run {
        /// `ours` or `janus`.
        #[arg(long)]
        target: String,
        /// remote-assist: HTTPS address (127.0.0.1:PORT); Janus: WebSocket URL.
        #[arg(long)]
        address: String,
        /// remote-assist accounts from `provision`.
        #[arg(long)]
        accounts: Option<PathBuf>,
        #[arg(long)]
        rooms: usize,
        /// Measured seconds (after the warm-up).
        #[arg(long, default_value_t = 20)]
        seconds: u64,
        #[arg(long, default_value_t = 3)]
        warmup: u64,
        /// The SFU's process ID, for CPU and memory.
        #[arg(long)]
        pid: u32,
        /// Janus: rooms record into this directory (`record=true`).
        #[arg(long)]
        janus_record_dir: Option<String>,
        /// Only noted in the result (the server's recording is switched by its configuration).
        #[arg(long)]
        recording: bool,
        #[arg(long)]
        out: Option<PathBuf>,
        /// Janus room numbers start here (each run uses fresh rooms).
        #[arg(long, default_value_t = 1000)]
        first_room: u64,
        /// Bind the load generator's peers to this address (default 127.0.0.1), e.g. the
        /// address of a network namespace's interface where Janus gathers its candidates.
        #[arg(long)]
        peer_ip: Option<std::net::IpAddr>,
    },
    /// Memory over many sessions: N times, a camera comes online, a supporter connects it and
    /// receives video, then both leave. Reports the server's PSS after the first `warm` cycles
    /// and at the end.
    Cycles {
        #[arg(long)]
        address: String,
        #[arg(long)]
        accounts: PathBuf,
        #[arg(long, default_value_t = 1000)]
        cycles: usize,
        #[arg(long, default_value_t = 100)]
        warm: usize,
        #[arg(long)]
        pid: u32,
        #[arg(long)]
        peer_ip: Option<std::net::IpAddr>,
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// The test suite's correctness check: starts the server binary, 2 rooms for 10 s; fails
    /// on any loss or a missing track.
    Smoke {
        #[arg(long)]
        bin: PathBuf,
    },
    /// The floor under the added delay: sends every datagram received on `bind` to `to` and
    /// does nothing else, until the datagram `stop` (`floor.py` starts and times it).
    Relay {
        #[arg(long)]
        bind: std::net::SocketAddr,
        #[arg(long)]
        to: std::net::SocketAddr,
    },
}

fn cache_dir() -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir)
        .join("remote-assist")
        .join("loadgen")
}

/// Runs the admin CLI; its standard output.
fn admin(
    bin: &Path,
    data_dir: &Path,
    args: &[&str],
    stdin: Option<&str>,
) -> anyhow::Result<String> {
    use std::io::Write;
    let mut child = Command::new(bin)
        .arg("--data-dir")
        .arg(data_dir)
        .arg("admin")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .context("stdin")?
            .write_all(input.as_bytes())?;
    }
    drop(child.stdin.take());
    let out = child.wait_with_output()?;
    ensure!(
        out.status.success(),
        "admin {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8(out.stdout)?)
}

fn provision(bin: &Path, data_dir: &Path, rooms: usize) -> anyhow::Result<Vec<RoomAccounts>> {
    admin(bin, data_dir, &["create-group", "bench"], None)?;
    let mut out = Vec::new();
    for room in 0..rooms {
        let login = format!("bench-{room}");
        let password = format!("Bench-pass-{room}-2026");
        admin(
            bin,
            data_dir,
            &[
                "create-user",
                "--login-id",
                &login,
                "--display-name",
                &login,
                "--role",
                "supporter",
                "--group",
                "bench",
            ],
            Some(&format!("{password}\n")),
        )?;
        // A reset forces a change at next login; a created user's first password is theirs.
        let mut cameras = Vec::new();
        for camera in 0..4 {
            let line = admin(
                bin,
                data_dir,
                &[
                    "create-device",
                    "--group",
                    "bench",
                    "--name",
                    &format!("r{room}c{camera}"),
                ],
                None,
            )?;
            let (id, credential) = line.trim().split_once(' ').context("id and credential")?;
            cameras.push((id.to_owned(), credential.to_owned()));
        }
        out.push(RoomAccounts {
            supporter_login: login,
            supporter_password: password,
            cameras,
        });
    }
    Ok(out)
}

struct Run {
    target: String,
    address: String,
    accounts: Vec<RoomAccounts>,
    rooms: usize,
    seconds: u64,
    warmup: u64,
    pid: u32,
    janus_record_dir: Option<String>,
    recording: bool,
    first_room: u64,
}

/// Sets up every room, lets it run for the warm-up and the measured window, stops all peers and
/// sums up.
async fn run(config: Run) -> anyhow::Result<RunResult> {
    let clip = Arc::new(media::load(&cache_dir())?);
    let epoch = Instant::now();
    let sent = Arc::new(SentCounters::default());
    let (stop_tx, stop) = watch::channel(false);
    let shared = || Shared {
        clip: clip.clone(),
        epoch,
        sent: sent.clone(),
        stop: stop.clone(),
    };
    let joined: Arc<std::sync::Mutex<HashMap<u32, Instant>>> = Default::default();
    let mut tasks: Vec<tokio::task::JoinHandle<Collected>> = Vec::new();
    let always = watch::channel(true).1;
    let mut signals = Vec::new();
    for room in 0..config.rooms {
        let indexes: Vec<u32> = (0..4).map(|c| (room * 4 + c) as u32).collect();
        match config.target.as_str() {
            "ours" => {
                let accounts = config
                    .accounts
                    .get(room)
                    .with_context(|| format!("no accounts for room {room}: provision more"))?;
                for (camera, index) in accounts.cameras.iter().zip(&indexes) {
                    let cam = ours::camera(&config.address, &camera.0, &camera.1).await?;
                    signals.push(cam.signal);
                    // Cameras stream from the start (as Janus publishers do); the SFU forwards
                    // once the supporter connects them.
                    tasks.push(tokio::spawn(peers::run_camera(
                        cam.peer,
                        *index,
                        true,
                        always.clone(),
                        shared(),
                    )));
                }
                let (view, signal) =
                    ours::supporter(&config.address, accounts, &indexes, joined.clone()).await?;
                signals.push(signal);
                tasks.push(tokio::spawn(peers::run_subscriber(
                    view,
                    true,
                    joined.clone(),
                    shared(),
                )));
            }
            "janus" => {
                let built = janus::room(
                    &config.address,
                    config.first_room + room as u64,
                    &indexes,
                    config.janus_record_dir.as_deref(),
                    joined.clone(),
                )
                .await?;
                for (camera, index) in built.cameras.into_iter().zip(&indexes) {
                    tasks.push(tokio::spawn(peers::run_camera(
                        camera,
                        *index,
                        true,
                        always.clone(),
                        shared(),
                    )));
                }
                for ear in built.camera_ears {
                    tasks.push(tokio::spawn(peers::run_subscriber(
                        ear,
                        false,
                        joined.clone(),
                        shared(),
                    )));
                }
                tasks.push(tokio::spawn(peers::run_camera(
                    built.supporter_mic,
                    u32::MAX,
                    false,
                    always.clone(),
                    shared(),
                )));
                tasks.push(tokio::spawn(peers::run_subscriber(
                    built.supporter_view,
                    false,
                    joined.clone(),
                    shared(),
                )));
            }
            other => bail!("unknown target {other:?} (ours or janus)"),
        }
    }
    tokio::time::sleep(Duration::from_secs(config.warmup)).await;
    let metrics_before = server_metrics(&config).await;
    let before = sample_process(config.pid)?;
    let ourselves_before = sample_process(std::process::id())?;
    let sent_before = (
        sent.packets.load(std::sync::atomic::Ordering::Relaxed),
        sent.bytes.load(std::sync::atomic::Ordering::Relaxed),
    );
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(config.seconds)).await;
    let after = sample_process(config.pid)?;
    let ourselves_after = sample_process(std::process::id())?;
    let window = started.elapsed();
    let metrics_after = server_metrics(&config).await;
    let _ = stop_tx.send(true);
    drop(signals);
    let mut all = Collected::default();
    for task in tasks {
        all.merge(tokio::time::timeout(Duration::from_secs(10), task).await??);
    }
    let sent_after = (
        sent.packets.load(std::sync::atomic::Ordering::Relaxed),
        sent.bytes.load(std::sync::atomic::Ordering::Relaxed),
    );
    let mut result = RunResult::from_collected(
        &config.target,
        config.rooms,
        config.recording,
        all,
        window,
        (before, after),
        (sent_after.0 - sent_before.0, sent_after.1 - sent_before.1),
    );
    result.loadgen_cpu_percent = (ourselves_after.cpu_seconds - ourselves_before.cpu_seconds)
        * 100.0
        / window.as_secs_f64().max(0.001);
    if let (Some(before), Some(after)) = (metrics_before, metrics_after) {
        let quantile = |name: &str, q: f64| {
            stats::histogram_quantile(
                &stats::histogram_buckets(&before, name),
                &stats::histogram_buckets(&after, name),
                q,
            )
        };
        result.server_wait_p50_us = quantile("ra_media_receive_wait_seconds", 0.5);
        result.server_wait_p99_us = quantile("ra_media_receive_wait_seconds", 0.99);
        result.server_handling_p50_us = quantile("ra_media_datagram_handling_seconds", 0.5);
        result.server_handling_p99_us = quantile("ra_media_datagram_handling_seconds", 0.99);
    }
    Ok(result)
}

/// Our server's `/metrics` (None for Janus, or when it cannot be read: the run's other
/// figures stand without it).
async fn server_metrics(config: &Run) -> Option<String> {
    if config.target != "ours" {
        return None;
    }
    match ours::metrics(&config.address).await {
        Ok(text) => Some(text),
        Err(error) => {
            eprintln!("warning: {error:#}");
            None
        }
    }
}

#[derive(serde::Serialize)]
struct CycleResult {
    cycles: usize,
    warm: usize,
    pss_kb_after_warm: u64,
    pss_kb_at_end: u64,
    growth_percent: f64,
    /// PSS every `SAMPLE_EVERY` cycles after the warm-up: (cycles done, kB).
    pss_kb_samples: Vec<(usize, u64)>,
    /// The least-squares trend through those samples over the cycles after the warm-up, in
    /// percent of the PSS after the warm-up: a leak shows here as a steady slope, where two
    /// samples alone cannot tell it from the allocator's ups and downs.
    trend_percent: f64,
    seconds: f64,
}

/// How often the join/leave cycles sample the server's memory.
const SAMPLE_EVERY: usize = 100;

/// Least-squares slope of `samples` (x, y), in y per x.
fn slope(samples: &[(usize, u64)]) -> f64 {
    let n = samples.len() as f64;
    if samples.len() < 2 {
        return 0.0;
    }
    let mean_x = samples.iter().map(|(x, _)| *x as f64).sum::<f64>() / n;
    let mean_y = samples.iter().map(|(_, y)| *y as f64).sum::<f64>() / n;
    let (mut covariance, mut variance) = (0.0, 0.0);
    for (x, y) in samples {
        covariance += (*x as f64 - mean_x) * (*y as f64 - mean_y);
        variance += (*x as f64 - mean_x).powi(2);
    }
    if variance == 0.0 {
        0.0
    } else {
        covariance / variance
    }
}

/// One camera and one supporter, `cycles` times: join, first video packet, leave.
async fn join_leave_cycles(
    address: &str,
    room: &RoomAccounts,
    cycles: usize,
    warm: usize,
    pid: u32,
) -> anyhow::Result<CycleResult> {
    let clip = Arc::new(media::load(&cache_dir())?);
    let one = RoomAccounts {
        supporter_login: room.supporter_login.clone(),
        supporter_password: room.supporter_password.clone(),
        cameras: room.cameras[..1].to_vec(),
    };
    let started = Instant::now();
    let mut after_warm = None;
    let mut samples = Vec::new();
    for cycle in 0..cycles {
        let ours::Camera {
            peer: mut camera,
            signal: camera_signal,
        } = ours::camera(address, &one.cameras[0].0, &one.cameras[0].1).await?;
        let joined: Arc<std::sync::Mutex<HashMap<u32, Instant>>> = Default::default();
        let (mut view, view_signal) = ours::supporter(address, &one, &[0], joined).await?;
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut ts = 0u32;
        let mut frame = 0usize;
        while view.video_packets().is_empty() {
            ensure!(
                Instant::now() < deadline,
                "cycle {cycle}: no video reached the supporter"
            );
            camera.send_h264_payloads(clip.video_payloads[frame].clone(), ts);
            frame = (frame + 1) % clip.video_payloads.len();
            ts = ts.wrapping_add(3000);
            camera.pump(Duration::from_millis(10)).await;
            view.pump(Duration::from_millis(10)).await;
        }
        // Leaving: the peers and their signaling connections go (as a closed tab does).
        drop((view, view_signal, camera, camera_signal));
        let done = cycle + 1;
        if done >= warm && (done - warm) % SAMPLE_EVERY == 0 && done < cycles {
            // Let the server notice the departures before measuring.
            tokio::time::sleep(Duration::from_secs(2)).await;
            let pss = sample_process(pid)?.pss_kb;
            after_warm.get_or_insert(pss);
            samples.push((done, pss));
        }
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let end = sample_process(pid)?.pss_kb;
    samples.push((cycles, end));
    let warm_pss = after_warm.unwrap_or(end);
    let trend = slope(&samples) * cycles.saturating_sub(warm) as f64;
    Ok(CycleResult {
        cycles,
        warm,
        pss_kb_after_warm: warm_pss,
        pss_kb_at_end: end,
        growth_percent: (end as f64 - warm_pss as f64) * 100.0 / warm_pss.max(1) as f64,
        trend_percent: trend * 100.0 / warm_pss.max(1) as f64,
        pss_kb_samples: samples,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Starts our server on a fresh data directory; (child, HTTPS address).
fn start_ours(bin: &Path, data_dir: &Path) -> anyhow::Result<(std::process::Child, String)> {
    use std::io::BufRead;
    let mut child = Command::new(bin)
        .args(["serve", "--data-dir"])
        .arg(data_dir)
        .args(["--listen", "127.0.0.1:0", "--media-port", "0"])
        .env("RA_LOG_LEVEL", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let stdout = child.stdout.take().context("stdout")?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if let Some(url) = line.strip_prefix("listening on https://") {
                let _ = tx.send(url.to_owned());
            }
        }
    });
    let address = rx
        .recv_timeout(Duration::from_secs(60))
        .context("the server did not start")?;
    Ok((child, address))
}

async fn smoke(bin: &Path) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let accounts = provision(bin, dir.path(), 2)?;
    let (mut child, address) = start_ours(bin, dir.path())?;
    let result = run(Run {
        target: "ours".into(),
        address,
        accounts,
        rooms: 2,
        seconds: 10,
        warmup: 2,
        pid: child.id(),
        janus_record_dir: None,
        recording: true,
        first_room: 1,
    })
    .await;
    let _ = child.kill();
    let _ = child.wait();
    let result = result?;
    println!("{}", serde_json::to_string_pretty(&result)?);
    ensure!(
        result.video_streams == 8,
        "{} of 8 video tracks received",
        result.video_streams
    );
    ensure!(
        result.video_packets_received > 2 * 4 * 10 * 30,
        "too few video packets: {}",
        result.video_packets_received
    );
    ensure!(
        result.video_packets_missing == 0 && result.audio_packets_missing == 0,
        "loss on loopback: {} video, {} audio packets",
        result.video_packets_missing,
        result.audio_packets_missing
    );
    // Supporter voice to 8 cameras and camera audio to 2 supporters: 16 audio streams.
    ensure!(result.audio_packets_received > 0, "no audio received");
    ensure!(
        !result.join_first_keyframe_p50_ms.is_nan(),
        "no keyframe arrived after a join"
    );
    // The server's own share of the delay was read from its /metrics over the window.
    ensure!(
        result.server_handling_p50_us.is_some() && result.server_wait_p50_us.is_some(),
        "the server's delay histograms were not read from /metrics"
    );
    println!("smoke: ok");
    Ok(())
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Cmd::Provision {
            bin,
            data_dir,
            rooms,
            out,
        } => {
            let accounts = provision(&bin, &data_dir, rooms)?;
            std::fs::write(out, serde_json::to_vec_pretty(&accounts)?)?;
        }
        Cmd::Run {
            target,
            address,
            accounts,
            rooms,
            seconds,
            warmup,
            pid,
            janus_record_dir,
            recording,
            out,
            first_room,
            peer_ip,
        } => {
            if let Some(ip) = peer_ip {
                remote_assist_sfu::test_client::bind_peers_to(ip);
            }
            let accounts = match accounts {
                Some(path) => serde_json::from_slice(&std::fs::read(path)?)?,
                None => Vec::new(),
            };
            let result = run(Run {
                target,
                address,
                accounts,
                rooms,
                seconds,
                warmup,
                pid,
                janus_record_dir,
                recording,
                first_room,
            })
            .await?;
            let json = serde_json::to_string_pretty(&result)?;
            match out {
                Some(path) => std::fs::write(path, json)?,
                None => println!("{json}"),
            }
        }
        Cmd::Smoke { bin } => smoke(&bin).await?,
        Cmd::Relay { bind, to } => {
            let relayed = relay::relay(bind, to)?;
            eprintln!("relay: {relayed} datagrams");
        }
        Cmd::Cycles {
            address,
            accounts,
            cycles,
            warm,
            pid,
            peer_ip,
            out,
        } => {
            if let Some(ip) = peer_ip {
                remote_assist_sfu::test_client::bind_peers_to(ip);
            }
            let accounts: Vec<RoomAccounts> = serde_json::from_slice(&std::fs::read(accounts)?)?;
            let result = join_leave_cycles(&address, &accounts[0], cycles, warm, pid).await?;
            let json = serde_json::to_string_pretty(&result)?;
            match out {
                Some(path) => std::fs::write(path, json)?,
                None => println!("{json}"),
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::slope;

    #[test]
    fn slope_is_the_least_squares_trend() {
        assert_eq!(slope(&[(100, 1000), (200, 1100), (300, 1200)]), 1.0);
        // Ups and downs around a flat line have no trend, a steady rise has.
        assert_eq!(
            slope(&[
                (100, 1000),
                (200, 1100),
                (300, 900),
                (400, 1100),
                (500, 1000)
            ]),
            0.0
        );
        assert_eq!(
            slope(&[
                (100, 1000),
                (200, 1000),
                (300, 1000),
                (400, 1000),
                (500, 1400)
            ]),
            0.8
        );
        assert_eq!(slope(&[(100, 1000)]), 0.0);
    }
}
