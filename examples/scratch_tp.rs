use latchwork::cache::{Cache, Policy};
use rand::SeedableRng;
use rand_distr::Distribution;
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let which = args.get(1).map_or("tinylfu", |s| s.as_str()).to_string();
    let mut rng = rand::rngs::SmallRng::seed_from_u64(42);
    let z = rand_distr::Zipf::new(100_000, 0.99).unwrap();
    let mode = args.get(2).map_or("zipf", |s| s.as_str()).to_string();
    let trace: Vec<u64> = if mode == "hit" {
        (0..2_000_000u64).map(|i| (i * 7919) % 5000).collect()
    } else if mode == "miss" {
        (0..2_000_000u64).map(|i| i).collect()
    } else {
        (0..2_000_000).map(|_| z.sample(&mut rng) as u64).collect()
    };
    let mut best = f64::MAX;
    for _ in 0..5 {
        let t0 = std::time::Instant::now();
        let mut hits = 0;
        match which.as_str() {
            "qc" => {
                let c = quick_cache::sync::Cache::new(10_000);
                for &k in &trace {
                    if c.get(&k).is_some() {
                        hits += 1
                    } else {
                        c.insert(k, k)
                    }
                }
            }
            p => {
                let c = Cache::builder()
                    .max_capacity(10_000)
                    .policy(if p == "lru" {
                        Policy::Lru
                    } else {
                        Policy::TinyLfu
                    })
                    .build()
                    .unwrap();
                for &k in &trace {
                    if c.get(&k).is_some() {
                        hits += 1
                    } else {
                        c.insert(k, k);
                    }
                }
            }
        }
        let dt = t0.elapsed().as_secs_f64();
        best = best.min(dt);
        std::hint::black_box(hits);
    }
    println!(
        "{which}: {:.1} Mops/s (best of 5)",
        trace.len() as f64 / best / 1e6
    );
}
