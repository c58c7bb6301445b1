#![cfg(all(loom, feature = "config"))]
//! loom models of the config swap: a reader's snapshot is wholly the old
//! configuration or wholly the new one, never a mix, whether the swap is a
//! `reload` or a `set`; and concurrent writers each land exactly once.
//! (Test names start with `loom_` so `.ci/run`'s `loom` name filter
//! selects them.)

use latchwork::config::LayeredConfig;
use loom::sync::Arc;
use loom::thread;
use std::sync::Mutex;

fn pairs(v: &str) -> Vec<(String, String)> {
    ["APP_A", "APP_B__C"]
        .iter()
        .map(|k| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn loom_reload_swap_is_never_torn() {
    loom::model(|| {
        let env = std::sync::Arc::new(Mutex::new(pairs("0")));
        let config = Arc::new(
            LayeredConfig::builder()
                .env_from("APP_", {
                    let env = std::sync::Arc::clone(&env);
                    move || env.lock().unwrap().clone()
                })
                .build()
                .unwrap(),
        );
        let reader = {
            let config = config.clone();
            thread::spawn(move || {
                let mut last = 0;
                for _ in 0..2 {
                    let snap = config.snapshot();
                    let a: u32 = snap.get_as("a").unwrap();
                    assert_eq!(a, snap.get_as::<u32>("b.c").unwrap(), "torn snapshot");
                    assert_eq!(u64::from(a), snap.generation());
                    assert!(a >= last);
                    last = a;
                }
            })
        };
        *env.lock().unwrap() = pairs("1");
        assert_eq!(config.reload().unwrap(), ["a", "b.c"]);
        reader.join().unwrap();
        assert_eq!(config.get_as::<u32>("a").unwrap(), 1);
    });
}

#[test]
fn loom_concurrent_sets_each_land_once() {
    loom::model(|| {
        let config = Arc::new(
            LayeredConfig::builder()
                .set_default("x", 0)
                .set_default("y", 0)
                .build()
                .unwrap(),
        );
        let seen = std::sync::Arc::new(Mutex::new(Vec::new()));
        let _sub = {
            let seen = std::sync::Arc::clone(&seen);
            config.subscribe(move |ch| {
                seen.lock()
                    .unwrap()
                    .push((ch.snapshot().generation(), ch.keys().to_vec()))
            })
        };
        let other = {
            let config = config.clone();
            thread::spawn(move || config.set("x", 1).unwrap())
        };
        config.set("y", 2).unwrap();
        other.join().unwrap();
        let snap = config.snapshot();
        assert_eq!(snap.generation(), 2);
        assert_eq!(
            (
                snap.get_as::<u8>("x").unwrap(),
                snap.get_as::<u8>("y").unwrap()
            ),
            (1, 2)
        );
        // Subscribers saw both swaps, in order.
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 2);
        assert_eq!((seen[0].0, seen[1].0), (1, 2));
    });
}
