//! A tour of latchwork: each section runs one module on a realistic
//! workload and prints what it measured.
//!
//! Run with `cargo run --release --example tour`.

mod cache_section;
mod config_section;
mod event_section;
mod freq_section;
mod lru_section;
mod paginate_section;
mod pipeline_section;
mod queue_section;
mod ratelimit_section;
mod retry_section;
mod ttl_section;

use std::time::Instant;

/// Prints a section heading.
pub fn heading(title: &str) {
    println!("\n=== {title} ===");
}

/// Runs `f`, returning its result and the seconds it took.
pub fn timed<R>(f: impl FnOnce() -> R) -> (R, f64) {
    let t0 = Instant::now();
    let r = f();
    (r, t0.elapsed().as_secs_f64())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("latchwork tour ({} threads available)", threads());
    lru_section::run()?;
    cache_section::run()?;
    retry_section::run()?;
    ttl_section::run()?;
    freq_section::run()?;
    ratelimit_section::run()?;
    config_section::run()?;
    queue_section::run()?;
    event_section::run()?;
    paginate_section::run()?;
    pipeline_section::run()?;
    println!("\ntour complete");
    Ok(())
}

/// Worker threads the sections use: the machine's parallelism, at least 2.
pub fn threads() -> usize {
    std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .max(2)
}
