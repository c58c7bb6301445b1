use rand::{rngs::SmallRng, SeedableRng};
use rand_distr::{Distribution, Zipf};
fn main() {
    let zipf = Zipf::new(100_000, 0.99).unwrap();
    let mut rng = SmallRng::seed_from_u64(1);
    let keys: Vec<u64> = (0..4_000_000)
        .map(|_| zipf.sample(&mut rng) as u64)
        .collect();
    let c = latchwork::lru::ConcurrentLru::<u64, u64>::new(10_000).unwrap();
    let mut q = lru::LruCache::<u64, u64>::new(std::num::NonZeroUsize::new(10_000).unwrap());
    for round in 0..3 {
        let t = std::time::Instant::now();
        for &k in &keys {
            if c.get(&k).is_none() {
                c.insert(k, k);
            }
        }
        let a = t.elapsed().as_secs_f64();
        let t = std::time::Instant::now();
        for &k in &keys {
            if q.get(&k).is_none() {
                q.put(k, k);
            }
        }
        let b = t.elapsed().as_secs_f64();
        println!(
            "round {round}: concurrent {:.1} Mops/s, lru {:.1} Mops/s",
            4.0 / a,
            4.0 / b
        );
    }
}
