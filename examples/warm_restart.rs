//! Warm restart on recorded traffic: how much of a cold start's miss storm
//! a [`Snapshot`](latchwork::cache::Snapshot) saves.
//!
//! For each trace of the real-trace suite (`../shared/traces/`, or the
//! directory given as the first argument) at each capacity of its README:
//! an "old process" cache replays the first half of the trace and takes a
//! snapshot (encoded to JSON and decoded again, as a deploy would); a
//! "new process" cache is built (a new hasher seed) and restores it; a
//! cold cache is built beside it. Then all three replay the second half
//! (get, insert on a miss). Printed per case: the misses of the warm and
//! the cold cache in the first capacity's worth of requests after the
//! restart (and their ratio: the goal is at most 10%), and how many
//! requests each takes until its hit ratio, per block of a capacity's worth
//! of requests, is within 1 point of the old process's in the same block.
//!
//! `cargo run --release --features serde --example warm_restart [DIR]`
#[path = "hit_ratio/real.rs"]
mod real;

use latchwork::cache::{Cache, Snapshot};
use std::error::Error;
use std::path::PathBuf;

fn replay(cache: &Cache<u64, u64>, keys: &[u64]) -> Vec<bool> {
    keys.iter()
        .map(|&k| {
            let hit = cache.get(&k).is_some();
            if !hit {
                cache.insert(k, k);
            }
            hit
        })
        .collect()
}

/// Requests until the block hit ratio of `new` is within 1 point of
/// `old`'s in the same block (`None` if never within the replay).
fn caught_up(new: &[bool], old: &[bool], block: usize) -> Option<usize> {
    let rate = |h: &[bool]| h.iter().filter(|&&x| x).count() as f64 / h.len() as f64;
    new.chunks(block)
        .zip(old.chunks(block))
        .position(|(n, o)| rate(n) >= rate(o) - 0.01)
        .map(|i| ((i + 1) * block).min(new.len()))
}

fn main() -> Result<(), Box<dyn Error>> {
    let dir = std::env::args()
        .nth(1)
        .map_or_else(|| PathBuf::from(real::DEFAULT_DIR), PathBuf::from);
    let traces = real::list(&dir)?;
    println!("| trace | capacity | steady | old misses | warm misses | cold misses | warm / cold | warm excess / cold excess | requests to within 1 pt, warm | cold |");
    println!("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|");
    let (mut worst, mut worst_excess, mut steady_cases) = (0.0f64, 0.0f64, 0);
    for t in &traces {
        let keys = real::read(&t.path, usize::MAX)?;
        let (first, second) = keys.split_at(keys.len() / 2);
        for &cap in &t.capacities {
            let old: Cache<u64, u64> = Cache::new(cap as u64)?;
            replay(&old, first);
            let bytes = old.snapshot().to_json();
            let warm: Cache<u64, u64> = Cache::new(cap as u64)?;
            warm.restore(Snapshot::from_json(&bytes)?)?;
            let cold: Cache<u64, u64> = Cache::new(cap as u64)?;
            let (w, c, o) = (
                replay(&warm, second),
                replay(&cold, second),
                replay(&old, second),
            );
            let n = cap.min(second.len());
            let misses = |h: &[bool]| h[..n].iter().filter(|&&x| !x).count();
            let (wm, cm, om) = (misses(&w), misses(&c), misses(&o));
            let ratio = if cm == 0 { 0.0 } else { wm as f64 / cm as f64 };
            // The misses the restart adds over the old process's own.
            let excess = if cm <= om {
                0.0
            } else {
                wm.saturating_sub(om) as f64 / (cm - om) as f64
            };
            // Steady: the old cache had replayed at least 5 capacities'
            // worth of requests and had filled.
            let steady = first.len() >= 5 * cap && old.len() >= cap * 9 / 10;
            if steady {
                steady_cases += 1;
                worst = worst.max(ratio);
                worst_excess = worst_excess.max(excess);
            }
            let fmt = |x: Option<usize>| x.map_or("never".to_string(), |r| r.to_string());
            println!(
                "| {} | {cap} | {} | {om} | {wm} | {cm} | {:.1}% | {:.1}% | {} | {} |",
                t.name,
                if steady { "yes" } else { "no" },
                ratio * 100.0,
                excess * 100.0,
                fmt(caught_up(&w, &o, cap)),
                fmt(caught_up(&c, &o, cap)),
            );
        }
    }
    println!(
        "\nover the {steady_cases} steady cases: worst warm/cold miss ratio {:.1}% (goal: at most 10%); \
         worst share of the cold start's excess misses (over the old process's) left after a warm start {:.1}%",
        worst * 100.0,
        worst_excess * 100.0
    );
    Ok(())
}
