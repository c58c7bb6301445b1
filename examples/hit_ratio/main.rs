//! The hit-ratio suite (`WORKLOADS.md`): every trace of [`traces::SUITE`] at
//! every capacity of [`traces::CAPACITIES`], replayed through each cache of
//! [`CONTENDERS`] with `get`, and `insert` on a miss. Prints a markdown table
//! of hit ratios (hits / requests, every request counted, cold misses
//! included).
//!
//! ```text
//! cargo run --release --example hit_ratio
//! cargo run --release --example hit_ratio -- --trace-dir target/traces --csv target/hit_ratio/ours.csv
//! ```
//!
//! Options:
//! - `--trace-dir DIR`: write each trace to `DIR/<trace>.txt`, one key a line
//!   (the loop once per capacity: `DIR/loop-<capacity>.txt`), and
//!   `DIR/manifest.csv` (`trace,capacity,file,requests`) for the referee.
//! - `--csv FILE`, `--json FILE`: write the results
//!   (`trace,capacity,cache,requests,hits,hit_ratio`).
//! - `--requests N`: request budget per trace (default 1,000,000), for a
//!   quick look; the published table uses the default.
//! - `--only NAME`: replay only the caches whose name contains `NAME`.
//! - `--real DIR`: replay the real traces of `DIR` (`../shared/traces`:
//!   gzip-compressed `u64` keys and a README listing each trace's
//!   capacities; see `real.rs`) instead of the synthetic suite; the whole
//!   trace unless `--requests` says otherwise.
//!
//! This is an example rather than a `harness = false` bench because it
//! measures no time: it is a program run once, with its own arguments, whose
//! output a script reads (`cargo bench` would pass it `--bench` and mix its
//! output with criterion's). All traces are generated before any replay.
//!
//! The referee, `scripts/hit_ratio_referee.py`, replays the written traces
//! through libCacheSim and checks that `latchwork LruCache` matches its
//! `LRU` hit for hit.

mod real;
mod traces;

use latchwork::lru::LruCache;
use std::error::Error;
use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;
use traces::{CAPACITIES, REQUESTS, SUITE};

/// One request against a cache: `get(key)`, and on a miss `insert(key, _)`.
/// Returns whether the `get` hit.
type Replay = Box<dyn FnMut(u64) -> bool>;

/// A cache under test: its name in the tables and how to build an empty one
/// of a given capacity (in entries).
struct Contender {
    name: &'static str,
    build: fn(usize) -> Replay,
}

/// The caches of the suite, in column order. To add one, add an entry: a
/// name and a constructor returning the get-then-insert-on-miss closure.
/// The referee script and the docs table pick up every name found in the
/// CSV, so nothing else changes. For `latchwork::cache::Cache` (builder API
/// as on main when this was written), one entry per policy:
///
/// ```text
/// Contender {
///     name: "latchwork Cache (TinyLfu)",
///     build: |cap| {
///         let c = latchwork::cache::Cache::builder()
///             .max_capacity(cap as u64)
///             .policy(latchwork::cache::Policy::TinyLfu)
///             .build()
///             .expect("valid cache");
///         Box::new(move |k| {
///             let hit = c.get(&k).is_some();
///             if !hit {
///                 c.insert(k, k);
///                 c.run_pending_tasks(); // only if it defers its policy, as moka does
///             }
///             hit
///         })
///     },
/// },
/// ```
const CONTENDERS: &[Contender] = &[
    Contender {
        // The concurrent cache with its default policy and shard count.
        name: "latchwork Cache TinyLfu",
        build: |cap| {
            let c = latchwork::cache::Cache::builder()
                .max_capacity(cap as u64)
                .policy(latchwork::cache::Policy::TinyLfu)
                .build()
                .expect("valid cache");
            Box::new(move |k| {
                let hit = c.get(&k).is_some();
                if !hit {
                    c.insert(k, k);
                }
                hit
            })
        },
    },
    Contender {
        name: "latchwork Cache Lru",
        build: |cap| {
            let c = latchwork::cache::Cache::builder()
                .max_capacity(cap as u64)
                .policy(latchwork::cache::Policy::Lru)
                .build()
                .expect("valid cache");
            Box::new(move |k| {
                let hit = c.get(&k).is_some();
                if !hit {
                    c.insert(k, k);
                }
                hit
            })
        },
    },
    Contender {
        name: "latchwork LruCache",
        build: |cap| {
            let mut c = LruCache::new(cap).expect("capacity > 0");
            Box::new(move |k| {
                let hit = c.get(&k).is_some();
                if !hit {
                    c.put(k, k);
                }
                hit
            })
        },
    },
    Contender {
        // The single-threaded cache: quick_cache's policy without sharding.
        name: "quick_cache unsync",
        build: |cap| {
            let mut c = quick_cache::unsync::Cache::new(cap);
            Box::new(move |k| {
                let hit = c.get(&k).is_some();
                if !hit {
                    c.insert(k, k);
                }
                hit
            })
        },
    },
    Contender {
        // The concurrent cache as its README recommends: `new(capacity)`,
        // default shards (each shard runs the policy on its slice).
        name: "quick_cache sync",
        build: |cap| {
            let c = quick_cache::sync::Cache::new(cap);
            Box::new(move |k| {
                let hit = c.get(&k).is_some();
                if !hit {
                    c.insert(k, k);
                }
                hit
            })
        },
    },
    Contender {
        // moka applies its policy (admission, eviction) later, from read and
        // write buffers drained every 64 operations. Running the pending
        // tasks after each insert applies it at once, as the sequential
        // simulators do: the cache never holds more than `cap` entries when
        // the next request arrives. Reads cannot be dropped on one thread
        // (the read buffer is drained at 64 of its 384 slots).
        name: "moka",
        build: |cap| {
            let c = moka::sync::Cache::new(cap as u64);
            Box::new(move |k| {
                let hit = c.get(&k).is_some();
                if !hit {
                    c.insert(k, k);
                    c.run_pending_tasks();
                }
                hit
            })
        },
    },
    Contender {
        // moka as an application runs it: no `run_pending_tasks`, so up to
        // about 64 inserts can sit above the capacity until the next drain
        // (which inflates the ratio at small capacities).
        name: "moka (lazy)",
        build: |cap| {
            let c = moka::sync::Cache::new(cap as u64);
            Box::new(move |k| {
                let hit = c.get(&k).is_some();
                if !hit {
                    c.insert(k, k);
                }
                hit
            })
        },
    },
];

