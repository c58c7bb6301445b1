//! Arbitrary text parsed as TOML and as JSON: never a panic; a parse
//! failure is a typed error; a success is a table that a `LayeredConfig`
//! takes as defaults and whose every key survives typed reads (each an
//! `Ok` or an `Error::Type` naming that key).
#![no_main]
use latchwork::config::{Error, Format, Layer, LayeredConfig, Value};
use libfuzzer_sys::fuzz_target;
use std::collections::HashMap;

fn typed_reads(config: &LayeredConfig) {
    let snap = config.snapshot();
    for key in snap.keys() {
        let check = |r: Result<(), Error>| match r {
            Ok(()) => {}
            Err(Error::Type {
                key: k, provenance, ..
            }) => {
                assert!(k.starts_with(key), "{k} outside {key}");
                assert_eq!(provenance.map(|p| p.layer()), Some(Layer::Defaults));
            }
            Err(e) => panic!("unexpected error for {key}: {e:?}"),
        };
        check(snap.get_as::<u64>(key).map(drop));
        check(snap.get_as::<i8>(key).map(drop));
        check(snap.get_as::<bool>(key).map(drop));
        check(snap.get_as::<f64>(key).map(drop));
        check(snap.get_as::<String>(key).map(drop));
        check(snap.get_as::<Option<Vec<u16>>>(key).map(drop));
        check(snap.get_as::<HashMap<String, Value>>(key).map(drop));
        assert!(snap.source_of(key).is_some());
    }
    let _ = snap.extract::<HashMap<String, Value>>();
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for format in [Format::Toml, Format::Json] {
        match format.parse(text) {
            Ok(value) => {
                assert!(value.is_object());
                let config = LayeredConfig::builder().defaults(&value).build();
                typed_reads(&config.expect("a parsed table is valid defaults"));
            }
            Err(Error::Parse { .. } | Error::NotATable { .. }) => {}
            Err(e) => panic!("unexpected error kind: {e:?}"),
        }
    }
});
