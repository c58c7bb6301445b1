#![cfg(all(not(loom), feature = "config"))]
//! The environment layer's entry points: the prefix with or without its
//! `_`, the process environment (`env`), and `unused_env`, which lists the
//! variables under the prefix that the configuration type does not read.
//!
//! Tests that use the process environment set variables under a prefix of
//! their own (`LWENV<n>_`), so tests running in parallel never see each
//! other's variables.

use latchwork::config::{env_var_to_key, key_to_env_var, Error, Layer, LayeredConfig};
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[derive(Deserialize, Debug, PartialEq)]
struct Pool {
    max: u32,
    #[serde(default)]
    idle_secs: u64,
}

#[derive(Deserialize, Debug, PartialEq)]
struct Database {
    url: String,
    pool: Pool,
}

#[derive(Deserialize, Debug, PartialEq)]
struct App {
    database: Database,
    #[serde(default)]
    hosts: Vec<String>,
    #[serde(default)]
    debug: Option<bool>,
}

const APP_VARS: &[(&str, &str)] = &[
    ("APP_DATABASE__URL", "postgres://db"),
    ("APP_DATABASE__POOL__MAX", "20"),
    ("APP_HOSTS__0", "a"),
    ("APP_HOSTS__1", "b"),
    ("APPLE_PIE", "not ours"),
    ("HOME", "/root"),
];

#[test]
fn prefix_with_or_without_its_underscore_is_one_source() {
    let build = |prefix: &str| {
        let v = vars(APP_VARS);
        LayeredConfig::builder()
            .env_from(prefix, move || v.clone())
            .build()
            .unwrap()
    };
    let (bare, full) = (build("APP"), build("APP_"));
    assert_eq!(bare.snapshot().as_value(), full.snapshot().as_value());
    assert_eq!(bare.snapshot().keys(), full.snapshot().keys());
    for key in full.snapshot().keys() {
        assert_eq!(bare.source_of(key), full.source_of(key), "{key}");
    }
    // `APP` does not read `APPLE_PIE` as `le_pie`.
    assert_eq!(bare.get("le_pie"), None);
    assert_eq!(bare.get("_pie"), None);
    let app: App = bare.extract().unwrap();
    assert_eq!(app.database.pool.max, 20);
    assert_eq!(app.hosts, ["a", "b"]);
    // A table's provenance names the full prefix either way.
    let table = bare.source_of("database").unwrap();
    assert_eq!(
        (table.layer(), table.source()),
        (Layer::Env, "APP_DATABASE__*")
    );
    for config in [&bare, &full] {
        assert!(format!("{config:?}").contains("env_prefix: Some(\"APP_\")"));
    }
}

#[test]
fn the_name_mapping_takes_either_spelling() {
    for prefix in ["APP", "APP_"] {
        assert_eq!(
            env_var_to_key(prefix, "APP_DATABASE__POOL__MAX")
                .unwrap()
                .as_deref(),
            Some("database.pool.max")
        );
        assert_eq!(env_var_to_key(prefix, "APPLE_PIE").unwrap(), None);
        assert_eq!(env_var_to_key(prefix, "APP").unwrap(), None);
        assert!(env_var_to_key(prefix, "APP_").is_err());
        assert_eq!(
            key_to_env_var(prefix, "database.pool.max").unwrap(),
            "APP_DATABASE__POOL__MAX"
        );
    }
    // The empty prefix takes every variable; one ending in `_` is kept.
    assert_eq!(
        env_var_to_key("", "LOG__LEVEL").unwrap().as_deref(),
        Some("log.level")
    );
    assert_eq!(
        env_var_to_key("APP__", "APP__X").unwrap().as_deref(),
        Some("x")
    );
}

#[test]
fn process_environment_with_either_prefix_spelling() {
    std::env::set_var("LWENV1_SERVER__PORT", "9090");
    std::env::set_var("LWENV1_LOG_LEVEL", "debug");
    std::env::set_var("LWENV1X_SERVER__PORT", "1");
    let build = |prefix: &str| LayeredConfig::builder().env(prefix).build().unwrap();
    let (bare, full) = (build("LWENV1"), build("LWENV1_"));
    for config in [&bare, &full] {
        assert_eq!(config.get_as::<u16>("server.port").unwrap(), 9090);
        assert_eq!(config.get_as::<String>("log_level").unwrap(), "debug");
        assert_eq!(
            config.source_of("server.port").unwrap().source(),
            "LWENV1_SERVER__PORT"
        );
        assert_eq!(config.snapshot().keys(), ["log_level", "server.port"]);
    }
    // Reload reads the process environment again.
    std::env::set_var("LWENV1_SERVER__PORT", "9091");
    assert_eq!(bare.reload().unwrap(), ["server.port"]);
    assert_eq!(bare.get_as::<u16>("server.port").unwrap(), 9091);
}