/// One trace at one capacity.
struct Case {
    trace: String,
    capacity: usize,
    /// File name under `--trace-dir`; written once per distinct name.
    file: String,
    keys: std::rc::Rc<Vec<u64>>,
}

/// One replay's outcome.
struct Outcome {
    trace: String,
    capacity: usize,
    cache: &'static str,
    requests: usize,
    hits: usize,
}

impl Outcome {
    fn percent(&self) -> f64 {
        100.0 * self.hits as f64 / self.requests as f64
    }
}

#[derive(Default)]
struct Args {
    trace_dir: Option<PathBuf>,
    csv: Option<PathBuf>,
    json: Option<PathBuf>,
    requests: Option<usize>,
    only: Option<String>,
    real: Option<PathBuf>,
}

fn parse_args() -> Result<Args, Box<dyn Error>> {
    let mut args = Args::default();
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--trace-dir" => args.trace_dir = Some(value()?.into()),
            "--csv" => args.csv = Some(value()?.into()),
            "--json" => args.json = Some(value()?.into()),
            "--requests" => args.requests = Some(value()?.parse()?),
            "--only" => args.only = Some(value()?),
            "--real" => args.real = Some(value()?.into()),
            "-h" | "--help" => {
                println!(
                    "usage: hit_ratio [--trace-dir DIR] [--csv FILE] [--json FILE] \
                     [--requests N] [--only NAME] [--real DIR]"
                );
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?} (try --help)").into()),
        }
    }
    Ok(args)
}

/// Every trace at every capacity; a trace that does not depend on the
/// capacity is generated once and shared.
fn cases(requests: usize) -> Vec<Case> {
    let mut out = Vec::new();
    for spec in SUITE {
        let shared = (!spec.per_capacity()).then(|| std::rc::Rc::new(spec.generate(0, requests)));
        for capacity in CAPACITIES {
            let keys = shared
                .clone()
                .unwrap_or_else(|| std::rc::Rc::new(spec.generate(capacity, requests)));
            out.push(Case {
                trace: spec.name.to_string(),
                capacity,
                file: spec.file_name(capacity),
                keys,
            });
        }
    }
    out
}

/// Every real trace at every capacity its README lists.
fn real_cases(dir: &Path, requests: usize) -> Result<Vec<Case>, Box<dyn Error>> {
    let mut out = Vec::new();
    for t in real::list(dir)? {
        let keys = std::rc::Rc::new(real::read(&t.path, requests)?);
        for &capacity in &t.capacities {
            out.push(Case {
                trace: t.name.clone(),
                capacity,
                file: format!("{}.txt", t.name),
                keys: keys.clone(),
            });
        }
    }
    Ok(out)
}

