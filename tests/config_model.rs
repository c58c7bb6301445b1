#![cfg(all(not(loom), feature = "config"))]
//! Model tests: `LayeredConfig` against a chain of flat maps (the
//! reference in `common/config_reference.rs`) over random layers and random
//! `set`/`unset`/`reload` sequences, every return value and every key
//! checked after each step; and the environment-name mapping round trips.

#[path = "common/config_reference.rs"]
mod config_reference;

use config_reference::{changed, consistent, leaves, lookup, set, unset, Flat, Found};
use latchwork::config::{env_var_to_key, key_to_env_var, Layer, LayeredConfig};
use proptest::prelude::*;
use serde_json::{json, Map, Value};
use std::sync::{Arc, Mutex};

const LAYERS: [Layer; 4] = [Layer::Defaults, Layer::File, Layer::Env, Layer::Runtime];
const DEFAULTS: usize = 0;
const FILE: usize = 1;
const ENV: usize = 2;
const RUNTIME: usize = 3;

fn key() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(vec!["a", "b", "c"]), 1..=3)
        .prop_map(|s| s.join("."))
}

fn all_keys() -> Vec<String> {
    let segs = ["a", "b", "c"];
    let mut out: Vec<String> = segs.iter().map(|s| s.to_string()).collect();
    for _ in 0..2 {
        let longer: Vec<String> = out
            .iter()
            .filter(|k| k.split('.').count() == out.last().map_or(1, |l| l.split('.').count()))
            .flat_map(|k| segs.iter().map(move |s| format!("{k}.{s}")))
            .collect();
        out.extend(longer);
    }
    out
}

fn layer(strings: bool) -> impl Strategy<Value = Flat> {
    prop::collection::btree_map(key(), 0..4u8, 0..6).prop_map(move |m| {
        consistent(
            m.into_iter()
                .map(|(k, v)| {
                    let v = if strings {
                        json!(v.to_string())
                    } else {
                        json!(v)
                    };
                    (k, v)
                })
                .collect(),
        )
    })
}

#[derive(Clone, Debug)]
enum Op {
    Set(String, u8),
    Unset(String),
    Reload(Flat, Flat),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (key(), 0..4u8).prop_map(|(k, v)| Op::Set(k, v)),
        2 => key().prop_map(Op::Unset),
        1 => (layer(false), layer(true)).prop_map(|(f, e)| Op::Reload(f, e)),
    ]
}

fn nested(flat: &Flat) -> Value {
    let mut root = Map::new();
    for (k, v) in flat {
        let segs: Vec<&str> = k.split('.').collect();
        let mut t = &mut root;
        for s in &segs[..segs.len() - 1] {
            t = t
                .entry(s.to_string())
                .or_insert_with(|| json!({}))
                .as_object_mut()
                .unwrap();
        }
        t.insert(segs[segs.len() - 1].to_string(), v.clone());
    }
    Value::Object(root)
}

fn env_pairs(flat: &Flat) -> Vec<(String, String)> {
    flat.iter()
        .map(|(k, v)| {
            (
                key_to_env_var("APP_", k).unwrap(),
                v.as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn check(config: &LayeredConfig, layers: &[Flat]) {
    let snap = config.snapshot();
    for k in all_keys() {
        let found = lookup(layers, &k);
        let got = snap.get(&k);
        let source = snap.source_of(&k).map(|p| p.layer());
        match &found {
            Found::Leaf(v, i) => {
                assert_eq!(got, Some(v), "get({k})");
                assert_eq!(source, Some(LAYERS[*i]), "source_of({k})");
            }
            Found::Table(i) => {
                assert!(
                    got.is_some_and(Value::is_object),
                    "get({k}) = {got:?}, want a table"
                );
                assert_eq!(source, Some(LAYERS[*i]), "source_of({k})");
            }
            Found::Missing => {
                assert_eq!(got, None, "get({k})");
                assert_eq!(source, None, "source_of({k})");
            }
        }
    }
    let want: Vec<String> = leaves(layers).into_keys().collect();
    assert_eq!(snap.keys(), want);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn layered_lookup_equals_reference_chain(
        defaults in layer(false),
        file in layer(false),
        env in layer(true),
        ops in prop::collection::vec(op(), 0..24),
    ) {
        let path = std::env::temp_dir().join(format!(
            "latchwork-config-model-{}-{:?}.json",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::write(&path, nested(&file).to_string()).unwrap();
        let env_now = Arc::new(Mutex::new(env_pairs(&env)));
        let mut b = LayeredConfig::builder().file(&path).env_from("APP_", {
            let env_now = Arc::clone(&env_now);
            move || env_now.lock().unwrap().clone()
        });
        for (k, v) in &defaults {
            b = b.set_default(k, v);
        }
        let config = b.build().unwrap();
        let mut layers = vec![defaults, file, env, Flat::new()];
        check(&config, &layers);
        for op in ops {
            let before = leaves(&layers);
            let got = match op {
                Op::Set(k, v) => {
                    set(&mut layers[RUNTIME], &k, json!(v));
                    config.set(&k, v).unwrap()
                }
                Op::Unset(k) => {
                    unset(&mut layers[RUNTIME], &k);
                    config.unset(&k).unwrap()
                }
                Op::Reload(file, env) => {
                    std::fs::write(&path, nested(&file).to_string()).unwrap();
                    *env_now.lock().unwrap() = env_pairs(&env);
                    layers[FILE] = file;
                    layers[ENV] = env;
                    config.reload().unwrap()
                }
            };
            prop_assert_eq!(got, changed(&before, &leaves(&layers)));
            check(&config, &layers);
        }
        let _ = DEFAULTS;
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn key_to_var_to_key_round_trips(
        segs in prop::collection::vec("[a-z0-9]{1,4}(_[a-z0-9]{1,4}){0,2}", 1..4),
        prefix in "[A-Z]{0,4}_?",
    ) {
        let key = segs.join(".");
        let var = key_to_env_var(&prefix, &key).unwrap();
        prop_assert_eq!(env_var_to_key(&prefix, &var).unwrap(), Some(key));
    }

    #[test]
    fn var_to_key_to_var_round_trips(
        segs in prop::collection::vec("[A-Z0-9]{1,4}(_[A-Z0-9]{1,4}){0,2}", 1..4),
    ) {
        let var = format!("APP_{}", segs.join("__"));
        let key = env_var_to_key("APP_", &var).unwrap().unwrap();
        prop_assert_eq!(key_to_env_var("APP_", &key).unwrap(), var);
    }

    #[test]
    fn env_mapping_never_panics(prefix in ".{0,3}", var in ".{0,12}") {
        if let Ok(Some(key)) = env_var_to_key(&prefix, &var) {
            prop_assert!(!key.is_empty() && !key.split('.').any(str::is_empty));
        }
    }
}
