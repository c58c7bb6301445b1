//! Test support for `queue_redis.rs`: the multi-process tests. The parent
//! re-executes the test binary with `LATCHWORK_QUEUE_CHILD` set; the child
//! test (`child_process`) then works the queue and reports on stdout, one
//! line per event.
#![allow(dead_code)]
use super::redis_server::{decode, encode, unique};
use latchwork::queue::{Endpoint, EnqueueOptions, Level, RedisError, RedisQueue};
use latchwork::retry::Backoff;
use std::collections::{BTreeSet, HashMap};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, UNIX_EPOCH};

/// `PTTL key` straight from the server.
pub async fn pttl(e: &Endpoint, key: &str) -> i64 {
    let mut cmd = redis::cmd("PTTL");
    cmd.arg(key);
    match e {
        Endpoint::Node(url) => {
            let mut c = redis::Client::open(url.as_str())
                .unwrap()
                .get_connection()
                .unwrap();
            cmd.query(&mut c).unwrap()
        }
        Endpoint::Cluster(seeds) => {
            let mut c = redis::cluster::ClusterClient::new(seeds.clone())
                .unwrap()
                .get_connection()
                .unwrap();
            cmd.query(&mut c).unwrap()
        }
    }
}

/// `SCRIPT FLUSH` on the node, or on every seed of a cluster.
pub fn script_flush(e: &Endpoint) {
    let urls = match e {
        Endpoint::Node(url) => vec![url.clone()],
        Endpoint::Cluster(seeds) => seeds.clone(),
    };
    for url in urls {
        let mut c = redis::Client::open(url.as_str())
            .unwrap()
            .get_connection()
            .unwrap();
        let () = redis::cmd("SCRIPT").arg("FLUSH").query(&mut c).unwrap();
    }
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

const CHILD_LEASE_CRASH: Duration = Duration::from_millis(500);
const FLEET_LEASE: Duration = Duration::from_secs(10);

fn child(kind: &str, e: &Endpoint, name: &str) -> Command {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--exact",
        "child_process",
        "--nocapture",
        "--test-threads=1",
    ])
    .env("LATCHWORK_QUEUE_CHILD", kind)
    .env("LATCHWORK_QUEUE_CHILD_ENDPOINT", encode(e))
    .env("LATCHWORK_QUEUE_CHILD_NAME", name)
    .stdout(Stdio::piped())
    .stderr(Stdio::inherit());
    cmd
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

async fn open(e: &Endpoint, name: &str) -> RedisQueue {
    RedisQueue::builder(name)
        .endpoint(e.clone())
        .max_attempts(2)
        .backoff(Backoff::constant(Duration::from_millis(1)).build().unwrap())
        .build()
        .await
        .unwrap()
}

fn ms(t: std::time::SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).unwrap().as_millis() as u64
}

/// The child's entry: nothing unless `LATCHWORK_QUEUE_CHILD` is set.
pub fn child_main() {
    let Ok(kind) = std::env::var("LATCHWORK_QUEUE_CHILD") else {
        return;
    };
    let e = decode(&std::env::var("LATCHWORK_QUEUE_CHILD_ENDPOINT").unwrap());
    let name = std::env::var("LATCHWORK_QUEUE_CHILD_NAME").unwrap();
    // libtest printed `test child_process ... ` without a newline: end it
    // so every report line starts a line.
    println!();
    runtime().block_on(async move {
        let q = open(&e, &name).await;
        match kind.as_str() {
            "crash" => {
                // Take five jobs and "work" on them until SIGKILL.
                let mut out = std::io::stdout().lock();
                for _ in 0..5 {
                    let job = q
                        .reserve(CHILD_LEASE_CRASH, Duration::from_secs(10))
                        .await
                        .unwrap()
                        .unwrap();
                    writeln!(out, "RESERVED {}", job.id()).unwrap();
                    out.flush().unwrap();
                }
                drop(out);
                std::thread::sleep(Duration::from_secs(3600));
            }
            "fleet" => fleet_child(q).await,
            other => panic!("unknown child kind {other}"),
        }
    });
}

async fn fleet_child(q: RedisQueue) {
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let slots: Vec<_> = (0..4)
        .map(|_| {
            let (q, lines) = (q.clone(), lines.clone());
            tokio::spawn(async move {
                loop {
                    let job = match q
                        .reserve(FLEET_LEASE, Duration::from_millis(100))
                        .await
                        .unwrap()
                    {
                        Some(job) => job,
                        None => {
                            let s = q.stats().await.unwrap();
                            if s.ready_total() + s.delayed + s.leased == 0 {
                                return;
                            }
                            continue;
                        }
                    };
                    let at = ms(job.lease_deadline()) - FLEET_LEASE.as_millis() as u64;
                    let mut events = vec![format!(
                        "RES {} {} {} {at}",
                        job.id(),
                        job.level().get(),
                        job.attempt()
                    )];
                    if job.payload().starts_with(b"fail") {
                        q.nack(&job, "always fails").await.unwrap();
                    } else {
                        match q.ack(&job).await {
                            Ok(()) => events.push(format!("ACK {}", job.id())),
                            Err(RedisError::LeaseLost { .. }) => {
                                events.push(format!("LOST {}", job.id()))
                            }
                            Err(e) => panic!("ack: {e}"),
                        }
                    }
                    lines.lock().unwrap().extend(events);
                }
            })
        })
        .collect();
    for s in slots {
        s.await.unwrap();
    }
    let mut out = std::io::stdout().lock();
    for l in lines.lock().unwrap().iter() {
        writeln!(out, "{l}").unwrap();
    }
    writeln!(out, "DONE").unwrap();
}