/// Writes each distinct trace once, one key a line, and the manifest.
fn write_traces(dir: &Path, cases: &[Case]) -> Result<(), Box<dyn Error>> {
    fs::create_dir_all(dir)?;
    let mut manifest = String::from("trace,capacity,file,requests\n");
    let mut written = std::collections::HashSet::new();
    for case in cases {
        let file = &case.file;
        let path = dir.join(file);
        if written.insert(file.clone()) {
            let mut w = BufWriter::new(File::create(&path)?);
            for k in case.keys.iter() {
                writeln!(w, "{k}")?;
            }
            w.flush()?;
        }
        writeln!(
            manifest,
            "{},{},{file},{}",
            case.trace,
            case.capacity,
            case.keys.len()
        )?;
    }
    fs::write(dir.join("manifest.csv"), manifest)?;
    Ok(())
}

fn create_parent(path: &Path) -> std::io::Result<()> {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => fs::create_dir_all(p),
        _ => Ok(()),
    }
}

fn write_csv(path: &Path, outcomes: &[Outcome]) -> Result<(), Box<dyn Error>> {
    let mut s = String::from("trace,capacity,cache,requests,hits,hit_ratio\n");
    for o in outcomes {
        writeln!(
            s,
            "{},{},{},{},{},{:.6}",
            o.trace,
            o.capacity,
            o.cache,
            o.requests,
            o.hits,
            o.percent()
        )?;
    }
    create_parent(path)?;
    fs::write(path, s)?;
    Ok(())
}

fn write_json(path: &Path, outcomes: &[Outcome]) -> Result<(), Box<dyn Error>> {
    let rows: Vec<_> = outcomes
        .iter()
        .map(|o| {
            serde_json::json!({
                "trace": o.trace,
                "capacity": o.capacity,
                "cache": o.cache,
                "requests": o.requests,
                "hits": o.hits,
                "hit_ratio": o.percent(),
            })
        })
        .collect();
    create_parent(path)?;
    fs::write(path, serde_json::to_string_pretty(&rows)?)?;
    Ok(())
}

/// The markdown table: one row per trace x capacity, one column per cache.
fn table(contenders: &[&Contender], outcomes: &[Outcome]) -> String {
    let mut s = String::from("| trace | capacity |");
    for c in contenders {
        let _ = write!(s, " {} |", c.name);
    }
    s.push_str("\n|---|---:|");
    s.push_str(&"---:|".repeat(contenders.len()));
    s.push('\n');
    for row in outcomes.chunks(contenders.len()) {
        let _ = write!(s, "| {} | {} |", row[0].trace, row[0].capacity);
        for o in row {
            let _ = write!(s, " {:.2} |", o.percent());
        }
        s.push('\n');
    }
    s
}

fn main() -> Result<(), Box<dyn Error>> {
    let args = parse_args()?;
    let requests = args.requests.unwrap_or(if args.real.is_some() {
        usize::MAX
    } else {
        REQUESTS
    });
    let contenders: Vec<&Contender> = CONTENDERS
        .iter()
        .filter(|c| {
            args.only
                .as_ref()
                .is_none_or(|o| c.name.contains(o.as_str()))
        })
        .collect();
    if contenders.is_empty() {
        return Err("--only matched no cache".into());
    }

    // All key streams exist before the first replay.
    let t0 = Instant::now();
    let cases = match &args.real {
        Some(dir) => real_cases(dir, requests)?,
        None => cases(requests),
    };
    eprintln!("generated traces in {:.1}s", t0.elapsed().as_secs_f64());
    if let Some(dir) = &args.trace_dir {
        write_traces(dir, &cases)?;
        eprintln!("wrote traces and manifest.csv to {}", dir.display());
    }

    let mut outcomes = Vec::new();
    for case in &cases {
        for c in &contenders {
            let t = Instant::now();
            let mut replay = (c.build)(case.capacity);
            let hits = case.keys.iter().filter(|&&k| replay(k)).count();
            eprintln!(
                "{:>10} {:>6} {:<20} {:>6.2}% ({:.2}s)",
                case.trace,
                case.capacity,
                c.name,
                100.0 * hits as f64 / case.keys.len() as f64,
                t.elapsed().as_secs_f64()
            );
            outcomes.push(Outcome {
                trace: case.trace.clone(),
                capacity: case.capacity,
                cache: c.name,
                requests: case.keys.len(),
                hits,
            });
        }
    }

    print!("{}", table(&contenders, &outcomes));
    if let Some(path) = &args.csv {
        write_csv(path, &outcomes)?;
    }
    if let Some(path) = &args.json {
        write_json(path, &outcomes)?;
    }
    Ok(())
}
