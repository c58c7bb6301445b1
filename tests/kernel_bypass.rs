//! Keeps the house one piece: no module outside the kernel (`src/sync/`)
//! writes its own copy of the kernel's machinery. Reads every source file
//! under `src/` (its code, not its test modules, which may drive threads
//! by hand) and fails, naming file and line, when a module outside the
//! kernel
//! - backs off with `crossbeam_utils::Backoff` or spins by hand
//!   (`spin_loop`, `yield_now`) instead of the kernel's `SpinWait` ladder;
//! - reads the machine's parallelism (`available_parallelism`) instead of
//!   `sync::available_cpus` / `sync::stripe_count`;
//! - builds or holds a wait key (`WaitKey`) instead of using the kernel's
//!   one future (`sync::waiting::Waiting`) or `Registration`.
use std::fs;
use std::path::{Path, PathBuf};

/// What a module outside the kernel must not name, and what to use instead.
const FORBIDDEN: &[(&str, &str)] = &[
    (
        "crossbeam_utils::Backoff",
        "the kernel's `sync::spin::SpinWait`",
    ),
    ("Backoff::new", "the kernel's `sync::spin::SpinWait`"),
    ("spin_loop", "the kernel's `sync::spin::SpinWait`"),
    ("yield_now", "the kernel's `sync::spin::SpinWait`"),
    (
        "available_parallelism",
        "`sync::available_cpus` or `sync::stripe_count`",
    ),
    (
        "WaitKey",
        "the kernel's `sync::waiting::Waiting` (or `Registration`)",
    ),
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("src/ is readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The file's code before its first test module (`#[cfg(test)]` or
/// `#[cfg(all(test, ...))]` on a `mod`), which by the crate's habit ends
/// the file.
fn code_of(text: &str) -> Vec<(usize, &str)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut code = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let t = line.trim_start();
        let is_test_cfg = t.starts_with("#[cfg(test)]") || t.starts_with("#[cfg(all(test");
        if is_test_cfg
            && lines
                .get(i + 1)
                .is_some_and(|next| next.trim_start().starts_with("mod "))
        {
            break;
        }
        code.push((i + 1, *line));
    }
    code
}

#[test]
fn no_module_bypasses_the_kernel() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let kernel = root.join("src").join("sync");
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    files.sort();
    assert!(
        files.len() > 50,
        "found only {} files under src/",
        files.len()
    );
    let mut bypasses = Vec::new();
    for file in files.iter().filter(|f| !f.starts_with(&kernel)) {
        let text = fs::read_to_string(file).expect("a readable source file");
        for (n, line) in code_of(&text) {
            for (needle, instead) in FORBIDDEN {
                if line.contains(needle) {
                    bypasses.push(format!(
                        "{}:{n}: names `{needle}`; use {instead}",
                        file.strip_prefix(root).unwrap_or(file).display()
                    ));
                }
            }
        }
    }
    assert!(
        bypasses.is_empty(),
        "modules bypass the kernel (src/sync/):\n{}",
        bypasses.join("\n")
    );
}

#[test]
fn the_kernel_holds_what_the_check_points_to() {
    // The check is only as good as the names it points to: they exist.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src")
        .join("sync");
    let read = |f: &str| fs::read_to_string(root.join(f)).expect("a kernel file");
    assert!(read("spin.rs").contains("pub(crate) struct SpinWait"));
    assert!(read("waiting.rs").contains("pub(crate) struct Waiting"));
    assert!(read("waiting.rs").contains("pub(crate) struct Registration"));
    assert!(read("once.rs").contains("pub(crate) struct OneShot"));
    assert!(read("stripe.rs").contains("pub(crate) fn available_cpus"));
    assert!(read("wait.rs").contains("pub(crate) struct WaitKey"));
}

#[test]
fn test_modules_are_not_read_as_code() {
    let text = "fn a() {}\n#[cfg(all(test, not(loom)))]\nmod tests {\n    yield_now();\n}\n";
    let code: Vec<&str> = code_of(text).into_iter().map(|(_, l)| l).collect();
    assert_eq!(code, ["fn a() {}"]);
}
