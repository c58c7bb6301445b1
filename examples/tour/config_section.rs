//! Layered configuration: defaults, a TOML file, environment variables and
//! a runtime override, with provenance for every value; then a hot reload
//! under concurrent readers, with a subscriber told which keys changed.
use crate::heading;
use latchwork::config::{env_var_to_key, LayeredConfig, Value};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

#[derive(Serialize, Deserialize, Debug)]
struct Pool {
    max: u32,
    idle_secs: u64,
}

#[derive(Serialize, Deserialize, Debug)]
struct Database {
    url: String,
    pool: Pool,
}

#[derive(Serialize, Deserialize, Debug)]
struct Settings {
    database: Database,
    log_level: String,
    debug: bool,
}

pub fn run() -> Result<(), Box<dyn std::error::Error>> {
    heading("config: layered settings with provenance, lock-free reads, hot reload");
    let dir = std::env::temp_dir().join(format!("latchwork-tour-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let file = dir.join("service.toml");
    std::fs::write(
        &file,
        "log_level = \"info\"\n[database]\nurl = \"postgres://db.internal/app\"\n[database.pool]\nmax = 32\n",
    )?;
    // The service would call `.env("APP_")`; the tour injects its own
    // variables so it neither reads nor changes the real environment.
    let env = Arc::new(Mutex::new(vec![
        ("APP_DATABASE__POOL__MAX".to_string(), "64".to_string()),
        ("APP_DEBUG".to_string(), "true".to_string()),
    ]));
    let config = Arc::new(
        LayeredConfig::builder()
            .defaults(&Settings {
                database: Database {
                    url: "postgres://localhost/app".into(),
                    pool: Pool {
                        max: 10,
                        idle_secs: 300,
                    },
                },
                log_level: "warn".into(),
                debug: false,
            })
            .file(&file)
            .env_from("APP_", {
                let env = Arc::clone(&env);
                move || env.lock().map(|e| e.clone()).unwrap_or_default()
            })
            .build()?,
    );
    config.set("log_level", "debug")?;

    let snap = config.snapshot();
    for key in snap.keys() {
        let value = snap.get(key).map(|v| v.to_string()).unwrap_or_default();
        let from = snap
            .source_of(key)
            .map(|p| p.to_string())
            .unwrap_or_default();
        println!("  {key:<24} = {value:<30} from {from}");
    }
    let settings: Settings = snap.extract()?;
    println!(
        "extracted: pool.max = {} (the env string \"64\" read as u32), debug = {}",
        settings.database.pool.max, settings.debug
    );
    if let Err(e) = LayeredConfig::builder()
        .env_from("APP_", || {
            vec![("APP_DATABASE__POOL__MAX".into(), "many".into())]
        })
        .build()?
        .get_as::<u32>("database.pool.max")
    {
        println!("a bad value is reported with its source: {e}");
    }

    // Hot reload: readers keep reading while the file and environment
    // change and reload swaps the new configuration in atomically.
    let changes = Arc::new(Mutex::new(Vec::new()));
    let _subscription = {
        let changes = Arc::clone(&changes);
        config.subscribe(move |change| {
            if let Ok(mut c) = changes.lock() {
                c.push(change.keys().join(", "));
            }
        })
    };
    let stop = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(AtomicU64::new(0));
    let readers: Vec<_> = (0..crate::threads())
        .map(|_| {
            let (config, stop, reads) =
                (Arc::clone(&config), Arc::clone(&stop), Arc::clone(&reads));
            std::thread::spawn(move || {
                let mut n = 0u64;
                let mut torn = 0u64;
                // Relaxed: a stop flag guarding no data; `join` orders
                // the rest.
                while !stop.load(Ordering::Relaxed) {
                    // One snapshot: the pool size and its idle time always
                    // come from the same reload.
                    let snap = config.snapshot();
                    let max: u64 = snap.get_as("database.pool.max").unwrap_or(0);
                    let idle: u64 = snap.get_as("database.pool.idle_secs").unwrap_or(0);
                    if idle != 300 && idle != max * 10 {
                        torn += 1;
                    }
                    n += 1;
                }
                // Relaxed: a statistic read after `join`.
                reads.fetch_add(n, Ordering::Relaxed);
                torn
            })
        })
        .collect();
    let (reloads, secs) = crate::timed(|| -> Result<u64, Box<dyn std::error::Error>> {
        for round in 1..=200u64 {
            let max = 64 + round;
            if let Ok(mut e) = env.lock() {
                *e = vec![
                    ("APP_DATABASE__POOL__MAX".into(), max.to_string()),
                    (
                        "APP_DATABASE__POOL__IDLE_SECS".into(),
                        (max * 10).to_string(),
                    ),
                ];
            }
            config.reload()?;
        }
        Ok(200)
    });
    let reloads = reloads?;
    stop.store(true, Ordering::Relaxed); // Relaxed: see the readers' loop.
    let mut torn = 0;
    for r in readers {
        torn += r.join().map_err(|_| "tour thread panicked")?;
    }
    let changes = changes.lock().map(|c| c.clone()).unwrap_or_default();
    println!(
        "{reloads} reloads in {:.1} ms while {} readers did {} snapshot reads: {torn} torn reads",
        secs * 1e3,
        crate::threads(),
        reads.load(Ordering::Relaxed) // Relaxed: every reader was joined.
    );
    println!(
        "subscriber saw {} changes; first: [{}]; last: [{}]",
        changes.len(),
        changes.first().map_or("", |s| s.as_str()),
        changes.last().map_or("", |s| s.as_str())
    );
    println!(
        "now: pool.max = {} from {}",
        config.get_as::<u32>("database.pool.max")?,
        config
            .source_of("database.pool.max")
            .map(|p| p.to_string())
            .unwrap_or_default()
    );
    std::fs::remove_file(&file)?;
    let _ = std::fs::remove_dir(&dir);
    reads_during_reloads()
}

/// Keys in the read-during-reload comparison, and lookups per reader.
const KEYS: u64 = 1_000;
const READERS: usize = 2;
const LOOKUPS: usize = 300_000;

/// The environment of reload number `n`: 1,000 variables, every value
/// changing on each reload (as in benches/config.rs).
fn bench_env(n: u64) -> Vec<(String, String)> {
    (0..KEYS)
        .map(|i| {
            (
                format!("APP_SECTION{}__KEY{}", i / 50, i % 50),
                (i + n).to_string(),
            )
        })
        .collect()
}

/// Two readers look up `LOOKUPS` keys each while a third thread reloads
/// back-to-back; returns reader lookups per second and reloads done.
fn readers_while_reloading(
    get: impl Fn(&str) -> Option<Value> + Sync,
    reload: impl Fn() + Sync,
    streams: &[Vec<String>],
) -> (f64, u64) {
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        let reloader = s.spawn(|| {
            let mut n = 0u64;
            // Relaxed: a stop flag guarding no data; the scope's join
            // orders the rest.
            while !stop.load(Ordering::Relaxed) {
                reload();
                n += 1;
            }
            n
        });
        let ((), secs) = crate::timed(|| {
            std::thread::scope(|r| {
                for keys in streams {
                    let get = &get;
                    r.spawn(move || {
                        let hits = keys.iter().filter(|k| get(k).is_some()).count();
                        assert_eq!(hits, keys.len(), "every key is present");
                    });
                }
            })
        });
        stop.store(true, Ordering::Relaxed); // Relaxed: see the loop.
        let reloads = reloader.join().unwrap_or(0);
        ((READERS * LOOKUPS) as f64 / secs, reloads)
    })
}

