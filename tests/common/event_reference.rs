//! Sequential references for the event module, shared by the proptest
//! model tests and the fuzz targets (included by `#[path]`).
#![allow(dead_code)]

/// The emitter's topic rule, written independently of the crate's parser.
pub fn pattern_matches(pattern: &str, topic: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    match pattern.strip_suffix('*') {
        Some(prefix) => topic.len() > prefix.len() && topic.starts_with(prefix),
        None => pattern == topic,
    }
}

/// Whether the crate should accept `pattern`.
pub fn pattern_valid(pattern: &str) -> bool {
    if pattern.is_empty() {
        return false;
    }
    if pattern == "*" {
        return true;
    }
    let stars = pattern.matches('*').count();
    stars == 0 || (stars == 1 && pattern.ends_with(".*"))
}

/// One subscription of the reference emitter.
#[derive(Clone, Debug)]
pub struct RefSub {
    pub id: u64,
    pub pattern: String,
    pub priority: i32,
    pub once: bool,
    pub fails: bool,
}

/// A plain sequential emitter: a list of subscriptions, sorted on emit.
#[derive(Debug, Default)]
pub struct EmitterRef {
    pub subs: Vec<RefSub>,
    next_id: u64,
}

impl EmitterRef {
    /// Subscribes; returns the id the crate is expected to assign.
    pub fn on(&mut self, pattern: &str, priority: i32, once: bool, fails: bool) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.subs.push(RefSub {
            id,
            pattern: pattern.to_owned(),
            priority,
            once,
            fails,
        });
        id
    }

    /// Unsubscribes `id`; true if it was registered.
    pub fn off(&mut self, id: u64) -> bool {
        let before = self.subs.len();
        self.subs.retain(|s| s.id != id);
        before != self.subs.len()
    }

    /// Removes every subscription with exactly this pattern.
    pub fn off_all(&mut self, pattern: &str) -> usize {
        let before = self.subs.len();
        self.subs.retain(|s| s.pattern != pattern);
        before - self.subs.len()
    }

    /// The ids an emit of `topic` calls, in order, and those that fail.
    pub fn emit(&mut self, topic: &str) -> (Vec<u64>, Vec<u64>) {
        let mut hit: Vec<RefSub> = self
            .subs
            .iter()
            .filter(|s| pattern_matches(&s.pattern, topic))
            .cloned()
            .collect();
        hit.sort_by_key(|s| (s.priority, s.id));
        self.subs
            .retain(|s| !(s.once && pattern_matches(&s.pattern, topic)));
        let ran = hit.iter().map(|s| s.id).collect();
        let failed = hit.iter().filter(|s| s.fails).map(|s| s.id).collect();
        (ran, failed)
    }

    /// Listeners an emit of `topic` would call.
    pub fn count(&self, topic: &str) -> usize {
        self.subs
            .iter()
            .filter(|s| pattern_matches(&s.pattern, topic))
            .count()
    }
}

/// What the reference says a `try_recv` returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefRecv {
    Value(u64),
    Empty,
    Lagged(u64),
    Closed,
}

/// A single-threaded broadcast channel: message `i` has value `values[i]`;
/// the ring retains the last `cap` of them.
#[derive(Debug)]
pub struct BroadcastRef {
    pub cap: u64,
    pub backpressure: bool,
    pub values: Vec<u64>,
    /// Each live receiver's cursor (`None` once dropped).
    pub cursors: Vec<Option<u64>>,
    pub closed: bool,
}

impl BroadcastRef {
    /// A channel with one receiver; `cap` is already a power of two.
    pub fn new(cap: u64, backpressure: bool) -> Self {
        BroadcastRef {
            cap,
            backpressure,
            values: Vec::new(),
            cursors: vec![Some(0)],
            closed: false,
        }
    }

    fn sent(&self) -> u64 {
        self.values.len() as u64
    }

    /// Whether a Backpressure send would block now.
    pub fn would_block(&self) -> bool {
        self.backpressure
            && self
                .cursors
                .iter()
                .flatten()
                .any(|&c| c + self.cap <= self.sent())
    }

    /// Publishes `v` to the live receivers and returns how many there are;
    /// with none, nothing is published and the value is handed back.
    pub fn send(&mut self, v: u64) -> Result<usize, u64> {
        let live = self.cursors.iter().flatten().count();
        if live == 0 {
            return Err(v);
        }
        self.values.push(v);
        Ok(live)
    }

    pub fn subscribe(&mut self) -> usize {
        self.cursors.push(Some(self.sent()));
        self.cursors.len() - 1
    }

    pub fn try_recv(&mut self, rx: usize) -> RefRecv {
        let sent = self.sent();
        let (cap, closed) = (self.cap, self.closed);
        let Some(c) = self.cursors[rx].as_mut() else {
            return RefRecv::Empty;
        };
        if sent > cap && *c < sent - cap {
            let missed = sent - cap - *c;
            *c = sent - cap;
            return RefRecv::Lagged(missed);
        }
        if *c < sent {
            *c += 1;
            return RefRecv::Value(self.values[(*c - 1) as usize]);
        }
        if closed {
            RefRecv::Closed
        } else {
            RefRecv::Empty
        }
    }
}
