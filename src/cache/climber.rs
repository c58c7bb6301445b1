//! The adaptive window: how much of a TinyLFU cache is its recency window.
//!
//! W-TinyLFU splits each shard into a small LRU *window* that every new
//! entry enters and a frequency-gated *main* region. The best split depends
//! on the traffic: frequency-heavy traffic (Zipf, loops, scans) wants a
//! window of about 1%, recency-heavy traffic (database buffers, session
//! reads, the Corda trace) wants a third or more, and real traffic moves
//! between the two. A fixed 1% window collapses on recency-heavy traces
//! (0.9% against LRU's 33% on Corda's vault service).
//!
//! [`Climber`] adapts the split by hill climbing on the hit ratio, after
//! Einziger, Eytan, Friedman and Manes ("Adaptive Software Cache
//! Management", Middleware 2018), as Caffeine does, with one difference
//! that matters on real traces: it **rests**. Each sample period (a number
//! of requests proportional to the capacity) it compares the period's hit
//! ratio with the previous one's; while the ratio improves it keeps moving
//! the window the same way, otherwise it turns round; every move shrinks
//! the step (annealing) until the step is negligible, and then the climber
//! holds the window still. A change of the hit ratio larger than
//! [`RESTART`] (the traffic changed) re-anneals it to the full step. A
//! climber that never rests keeps displacing entries on flat hit-ratio
//! curves; Caffeine's notes measure that churn at about ten points on a
//! large Corda replay.
//!
//! A hill climber cannot cross a plateau: when requests come back after a
//! quarter of the capacity, every window below a quarter earns nothing, so
//! small moves see a flat curve and the window stays at 1% (0.6% against
//! LRU's 50% in `tests/cache_phases.rs`). So after [`FLAT_PROBE`] flat
//! samples in a row the climber **probes**: it puts the window across the
//! curve (to half the capacity, or back to 1% from a large window) for one
//! sample, keeps it if that sample earned clearly more than home did, and
//! otherwise goes home and waits twice as long before the next probe (8
//! samples, then 16, up to 1,024), so stationary traffic pays for a few
//! probes only.
//!
//! The inputs are the cache's own hit and miss counters, which every `get`
//! already increments: the climber adds nothing to the hit path. It runs
//! once per sample period, on a writer's path, under a try-lock (a writer
//! that finds it taken goes on), and publishes the window as a share of
//! the capacity that each shard applies at its next write. Its state is a
//! pure function of the counters it is shown, so a replay from one thread
//! is deterministic.

/// Requests per sample, per entry of capacity.
pub(crate) const SAMPLE_PER_ENTRY: u64 = 5;
/// The fewest requests a sample holds (small caches sample less noisily).
const SAMPLE_MIN: u64 = 4_096;
/// The first step, as a share of the capacity.
const STEP: f64 = 0.0625;
/// Each move's step is this times the previous one.
const DECAY: f64 = 0.9;
/// Below this step (a share of the capacity) the climber rests.
const REST: f64 = 0.005;
/// A hit-ratio change of at least this restarts the climb at [`STEP`].
pub(crate) const RESTART: f64 = 0.05;
/// The window starts at this share.
pub(crate) const START: f64 = 0.01;
/// The largest window share (the main region keeps at least 1%).
const MAX_SHARE: f64 = 0.99;
/// The smallest window share: the fixed window's 1%. A smaller window
/// evicts a new entry before its second request can arrive, so a hot key
/// that expired and came back has no chance to show its recency (see
/// `Segment::admit`), and it measured no better on the loop traces.
const MIN_SHARE: f64 = 0.01;

/// The smallest hit-ratio change taken as a change.
const NOISE_FLOOR: f64 = 0.005;
/// Flat samples in a row (no change beyond the noise) before a probe.
const FLAT_PROBE: u32 = 4;
/// Samples between probes after the first refuted one; doubled after each
/// refuted probe, up to [`PROBE_GAP_MAX`].
const PROBE_GAP: u32 = 8;
const PROBE_GAP_MAX: u32 = 1 << 10;
/// Where a probe puts the window: far across the curve from where it is.
const PROBE_LARGE: f64 = 0.5;

/// A probe in progress: where the window was and what it earned there.
#[derive(Debug, Clone, Copy)]
struct Probe {
    home: f64,
    home_rate: f64,
}

/// The hill climber's state; see the module doc.
#[derive(Debug, Clone)]
pub(crate) struct Climber {
    sample: u64,
    /// The counters at the start of the current sample.
    base_requests: u64,
    base_hits: u64,
    /// The previous sample's hit ratio; `None` before the first.
    previous: Option<f64>,
    /// The signed step of the next move, as a share of the capacity.
    step: f64,
    /// Whether the climber is resting (holding the window still).
    resting: bool,
    /// The window, as a share of the capacity.
    share: f64,
    /// Samples in a row whose ratio moved less than the noise.
    flat: u32,
    /// Samples until a probe may start, and the gap after the next refuted one.
    probe_wait: u32,
    probe_gap: u32,
    probe: Option<Probe>,
}