/// `snapshot().get` under continuous reloads, against the anchor of
/// benches/config.rs: an `RwLock<HashMap<String, Value>>` whose writer
/// builds a fresh map outside the lock and swaps it in.
fn reads_during_reloads() -> Result<(), Box<dyn std::error::Error>> {
    let mut x = 0x5EEDu64;
    let streams: Vec<Vec<String>> = (0..READERS)
        .map(|_| {
            (0..LOOKUPS)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let i = x % KEYS;
                    format!("section{}.key{}", i / 50, i % 50)
                })
                .collect()
        })
        .collect();

    let generation = Arc::new(AtomicU64::new(0));
    let config = LayeredConfig::builder()
        .env_from("APP_", move || {
            // Relaxed: a counter; the configuration's swap publishes.
            bench_env(generation.fetch_add(1, Ordering::Relaxed))
        })
        .build()?;
    let (ours, our_reloads) = readers_while_reloading(
        |k| config.snapshot().get(k).cloned(),
        || drop(config.reload()),
        &streams,
    );

    let build = |n: u64| -> HashMap<String, Value> {
        bench_env(n)
            .into_iter()
            .filter_map(|(k, v)| Some((env_var_to_key("APP_", &k).ok()??, Value::String(v))))
            .collect()
    };
    let anchor_generation = AtomicU64::new(1);
    let map = RwLock::new(build(0));
    let (theirs, their_reloads) = readers_while_reloading(
        |k| map.read().ok()?.get(k).cloned(),
        || {
            // Relaxed: as above.
            let fresh = build(anchor_generation.fetch_add(1, Ordering::Relaxed));
            if let Ok(mut m) = map.write() {
                *m = fresh;
            }
        },
        &streams,
    );
    println!(
        "get during reloads ({READERS} readers, {KEYS} keys): {:.1} M gets/s = {:.2}x RwLock<HashMap> measured now \
         (reloads meanwhile: ours {our_reloads}, the anchor's {their_reloads}; ours re-merge and diff)",
        ours / 1e6,
        ours / theirs
    );
    Ok(())
}
