//! The media worker asks for real-time scheduling: where the process may have it (root or
//! `CAP_SYS_NICE`, as in the test suite), the worker thread runs under `SCHED_RR` at the
//! configured priority and `/metrics` says so; where it may not, it runs normally and the
//! gauge says 0. Priority 0 leaves it alone.

use std::collections::HashSet;

use remote_assist_sfu::{SfuConfig, SfuHandle};

const SCHED_OTHER: u32 = 0;
const SCHED_RR: u32 = 2;

/// (thread id, scheduling policy, real-time priority) of every thread named `sfu-worker`.
fn sfu_workers() -> Vec<(String, u32, u32)> {
    let mut out = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap() {
        let task = task.unwrap().path();
        let Ok(comm) = std::fs::read_to_string(task.join("comm")) else {
            continue;
        };
        if comm.trim() != "sfu-worker" {
            continue;
        }
        let stat = std::fs::read_to_string(task.join("stat")).unwrap();
        // Fields after the command name (which may hold spaces): the 40th and 41st fields of
        // stat are rt_priority and policy.
        let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
        let rt_priority = fields[40 - 3].parse().unwrap();
        let policy = fields[41 - 3].parse().unwrap();
        let tid = task.file_name().unwrap().to_string_lossy().into_owned();
        out.push((tid, policy, rt_priority));
    }
    out
}

/// Starts an SFU with `priority` and returns its worker thread's policy and priority, and the
/// gauge, once the worker has started.
async fn start_with(priority: u8) -> (SfuHandle, u32, u32, u64) {
    let before: HashSet<String> = sfu_workers().into_iter().map(|w| w.0).collect();
    let (sfu, _events) = SfuHandle::start(SfuConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        advertised_ip: None,
        connect_timeout: remote_assist_sfu::DEFAULT_CONNECT_TIMEOUT,
        realtime_priority: priority,
    })
    .unwrap();
    // The worker sets its priority before it takes commands: once one is answered (a refused
    // offer will do), its scheduling is final.
    let answered = sfu
        .create_peer(
            remote_assist_sfu::PeerId(1),
            remote_assist_sfu::PeerRole::Publisher,
            "not an offer".into(),
        )
        .await;
    assert!(answered.is_err());
    let (_, policy, rt_priority) = sfu_workers()
        .into_iter()
        .find(|w| !before.contains(&w.0))
        .expect("the new SFU has its sfu-worker thread");
    let gauge = sfu
        .counters()
        .worker_realtime_priority
        .load(std::sync::atomic::Ordering::Relaxed);
    (sfu, policy, rt_priority, gauge)
}

/// Whether this process may use real-time scheduling, tried on a scratch thread.
fn realtime_permitted() -> bool {
    std::thread::spawn(|| {
        thread_priority::set_thread_priority_and_policy(
            thread_priority::thread_native_id(),
            thread_priority::ThreadPriority::Crossplatform(10u8.try_into().unwrap()),
            thread_priority::ThreadSchedulePolicy::Realtime(
                thread_priority::RealtimeThreadSchedulePolicy::RoundRobin,
            ),
        )
        .is_ok()
    })
    .join()
    .unwrap()
}

#[tokio::test]
async fn the_media_worker_gets_real_time_priority_where_permitted() {
    let permitted = realtime_permitted();
    let (_sfu, policy, rt_priority, gauge) = start_with(10).await;
    if permitted {
        assert_eq!(
            (policy, rt_priority, gauge),
            (SCHED_RR, 10, 10),
            "the worker runs under SCHED_RR at 10 and /metrics says so"
        );
    } else {
        eprintln!("real-time scheduling is not permitted here: checking the fallback only");
        assert_eq!((policy, gauge), (SCHED_OTHER, 0));
    }
    // Priority 0: normal scheduling, whatever the privileges.
    let (_plain, policy, rt_priority, gauge) = start_with(0).await;
    assert_eq!((policy, rt_priority, gauge), (SCHED_OTHER, 0, 0));
}
