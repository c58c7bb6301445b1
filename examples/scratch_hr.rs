use latchwork::cache::{Cache, Policy};
use rand::SeedableRng;
use rand_distr::Distribution;
fn main() {
    let n_keys = 100_000u64;
    let args: Vec<String> = std::env::args().collect();
    let s: f64 = args.get(1).map_or(0.99, |a| a.parse().unwrap());
    let cap: u64 = args.get(2).map_or(10_000, |a| a.parse().unwrap());
    let mut rng = rand::rngs::SmallRng::seed_from_u64(42);
    let z = rand_distr::Zipf::new(n_keys, s).unwrap();
    let kind = args.get(3).map_or("zipf", |s| s.as_str());
    let trace: Vec<u64> = match kind {
        "loop" => (0..1_000_000u64).map(|i| i % (cap * 3 / 2)).collect(),
        "scan" => {
            let mut t = vec![];
            let mut cold = 1_000_000u64;
            for i in 0..1_000_000u64 {
                if i % 100_000 == 50_000 {
                    for _ in 0..20_000 {
                        t.push(cold);
                        cold += 1;
                    }
                }
                t.push(z.sample(&mut rng) as u64);
            }
            t
        }
        "ohw" => {
            let hot = rand_distr::Zipf::new(n_keys / 50, s).unwrap();
            let mut fresh = 10_000_000u64;
            (0..1_000_000)
                .map(|i| {
                    if i % 2 == 0 {
                        hot.sample(&mut rng) as u64
                    } else {
                        fresh += 1;
                        fresh
                    }
                })
                .collect()
        }
        _ => (0..1_000_000).map(|_| z.sample(&mut rng) as u64).collect(),
    };
    let run = |name: &str, mut f: Box<dyn FnMut(u64) -> bool>| {
        let hits = trace.iter().filter(|&&k| f(k)).count();
        println!("{name:24} {:.2}%", hits as f64 * 100.0 / trace.len() as f64);
    };
    for (name, p, shards) in [
        ("tinylfu", Policy::TinyLfu, None),
        ("tinylfu 1 shard", Policy::TinyLfu, Some(1)),
        ("lru", Policy::Lru, None),
    ] {
        let mut b = Cache::builder().max_capacity(cap).policy(p);
        if let Some(n) = shards {
            b = b.shards(n);
        }
        let c = b.build().unwrap();
        println!("shards {}", c.shard_count());
        run(
            name,
            Box::new(move |k| {
                if c.get(&k).is_some() {
                    true
                } else {
                    c.insert(k, k);
                    false
                }
            }),
        );
    }
    let mut l = latchwork::lru::LruCache::new(cap as usize).unwrap();
    run(
        "LruCache",
        Box::new(move |k| {
            if l.get(&k).is_some() {
                true
            } else {
                l.put(k, k);
                false
            }
        }),
    );
    let q = quick_cache::sync::Cache::new(cap as usize);
    run(
        "quick_cache",
        Box::new(move |k| {
            if q.get(&k).is_some() {
                true
            } else {
                q.insert(k, k);
                false
            }
        }),
    );
    let m = moka::sync::Cache::new(cap);
    run(
        "moka",
        Box::new(move |k| {
            if m.get(&k).is_some() {
                true
            } else {
                m.insert(k, k);
                false
            }
        }),
    );
}