#[test]
fn unused_env_lists_what_the_type_does_not_read() {
    let v = vars(&[
        ("APP_DATABASE__URL", "postgres://db"),
        ("APP_DATABASE__POOL__MAX", "20"),
        ("APP_DATABASE__POOL__SIZE", "8"), // no such field in Pool
        ("APP_DATABSE__URL", "typo"),      // no such table in App
        ("APP_HOSTS__0", "a"),
        ("APP_DEBUG", "yes"),
        ("APPLE_PIE", "not under the prefix"),
    ]);
    let config = LayeredConfig::builder()
        .set_default("database.pool.idle_secs", 30)
        .set_default("unrelated.default", 1) // not an env variable
        .env_from("APP", move || v.clone())
        .build()
        .unwrap();
    let app: App = config.extract().unwrap();
    assert_eq!(
        app.database.pool,
        Pool {
            max: 20,
            idle_secs: 30
        }
    );
    assert_eq!(app.debug, Some(true));
    assert_eq!(
        config.unused_env::<App>().unwrap(),
        ["APP_DATABASE__POOL__SIZE", "APP_DATABSE__URL"]
    );
    // Per type: a type that reads only the database ignores the rest.
    #[derive(Deserialize)]
    struct OnlyDb {
        #[allow(dead_code)]
        database: Database,
    }
    assert_eq!(
        config.unused_env::<OnlyDb>().unwrap(),
        [
            "APP_DATABASE__POOL__SIZE",
            "APP_DATABSE__URL",
            "APP_DEBUG",
            "APP_HOSTS__0"
        ]
    );
    // A map takes every key: nothing is unused.
    assert!(config
        .unused_env::<HashMap<String, serde_json::Value>>()
        .unwrap()
        .is_empty());
    // A snapshot answers for the configuration it holds.
    let snap = config.snapshot();
    assert_eq!(snap.unused_env::<App>(), config.unused_env::<App>());
}

#[test]
fn unused_env_lists_variables_a_runtime_override_replaces_or_hides() {
    let v = vars(&[
        ("APP_DATABASE__URL", "postgres://db"),
        ("APP_DATABASE__POOL__MAX", "20"),
    ]);
    let config = LayeredConfig::builder()
        .env_from("APP_", move || v.clone())
        .build()
        .unwrap();
    assert!(config.unused_env::<App>().unwrap().is_empty());
    config.set("database.url", "postgres://override").unwrap();
    assert_eq!(config.unused_env::<App>().unwrap(), ["APP_DATABASE__URL"]);
    config.unset("database.url").unwrap();
    config.set("database", "a string now").unwrap();
    // `App` no longer extracts: the error is extract's.
    assert!(matches!(
        config.unused_env::<App>(),
        Err(Error::Type { ref key, .. }) if key == "database"
    ));
    assert_eq!(
        config.unused_env::<serde_json::Value>().unwrap(),
        ["APP_DATABASE__POOL__MAX", "APP_DATABASE__URL"]
    );
}

#[test]
fn unused_env_follows_reloads_and_skipped_fields() {
    #[derive(Deserialize)]
    struct Skips {
        #[allow(dead_code)]
        kept: u8,
        #[serde(skip)]
        #[allow(dead_code)]
        skipped: u8,
    }
    let env = Arc::new(Mutex::new(vars(&[("APP_KEPT", "1")])));
    let e = Arc::clone(&env);
    let config = LayeredConfig::builder()
        .env_from("APP", move || e.lock().unwrap().clone())
        .build()
        .unwrap();
    assert!(config.unused_env::<Skips>().unwrap().is_empty());
    env.lock().unwrap().push(("APP_SKIPPED".into(), "2".into()));
    config.reload().unwrap();
    assert_eq!(config.unused_env::<Skips>().unwrap(), ["APP_SKIPPED"]);
    // Without an environment layer there is nothing to report.
    let plain = LayeredConfig::builder()
        .set_default("kept", 1)
        .set_default("other", 2)
        .build()
        .unwrap();
    assert!(plain.unused_env::<Skips>().unwrap().is_empty());
}

#[test]
fn unused_env_from_the_process_environment() {
    std::env::set_var("LWENV2_DATABASE__URL", "postgres://db");
    std::env::set_var("LWENV2_DATABASE__POOL__MAX", "4");
    std::env::set_var("LWENV2_DATABASE__POOL__MAXX", "5");
    let config = LayeredConfig::builder().env("LWENV2").build().unwrap();
    assert_eq!(config.extract::<App>().unwrap().database.pool.max, 4);
    assert_eq!(
        config.unused_env::<App>().unwrap(),
        ["LWENV2_DATABASE__POOL__MAXX"]
    );
}

/// A variable under the prefix whose value is not UTF-8 cannot be held;
/// it is listed, not dropped silently.
#[cfg(unix)]
#[test]
fn unused_env_lists_unreadable_variables() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    std::env::set_var("LWENV3_NAME", "ok");
    std::env::set_var("LWENV3_BAD", OsStr::from_bytes(b"\xff\xfe"));
    std::env::set_var("LWENV3X_BAD", OsStr::from_bytes(b"\xff"));
    let config = LayeredConfig::builder().env("LWENV3_").build().unwrap();
    assert_eq!(config.get_as::<String>("name").unwrap(), "ok");
    assert_eq!(config.get("bad"), None);
    #[derive(Deserialize)]
    struct Named {
        #[allow(dead_code)]
        name: String,
    }
    assert_eq!(config.unused_env::<Named>().unwrap(), ["LWENV3_BAD"]);
}
