//! Arbitrary environment variables and prefix: the name mapping never
//! panics, refuses malformed names with a typed error and round-trips where
//! it claims to; a config built from them either fails with a typed error
//! or reports every leaf as coming from the variable that maps to it.
#![no_main]
use arbitrary::Arbitrary;
use latchwork::config::{env_var_to_key, key_to_env_var, Error, Layer, LayeredConfig};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input {
    prefix: String,
    vars: Vec<(String, String)>,
    set: Option<(String, String)>,
}

fuzz_target!(|input: Input| {
    let prefix = input.prefix;
    // "APP" and "APP_" name the same prefix.
    let full_prefix = if prefix.is_empty() || prefix.ends_with('_') {
        prefix.clone()
    } else {
        format!("{prefix}_")
    };
    for (var, _) in &input.vars {
        match env_var_to_key(&prefix, var) {
            Ok(Some(key)) => {
                assert!(!key.split('.').any(str::is_empty), "{var} -> {key}");
                if let Ok(back) = key_to_env_var(&prefix, &key) {
                    assert_eq!(env_var_to_key(&prefix, &back).ok(), Some(Some(key)));
                }
            }
            Ok(None) => assert!(!var.starts_with(full_prefix.as_str())),
            Err(Error::InvalidEnvVar { .. }) => {}
            Err(e) => panic!("unexpected error kind: {e:?}"),
        }
    }
    let vars = input.vars.clone();
    let config = match LayeredConfig::builder()
        .env_from(&prefix, move || vars.clone())
        .build()
    {
        Ok(c) => c,
        Err(Error::InvalidEnvVar { .. } | Error::EnvConflict { .. }) => return,
        Err(e) => panic!("unexpected error kind: {e:?}"),
    };
    let snap = config.snapshot();
    for key in snap.keys() {
        let p = snap.source_of(key).expect("a leaf has a source");
        assert_eq!(p.layer(), Layer::Env);
        assert_eq!(
            env_var_to_key(&prefix, p.source())
                .ok()
                .flatten()
                .as_deref(),
            Some(key)
        );
        let _ = snap.get_as::<i64>(key);
        let _ = snap.get_as::<bool>(key);
        let _ = snap.get_as::<f32>(key);
        let _ = snap.get_as::<Vec<String>>(key);
    }
    if let Some((key, value)) = input.set {
        match config.set(&key, &value) {
            Ok(_) => assert_eq!(config.get_as::<String>(&key).ok(), Some(value)),
            Err(Error::InvalidKey { .. }) => {}
            Err(e) => panic!("unexpected error kind: {e:?}"),
        }
    }
    assert!(config.reload().is_ok());
});