pub fn crash_test(label: &str, e: &Endpoint) {
    let name = unique("crash");
    let rt = runtime();
    let q = rt.block_on(open(e, &name));
    let mut ids = BTreeSet::new();
    for i in 0..20u32 {
        let level = Level::new((i % 4) as u8).unwrap();
        ids.insert(
            rt.block_on(q.enqueue(i.to_string(), level, EnqueueOptions::new()))
                .unwrap()
                .id(),
        );
    }
    let mut proc = child("crash", e, &name).spawn().unwrap();
    let mut taken = BTreeSet::new();
    let mut lines = BufReader::new(proc.stdout.take().unwrap()).lines();
    while taken.len() < 5 {
        let line = lines.next().expect("child output").unwrap();
        if let Some(id) = line.strip_prefix("RESERVED ") {
            taken.insert(id.parse::<u64>().unwrap());
        }
    }
    proc.kill().unwrap(); // SIGKILL, mid-job
    proc.wait().unwrap();
    let mut acked: HashMap<u64, u32> = HashMap::new();
    let start = Instant::now();
    while acked.len() < ids.len() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{label}: stuck at {acked:?}"
        );
        let Some(job) = rt
            .block_on(q.reserve(Duration::from_secs(10), Duration::from_secs(5)))
            .unwrap()
        else {
            continue;
        };
        let expected = if taken.contains(&job.id()) { 2 } else { 1 };
        assert_eq!(job.attempt(), expected, "{label}: job {}", job.id());
        rt.block_on(q.ack(&job)).unwrap();
        assert!(
            acked.insert(job.id(), job.attempt()).is_none(),
            "{label}: acked twice"
        );
    }
    assert_eq!(
        acked.keys().copied().collect::<BTreeSet<_>>(),
        ids,
        "{label}"
    );
    let s = rt.block_on(q.stats()).unwrap();
    assert_eq!(
        (s.ready_total(), s.delayed, s.leased, s.dead),
        (0, 0, 0, 0),
        "{label}"
    );
    println!("{label}: crash test: 20 jobs, 5 held by the killed child, all completed once, those 5 on attempt 2");
}

pub fn fleet_test(label: &str, e: &Endpoint) {
    let jobs = env_usize("LATCHWORK_QUEUE_JOBS", 4000);
    let procs = env_usize("LATCHWORK_QUEUE_PROCS", 8);
    let name = unique("fleet");
    let rt = runtime();
    let q = rt.block_on(open(e, &name));
    let start = Instant::now();
    // Enqueue from 16 tasks; job i fails always when i % 97 == 0.
    let failing: BTreeSet<u64> = rt.block_on(async {
        let tasks: Vec<_> = (0..16)
            .map(|t| {
                let q = q.clone();
                tokio::spawn(async move {
                    let mut failing = Vec::new();
                    for i in (t..jobs).step_by(16) {
                        let level = Level::new((i % 4) as u8 * 16).unwrap();
                        let fail = i % 97 == 0;
                        let payload = if fail {
                            format!("fail {i}")
                        } else {
                            format!("ok {i}")
                        };
                        let id = q
                            .enqueue(payload, level, EnqueueOptions::new())
                            .await
                            .unwrap()
                            .id();
                        if fail {
                            failing.push(id);
                        }
                    }
                    failing
                })
            })
            .collect();
        let mut all = BTreeSet::new();
        for t in tasks {
            all.extend(t.await.unwrap());
        }
        all
    });
    let enqueued = start.elapsed();
    let children: Vec<_> = (0..procs)
        .map(|_| child("fleet", e, &name).spawn().unwrap())
        .collect();
    let mut acks: HashMap<u64, u32> = HashMap::new();
    let mut firsts: Vec<(u64, u8)> = Vec::new();
    let mut lost = 0;
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "{label}: a worker process failed");
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.lines().any(|l| l == "DONE"), "{label}");
        for l in text.lines() {
            let f: Vec<&str> = l.split(' ').collect();
            match f[0] {
                "ACK" => *acks.entry(f[1].parse().unwrap()).or_default() += 1,
                "LOST" => lost += 1,
                "RES" if f[3] == "1" => firsts.push((f[4].parse().unwrap(), f[2].parse().unwrap())),
                _ => {}
            }
        }
    }
    let worked = start.elapsed() - enqueued;
    assert_eq!(
        lost, 0,
        "{label}: no lease ran out, so no ack may be refused"
    );
    assert_eq!(
        acks.len(),
        jobs - failing.len(),
        "{label}: every passing job acked"
    );
    assert!(
        acks.values().all(|&n| n == 1),
        "{label}: acked exactly once"
    );
    assert!(failing.iter().all(|id| !acks.contains_key(id)), "{label}");
    let dead: BTreeSet<u64> = rt
        .block_on(q.dead(0, 10_000))
        .unwrap()
        .iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(
        dead, failing,
        "{label}: the dead set is exactly the always-failing jobs"
    );
    // Priority across processes: every job was ready from the start, so a
    // first delivery of level L at time t means no more urgent job was
    // still ready; none may be first delivered after t + 1 ms (Redis
    // TIME is in ms; one ms of slack for ties).
    firsts.sort_unstable();
    let mut max_before = 0u8;
    let mut j = 0;
    for &(t, level) in &firsts {
        while j < firsts.len() && firsts[j].0 + 1 < t {
            max_before = max_before.max(firsts[j].1);
            j += 1;
        }
        assert!(
            max_before <= level,
            "{label}: level {level} delivered at {t} after a level {max_before}"
        );
    }
    println!(
        "{label}: fleet: {procs} processes x 4 slots, {jobs} jobs over 4 levels: enqueue {:?}, work {:?}, {} dead",
        enqueued,
        worked,
        failing.len()
    );
}
