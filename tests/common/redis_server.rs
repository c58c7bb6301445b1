//! Test support: the Redis endpoints under test (from the environment),
//! and private `redis-server` processes for the fault tests.
#![allow(dead_code)]
use latchwork::queue::Endpoint;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The endpoints the suite runs against: `LATCHWORK_REDIS_URL` (a single
/// node) and `LATCHWORK_REDIS_CLUSTER_URLS` (comma-separated cluster
/// seeds), each when set. Prints `SKIPPED: <test>` when neither is.
pub fn endpoints(test: &str) -> Vec<(&'static str, Endpoint)> {
    let mut out = Vec::new();
    if let Ok(url) = std::env::var("LATCHWORK_REDIS_URL") {
        out.push(("node", Endpoint::Node(url)));
    }
    if let Ok(list) = std::env::var("LATCHWORK_REDIS_CLUSTER_URLS") {
        out.push(("cluster", Endpoint::cluster_from_list(&list)));
    }
    if out.is_empty() {
        println!("SKIPPED: {test}: set LATCHWORK_REDIS_URL and/or LATCHWORK_REDIS_CLUSTER_URLS");
    }
    out
}

/// An endpoint as one string for a child process's environment.
pub fn encode(e: &Endpoint) -> String {
    match e {
        Endpoint::Node(url) => format!("node={url}"),
        Endpoint::Cluster(seeds) => format!("cluster={}", seeds.join(",")),
    }
}

pub fn decode(s: &str) -> Endpoint {
    match s.split_once('=') {
        Some(("cluster", list)) => Endpoint::cluster_from_list(list),
        Some((_, url)) => Endpoint::Node(url.to_owned()),
        None => Endpoint::Node(s.to_owned()),
    }
}

/// A queue name no other test run shares.
pub fn unique(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{name}-{}-{nanos}", std::process::id())
}

/// A private `redis-server` on a free loopback port, killed on drop.
pub struct Server {
    pub port: u16,
    pub dir: PathBuf,
    args: Vec<String>,
    child: Option<Child>,
}

fn port_free(port: u16) -> bool {
    std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
}

impl Server {
    /// `None` (after printing `SKIPPED`) when `redis-server` is not on PATH.
    pub fn start(test: &str, extra: &[&str]) -> Option<Server> {
        if Command::new("redis-server")
            .arg("--version")
            .output()
            .is_err()
        {
            println!("SKIPPED: {test}: no redis-server on PATH");
            return None;
        }
        let mut port = 21_000 + (std::process::id() % 20_000) as u16;
        while !port_free(port) {
            port += 1;
        }
        let dir = std::env::temp_dir().join(format!("latchwork-rq-{port}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut args = vec![
            "--port".to_owned(),
            port.to_string(),
            "--bind".into(),
            "127.0.0.1".into(),
            "--save".into(),
            String::new(),
            "--dir".into(),
            dir.display().to_string(),
        ];
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        let mut s = Server {
            port,
            dir,
            args,
            child: None,
        };
        s.spawn();
        Some(s)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    fn spawn(&mut self) {
        let child = Command::new("redis-server")
            .args(&self.args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server");
        self.child = Some(child);
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "redis-server did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        // Accepting connections while loading the AOF answers LOADING:
        // wait until PING works.
        let client = redis::Client::open(self.url()).unwrap();
        loop {
            if let Ok(mut c) = client.get_connection() {
                if redis::cmd("PING").query::<String>(&mut c).is_ok() {
                    break;
                }
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "redis-server not ready"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.pid().to_string())
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{sig}");
    }

    /// SIGKILL, then start again on the same port and directory.
    pub fn crash_and_restart(&mut self) {
        let mut child = self.child.take().unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
        self.spawn();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-CONT")
                .arg(c.id().to_string())
                .status();
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
