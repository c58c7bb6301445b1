#![cfg(all(not(loom), feature = "config"))]
//! `LayeredConfig`: layer order, loaders, typed reads and their errors,
//! provenance, `set`/`unset`, reload and subscribers. The environment is
//! always injected (`env_from`), never read from or written to the process.

use latchwork::config::{
    env_var_to_key, key_to_env_var, ConfigChange, Error, Format, Layer, LayeredConfig,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

fn assert_send_sync<T: Send + Sync>() {}

#[test]
fn public_types_are_send_sync() {
    assert_send_sync::<LayeredConfig>();
    assert_send_sync::<latchwork::config::Snapshot>();
    assert_send_sync::<latchwork::config::Subscription>();
    assert_send_sync::<ConfigChange>();
    assert_send_sync::<Error>();
}

/// A file of its own under the temp dir, removed on drop.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str, text: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "latchwork-config-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        TempFile(path)
    }
    fn write(&self, text: &str) {
        std::fs::write(&self.0, text).unwrap();
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

type Env = Arc<Mutex<Vec<(String, String)>>>;

fn env(pairs: &[(&str, &str)]) -> Env {
    Arc::new(Mutex::new(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    ))
}

fn provider(env: &Env) -> impl Fn() -> Vec<(String, String)> + Send + Sync + 'static {
    let env = Arc::clone(env);
    move || env.lock().unwrap().clone()
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Pool {
    max: u32,
    idle_secs: u64,
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Database {
    url: String,
    pool: Pool,
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Settings {
    database: Database,
    debug: bool,
    ratio: f64,
    name: String,
}

fn defaults() -> Settings {
    Settings {
        database: Database {
            url: "postgres://localhost".into(),
            pool: Pool {
                max: 10,
                idle_secs: 300,
            },
        },
        debug: false,
        ratio: 0.5,
        name: "svc".into(),
    }
}

#[test]
fn runtime_beats_env_beats_file_beats_defaults() {
    let file = TempFile::new(
        "order.toml",
        "[database]\nurl = \"postgres://db\"\n[database.pool]\nmax = 50\nidle_secs = 60\n",
    );
    let e = env(&[("APP_DATABASE__POOL__MAX", "20"), ("OTHER", "x")]);
    let config = LayeredConfig::builder()
        .defaults(&defaults())
        .file(&file.0)
        .env_from("APP_", provider(&e))
        .build()
        .unwrap();
    config.set("database.pool.idle_secs", 5).unwrap();

    let snap = config.snapshot();
    assert_eq!(snap.get("database.pool.max"), Some(&json!("20")));
    assert_eq!(snap.get("database.pool.idle_secs"), Some(&json!(5)));
    assert_eq!(snap.get("database.url"), Some(&json!("postgres://db")));
    assert_eq!(snap.get("name"), Some(&json!("svc")));
    assert_eq!(snap.get("nope"), None);
    assert_eq!(snap.get("a..b"), None);

    let layer = |k: &str| snap.source_of(k).map(|p| p.layer());
    assert_eq!(layer("database.pool.idle_secs"), Some(Layer::Runtime));
    assert_eq!(layer("database.pool.max"), Some(Layer::Env));
    assert_eq!(layer("database.url"), Some(Layer::File));
    assert_eq!(layer("debug"), Some(Layer::Defaults));
    // A table merged from several layers: the highest contributor.
    assert_eq!(layer("database.pool"), Some(Layer::Runtime));
    assert_eq!(layer("database"), Some(Layer::Runtime));
    let p = snap.source_of("database.pool.max").unwrap();
    assert_eq!(p.source(), "APP_DATABASE__POOL__MAX");
    assert_eq!(
        p.to_string(),
        "environment variable APP_DATABASE__POOL__MAX"
    );
    let p = snap.source_of("database.url").unwrap();
    assert_eq!(p.source(), file.0.display().to_string());

    // Typed reads coerce the env string; extract sees the merged whole.
    assert_eq!(snap.get_as::<u32>("database.pool.max").unwrap(), 20);
    let s: Settings = snap.extract().unwrap();
    assert_eq!(
        s.database.pool,
        Pool {
            max: 20,
            idle_secs: 5
        }
    );
    assert_eq!(s.database.url, "postgres://db");
    assert_eq!(snap.keys().len(), 6);
}

#[test]
fn a_scalar_in_a_higher_layer_hides_the_table_below() {
    let e = env(&[("APP_DATABASE", "disabled")]);
    let config = LayeredConfig::builder()
        .defaults(&defaults())
        .env_from("APP_", provider(&e))
        .build()
        .unwrap();
    assert_eq!(config.get("database"), Some(json!("disabled")));
    assert_eq!(config.get("database.url"), None);
    // ... and a table in a higher layer replaces a scalar below it.
    config.set("database.url", "x").unwrap();
    assert_eq!(config.get("database"), Some(json!({"url": "x"})));
}

#[test]
fn json_files_later_files_win_and_arrays_index() {
    let a = TempFile::new(
        "a.json",
        r#"{"servers": [{"host": "a"}, {"host": "b"}], "x": 1}"#,
    );
    let b = TempFile::new("b.toml", "x = 2\n");
    let config = LayeredConfig::builder()
        .file(&a.0)
        .file(&b.0)
        .build()
        .unwrap();
    assert_eq!(config.get("servers.1.host"), Some(json!("b")));
    assert_eq!(config.get("servers.2.host"), None);
    assert_eq!(config.get_as::<i64>("x").unwrap(), 2);
    let p = config.source_of("servers.1.host").unwrap();
    assert_eq!(
        (p.layer(), p.source()),
        (Layer::File, &*a.0.display().to_string())
    );
    assert_eq!(
        config.source_of("x").unwrap().source(),
        b.0.display().to_string()
    );
}

#[test]
fn coercion_rules() {
    let e = env(&[
        ("APP_FLAG", "Yes"),
        ("APP_OFF", "0"),
        ("APP_NEG", " -7 "),
        ("APP_BIG", "18446744073709551615"),
        ("APP_F", "2.5"),
        ("APP_HOSTS__0", "a"),
        ("APP_HOSTS__1", "b"),
        ("APP_PORTS__1", "81"),
        ("APP_PORTS__0", "80"),
        ("APP_LEVEL", "Warn"),
        ("APP_NAME", "123"),
    ]);
    let c = LayeredConfig::builder()
        .env_from("APP_", provider(&e))
        .build()
        .unwrap();
    assert!(c.get_as::<bool>("flag").unwrap());
    assert!(!c.get_as::<bool>("off").unwrap());
    assert_eq!(c.get_as::<i8>("neg").unwrap(), -7);
    assert_eq!(c.get_as::<u64>("big").unwrap(), u64::MAX);
    assert_eq!(c.get_as::<f32>("f").unwrap(), 2.5);
    assert_eq!(c.get_as::<Vec<String>>("hosts").unwrap(), ["a", "b"]);
    assert_eq!(c.get_as::<Vec<u16>>("ports").unwrap(), [80, 81]);
    assert_eq!(c.get_as::<Option<u16>>("ports.0").unwrap(), Some(80));
    assert_eq!(c.get_as::<String>("name").unwrap(), "123");
    #[derive(Deserialize, Debug, PartialEq)]
    enum Level {
        Info,
        Warn,
    }
    assert_eq!(c.get_as::<Level>("level").unwrap(), Level::Warn);
    // Env values stay strings on untyped reads.
    assert_eq!(c.get("neg"), Some(json!(" -7 ")));
}

#[test]
fn errors_name_key_layer_source_and_expectation() {
    let e = env(&[("APP_DATABASE__POOL__MAX", "lots")]);
    let c = LayeredConfig::builder()
        .defaults(&defaults())
        .env_from("APP_", provider(&e))
        .build()
        .unwrap();
    let err = c.get_as::<u32>("database.pool.max").unwrap_err();
    match &err {
        Error::Type {
            key, provenance, ..
        } => {
            assert_eq!(key, "database.pool.max");
            let p = provenance.as_ref().unwrap();
            assert_eq!(
                (p.layer(), p.source()),
                (Layer::Env, "APP_DATABASE__POOL__MAX")
            );
        }
        other => panic!("unexpected {other:?}"),
    }
    let msg = err.to_string();
    assert!(msg.contains("database.pool.max"), "{msg}");
    assert!(msg.contains("APP_DATABASE__POOL__MAX"), "{msg}");
    assert!(msg.contains("integer") && msg.contains("lots"), "{msg}");

    // extract names the innermost failing key.
    let err = c.extract::<Settings>().unwrap_err();
    assert!(
        matches!(&err, Error::Type { key, .. } if key == "database.pool.max"),
        "{err:?}"
    );
    // A number out of range, from the defaults.
    let err = c.get_as::<u8>("database.pool.idle_secs").unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("defaults") && msg.contains("u8"), "{msg}");
    // Wrong type from a file names the file.
    let f = TempFile::new("types.toml", "name = 5\n");
    let c2 = LayeredConfig::builder().file(&f.0).build().unwrap();
    let msg = c2.get_as::<String>("name").unwrap_err().to_string();
    assert!(
        msg.contains(&f.0.display().to_string()) && msg.contains("expected a string"),
        "{msg}"
    );
    // Missing fields name the table.
    #[derive(Deserialize, Debug)]
    #[allow(dead_code)]
    struct NeedsPort {
        port: u16,
    }
    let err = c.get_as::<NeedsPort>("database").unwrap_err();
    assert!(
        matches!(&err, Error::Type { key, message, .. } if key == "database" && message.contains("port"))
    );
    assert_eq!(
        c.get_as::<u8>("no.such").unwrap_err(),
        Error::Missing {
            key: "no.such".into()
        }
    );
    assert!(matches!(
        c.get_as::<u8>("a..b"),
        Err(Error::InvalidKey { .. })
    ));
    assert!(matches!(c.set("", 1), Err(Error::InvalidKey { .. })));
}

#[test]
fn loader_errors() {
    let bad = TempFile::new("bad.toml", "[a\nb = ");
    let err = LayeredConfig::builder().file(&bad.0).build().unwrap_err();
    assert!(
        matches!(
            &err,
            Error::Parse {
                format: Format::Toml,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("bad.toml"));
    let arr = TempFile::new("arr.json", "[1]");
    assert!(matches!(
        LayeredConfig::builder().file(&arr.0).build(),
        Err(Error::NotATable { found: "array", .. })
    ));
    let missing = std::env::temp_dir().join("latchwork-config-definitely-missing.toml");
    assert!(matches!(
        LayeredConfig::builder().file(&missing).build(),
        Err(Error::Io {
            kind: std::io::ErrorKind::NotFound,
            ..
        })
    ));
    let c = LayeredConfig::builder()
        .optional_file(&missing)
        .build()
        .unwrap();
    assert_eq!(c.snapshot().keys().len(), 0);
    assert!(matches!(
        LayeredConfig::builder().file("x.yaml").build(),
        Err(Error::UnknownFormat { .. })
    ));
    let txt = TempFile::new("conf.txt", "{\"a\": 1}");
    let c = LayeredConfig::builder()
        .file_with_format(&txt.0, Format::Json)
        .build()
        .unwrap();
    assert_eq!(c.get("a"), Some(json!(1)));
    assert!(matches!(
        LayeredConfig::builder().defaults(&5).build(),
        Err(Error::NotATable { .. })
    ));
    assert!(matches!(
        LayeredConfig::builder().set_default("a.", 1).build(),
        Err(Error::InvalidKey { .. })
    ));
    let e = env(&[("APP_DB", "x"), ("APP_DB__HOST", "y")]);
    let err = LayeredConfig::builder()
        .env_from("APP_", provider(&e))
        .build()
        .unwrap_err();
    assert_eq!(
        err,
        Error::EnvConflict {
            var: "APP_DB__HOST".into(),
            other: "APP_DB".into()
        }
    );
    let e = env(&[("APP_A__B__C", "x"), ("APP_A__B", "y")]);
    let err = LayeredConfig::builder()
        .env_from("APP_", provider(&e))
        .build()
        .unwrap_err();
    assert_eq!(
        err,
        Error::EnvConflict {
            var: "APP_A__B__C".into(),
            other: "APP_A__B".into()
        }
    );
    let e = env(&[("APP_", "x")]);
    assert!(matches!(
        LayeredConfig::builder()
            .env_from("APP_", provider(&e))
            .build(),
        Err(Error::InvalidEnvVar { .. })
    ));
}

#[test]
fn env_name_mapping() {
    assert_eq!(
        env_var_to_key("APP_", "APP_DATABASE__POOL__MAX").unwrap(),
        Some("database.pool.max".into())
    );
    assert_eq!(env_var_to_key("APP_", "app_x").unwrap(), None);
    assert!(env_var_to_key("APP_", "APP_A__").is_err());
    assert!(env_var_to_key("APP_", "APP_A.B").is_err());
    assert_eq!(
        key_to_env_var("APP_", "log_level").unwrap(),
        "APP_LOG_LEVEL"
    );
    assert!(key_to_env_var("APP_", "a_").is_err());
    assert!(key_to_env_var("APP_", "a__b").is_err());
}

#[test]
fn set_unset_and_subscribers() {
    let c = LayeredConfig::builder()
        .set_default("a", 1)
        .set_default("b.c", 2)
        .build()
        .unwrap();
    type Seen = Vec<(Vec<String>, u64)>;
    let seen: Arc<Mutex<Seen>> = Arc::default();
    let sub = {
        let seen = Arc::clone(&seen);
        c.subscribe(move |ch: &ConfigChange| {
            seen.lock()
                .unwrap()
                .push((ch.keys().to_vec(), ch.snapshot().generation()))
        })
    };
    assert_eq!(c.set("b.c", 3).unwrap(), ["b.c"]);
    assert_eq!(c.set("b.c", 3).unwrap(), Vec::<String>::new()); // no change, no call
                                                                // `set` replaces what the runtime layer had at the path (b.c = 3 goes);
                                                                // the layers below still merge in (b.c = 2 from the defaults).
    assert_eq!(c.set("b", json!({"d": true})).unwrap(), ["b.c", "b.d"]);
    assert_eq!(c.get("b"), Some(json!({"c": 2, "d": true})));
    assert_eq!(c.unset("b").unwrap(), ["b.d"]);
    assert_eq!(c.get("b.c"), Some(json!(2)));
    assert_eq!(c.unset("zzz").unwrap(), Vec::<String>::new());
    assert_eq!(
        *seen.lock().unwrap(),
        [
            (vec!["b.c".to_string()], 1),
            (vec!["b.c".to_string(), "b.d".to_string()], 3),
            (vec!["b.d".to_string()], 4)
        ]
    );
    drop(sub);
    c.set("a", 9).unwrap();
    assert_eq!(seen.lock().unwrap().len(), 3);
    assert_eq!(c.snapshot().generation(), 5);
}

#[test]
fn reload_rereads_file_and_env_and_keeps_runtime() {
    let file = TempFile::new("reload.toml", "port = 80\nhost = \"a\"\n");
    let e = env(&[("APP_WORKERS", "4")]);
    let c = LayeredConfig::builder()
        .set_default("timeout", 30)
        .file(&file.0)
        .env_from("APP_", provider(&e))
        .build()
        .unwrap();
    c.set("debug", true).unwrap();
    let changes: Arc<Mutex<Vec<Vec<String>>>> = Arc::default();
    let _sub = {
        let changes = Arc::clone(&changes);
        c.subscribe(move |ch| changes.lock().unwrap().push(ch.keys().to_vec()))
    };
    let before = c.snapshot();
    file.write("port = 81\nhost = \"a\"\nextra = 1\n");
    *e.lock().unwrap() = vec![("APP_WORKERS".into(), "8".into())];
    assert_eq!(c.reload().unwrap(), ["extra", "port", "workers"]);
    assert_eq!(c.get_as::<u16>("port").unwrap(), 81);
    assert_eq!(c.get_as::<u16>("workers").unwrap(), 8);
    assert_eq!(c.get("debug"), Some(json!(true)));
    assert_eq!(c.get("timeout"), Some(json!(30)));
    assert_eq!(before.get("port"), Some(&json!(80))); // old snapshot intact
    assert_eq!(*changes.lock().unwrap(), [vec!["extra", "port", "workers"]]);
    assert_eq!(c.reload().unwrap(), Vec::<String>::new());

    // A broken file: the reload fails and the old config stays.
    file.write("port = [");
    assert!(matches!(c.reload(), Err(Error::Parse { .. })));
    assert_eq!(c.get_as::<u16>("port").unwrap(), 81);
    assert_eq!(changes.lock().unwrap().len(), 1);
}

#[test]
fn readers_see_whole_snapshots_during_reloads() {
    // Every reload writes a, b and c equal; a reader must never see them
    // differ within one snapshot.
    let e = env(&[("APP_A", "0"), ("APP_B", "0"), ("APP_C", "0")]);
    let c = Arc::new(
        LayeredConfig::builder()
            .env_from("APP_", provider(&e))
            .build()
            .unwrap(),
    );
    std::thread::scope(|s| {
        for _ in 0..2 {
            let c = Arc::clone(&c);
            s.spawn(move || {
                let mut last = 0u64;
                for _ in 0..20_000 {
                    let snap = c.snapshot();
                    let a: u64 = snap.get_as("a").unwrap();
                    assert_eq!(a, snap.get_as::<u64>("b").unwrap());
                    assert_eq!(a, snap.get_as::<u64>("c").unwrap());
                    assert!(a >= last, "went back from {last} to {a}");
                    last = a;
                }
            });
        }
        for i in 1..=300u64 {
            let v = i.to_string();
            *e.lock().unwrap() = ["APP_A", "APP_B", "APP_C"]
                .iter()
                .map(|k| (k.to_string(), v.clone()))
                .collect();
            c.reload().unwrap();
        }
    });
}

#[test]
fn display_messages() {
    let e = Error::InvalidEnvVar {
        var: "APP_".into(),
        reason: "empty segment",
    };
    assert!(e.to_string().contains("APP_"));
    assert_eq!(Layer::Env.to_string(), "environment");
    assert!(Format::Json
        .parse("{")
        .unwrap_err()
        .to_string()
        .contains("<text>"));
}