impl Climber {
    /// A climber for a cache of `capacity` (entries, or weight units).
    pub(crate) fn new(capacity: u64) -> Self {
        Climber {
            sample: capacity.saturating_mul(SAMPLE_PER_ENTRY).max(SAMPLE_MIN),
            base_requests: 0,
            base_hits: 0,
            previous: None,
            step: STEP,
            resting: false,
            share: START,
            flat: 0,
            probe_wait: 0,
            probe_gap: PROBE_GAP,
            probe: None,
        }
    }

    /// The window share now.
    #[inline]
    pub(crate) fn share(&self) -> f64 {
        self.share
    }

    #[cfg(feature = "serde")]
    /// Resumes from `share` (a warm restart's saved window), clamped to
    /// the climber's bounds; the climb goes on from there at a full step.
    pub(crate) fn resume(&mut self, share: f64) -> f64 {
        if share.is_finite() {
            self.share = share.clamp(MIN_SHARE, MAX_SHARE);
        }
        self.share
    }

    /// Requests that must pass before [`Climber::observe`] can move.
    #[inline]
    pub(crate) fn due_at(&self) -> u64 {
        self.base_requests.saturating_add(self.sample)
    }

    /// Shown the cache's cumulative request and hit counts; returns the new
    /// window share when a sample period ended and the window moved.
    pub(crate) fn observe(&mut self, requests: u64, hits: u64) -> Option<f64> {
        if requests < self.base_requests || hits < self.base_hits {
            // The counters were reset: start a new sample from here.
            self.base_requests = requests;
            self.base_hits = hits;
            return None;
        }
        let n = requests - self.base_requests;
        if n < self.sample {
            return None;
        }
        let rate = (hits - self.base_hits) as f64 / n as f64;
        self.base_requests = requests;
        self.base_hits = hits;
        // Two standard errors of the difference of two samples' ratios.
        let noise = 2.0 * (2.0 * rate * (1.0 - rate) / n as f64).sqrt();
        if let Some(p) = self.probe.take() {
            return self.judge_probe(p, rate, noise);
        }
        let Some(previous) = self.previous.replace(rate) else {
            // No comparison yet: try a larger window first.
            return self.moved(self.step);
        };
        let delta = rate - previous;
        if delta.abs() >= RESTART {
            // The traffic changed: explore again from a full step, in the
            // direction that last helped (or away from the last move).
            let dir = if delta >= 0.0 { 1.0 } else { -1.0 } * self.step.signum();
            self.resting = false;
            self.flat = 0;
            self.probe_gap = PROBE_GAP;
            self.probe_wait = 0;
            self.step = STEP * dir;
            return self.moved(self.step);
        }
        // Flat: within the noise, and never less than half a point (near a
        // ratio of 0 or 1 the binomial error vanishes).
        self.flat = if delta.abs() > noise.max(NOISE_FLOOR) {
            0
        } else {
            self.flat + 1
        };
        self.probe_wait = self.probe_wait.saturating_sub(1);
        if self.flat >= FLAT_PROBE && self.probe_wait == 0 {
            // A flat curve says nothing about the far side of a plateau:
            // a recency-heavy phase whose reuse distance is a quarter of
            // the capacity earns nothing from any window below a quarter.
            // Look across it for one sample.
            let target = if self.share < PROBE_LARGE / 2.0 {
                PROBE_LARGE
            } else {
                MIN_SHARE
            };
            self.probe = Some(Probe {
                home: self.share,
                home_rate: rate,
            });
            self.share = target;
            return Some(target);
        }
        if self.resting {
            return None;
        }
        // Bold driver, on evidence: keep going only while the ratio rises
        // by more than the sample's own noise; a flat or falling ratio
        // turns round. On stationary traffic, where the window barely
        // matters, the climber so swings back towards where it started and
        // comes to rest instead of drifting on noise.
        let amount = if delta > noise { self.step } else { -self.step };
        self.step = amount * DECAY;
        if self.step.abs() < REST {
            self.resting = true;
        }
        self.moved(amount)
    }

    /// The end of a probe's sample: adopt the probed window if it earned
    /// clearly more than home did, else go home and wait twice as long
    /// before the next probe.
    fn judge_probe(&mut self, p: Probe, rate: f64, noise: f64) -> Option<f64> {
        self.flat = 0;
        if rate > p.home_rate + noise {
            self.previous = Some(rate);
            self.resting = false;
            self.probe_gap = PROBE_GAP;
            self.probe_wait = PROBE_GAP;
            // Climb on from here, onwards in the probe's direction.
            self.step = STEP.copysign(self.share - p.home);
            return None;
        }
        self.previous = Some(p.home_rate);
        self.probe_wait = self.probe_gap;
        self.probe_gap = (self.probe_gap * 2).min(PROBE_GAP_MAX);
        self.share = p.home;
        Some(p.home)
    }

