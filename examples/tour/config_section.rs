//! Layered configuration: defaults, a TOML file, environment variables and
//! a runtime override, with provenance for every value; then a hot reload
//! under concurrent readers, with a subscriber told which keys changed.
use crate::heading;
use latchwork::config::LayeredConfig;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

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
    Ok(())
}