    fn moved(&mut self, amount: f64) -> Option<f64> {
        let share = (self.share + amount).clamp(MIN_SHARE, MAX_SHARE);
        if share == self.share {
            // Against a bound: turn round for the next move.
            self.step = -self.step;
            return None;
        }
        self.share = share;
        Some(share)
    }
}

/// The window share as the fixed-point word shards read (parts per 2^20).
#[inline]
pub(crate) fn to_word(share: f64) -> u64 {
    (share * f64::from(1u32 << 20)).round() as u64
}

/// The window of a shard of `capacity` for a share word.
#[inline]
pub(crate) fn window_of(capacity: u64, word: u64) -> u64 {
    let w = (u128::from(capacity) * u128::from(word)) >> 20;
    let w = u64::try_from(w).unwrap_or(capacity);
    // At least one entry once the shard holds two, as the fixed window had.
    if capacity >= 2 {
        w.clamp(1, capacity - 1)
    } else {
        0
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn waits_for_a_full_sample() {
        let mut c = Climber::new(1_000);
        let n = c.sample;
        assert_eq!(n, 5_000);
        assert_eq!(c.observe(n - 1, 2_000), None);
        assert_eq!(c.observe(n, 2_000), Some(START + STEP));
    }

    #[test]
    fn climbs_while_the_ratio_improves_and_turns_when_it_falls() {
        let mut c = Climber::new(1_000);
        let mut req = 0;
        let mut hits = 0;
        let mut feed = |c: &mut Climber, rate: f64| {
            req += 10_000;
            hits += (rate * 10_000.0) as u64;
            c.observe(req, hits)
        };
        let s1 = feed(&mut c, 0.30).unwrap();
        let s2 = feed(&mut c, 0.32).unwrap();
        assert!(s2 > s1, "improved: keeps growing");
        let s3 = feed(&mut c, 0.31).unwrap();
        assert!(s3 < s2, "fell: turns round");
    }

    #[test]
    fn rests_on_a_flat_curve_and_restarts_on_a_change() {
        let mut c = Climber::new(1_000);
        let (mut req, mut hits) = (0u64, 0u64);
        let mut moves = 0;
        for _ in 0..1_000 {
            req += 10_000;
            hits += 5_000;
            moves += u32::from(c.observe(req, hits).is_some());
        }
        assert!(c.resting, "a flat curve lets the step decay to rest");
        assert!(moves < 300, "{moves} moves");
        let held = c.share();
        req += 10_000;
        hits += 5_000;
        assert_eq!(c.observe(req, hits), None);
        assert_eq!(c.share(), held);
        req += 10_000;
        hits += 9_000; // the traffic changed
        assert!(c.observe(req, hits).is_some());
        assert!(!c.resting);
    }

    #[test]
    fn probes_across_a_flat_plateau_and_adopts_what_pays() {
        let mut c = Climber::new(1_000);
        let n = c.sample;
        let (mut req, mut hits) = (0u64, 0u64);
        // No hits at all: the climber's own moves see nothing, so it probes.
        let mut probed = None;
        for _ in 0..20 {
            req += n;
            if let Some(s) = c.observe(req, hits) {
                if s == PROBE_LARGE {
                    probed = Some(s);
                    break;
                }
            }
        }
        assert_eq!(probed, Some(PROBE_LARGE), "a flat curve is probed");
        // The probe's sample earns 40%: adopted (the window stays).
        req += n;
        hits += 2 * n / 5;
        assert_eq!(c.observe(req, hits), None);
        assert_eq!(c.share(), PROBE_LARGE);
        assert!(c.probe.is_none());
    }

    #[test]
    fn a_refuted_probe_goes_home_and_waits_twice_as_long() {
        let mut c = Climber::new(1_000);
        let n = c.sample;
        let mut req = 0u64;
        let home = loop {
            let before = c.share();
            req += n;
            if c.observe(req, 0) == Some(PROBE_LARGE) {
                break before;
            }
        };
        req += n;
        assert_eq!(c.observe(req, 0), Some(home), "nothing gained: home");
        assert_eq!(c.probe_wait, PROBE_GAP);
        assert_eq!(c.probe_gap, 2 * PROBE_GAP);
    }

    #[test]
    fn reset_counters_start_a_new_sample() {
        let mut c = Climber::new(1_000);
        assert_eq!(c.observe(50_000, 1_000), Some(START + STEP));
        assert_eq!(c.observe(10, 0), None);
        assert_eq!(c.observe(10 + c.sample - 1, 0), None);
    }

    #[test]
    fn windows_stay_inside_the_shard() {
        assert_eq!(window_of(0, to_word(0.5)), 0);
        assert_eq!(window_of(1, to_word(0.5)), 0);
        assert_eq!(window_of(100, to_word(0.0)), 1);
        assert_eq!(window_of(100, to_word(1.0)), 99);
        assert_eq!(window_of(1_000, to_word(0.25)), 250);
        let big = window_of(u64::MAX, to_word(0.99));
        assert!(big > u64::MAX / 100 * 98 && big < u64::MAX);
    }
}
