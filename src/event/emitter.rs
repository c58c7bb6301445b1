//! The pub-sub emitter: listener lists are immutable snapshots swapped
//! copy-on-write, so `emit` takes no lock and does not allocate.
//!
//! ```text
//!   emit ──load──▶ Snapshot<Table> ──▶ exact["order.created"] = [p0#3, p10#1, p10#7]
//!                                  └─▶ wildcard            = [p5#2 "order.*", ...]
//!   on/off ─ writer mutex ─ clone table, edit, swap in ─▶ next emit sees it
//! ```
//!
//! Each list is sorted by `(priority, id)`; ids grow in subscription order,
//! so `emit` merges the exact list with the matching wildcard entries in one
//! pass and calls listeners lower priority first, equal priorities in
//! subscription order.
//!
//! Invariant of the once-cell (the only `unsafe` here): the boxed `FnOnce`
//! of a once-listener is written when the entry is built, before the entry
//! is published in a snapshot, and afterwards touched only by the one thread
//! whose swap of `claimed` returned `false` (or by `Drop`, which has `&mut`).
use super::topic::Pattern;
use super::Error;
use crate::sync::atomic::{AtomicBool, Ordering};
use crate::sync::ArcCell;
use crate::sync::{Arc, Mutex, UnsafeCell};
use crate::DefaultHashBuilder;
use hashbrown::HashMap;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// What a listener returns: `()` for listeners that cannot fail, or
/// `Result<(), E>` with any displayable error, which `emit` reports as a
/// [`FailureReason::Returned`].
pub trait ListenerResult {
    /// `Ok(())` on success, else the error's message.
    fn into_outcome(self) -> Result<(), String>;
}

impl ListenerResult for () {
    #[inline]
    fn into_outcome(self) -> Result<(), String> {
        Ok(())
    }
}

impl<Er: fmt::Display> ListenerResult for Result<(), Er> {
    #[inline]
    fn into_outcome(self) -> Result<(), String> {
        self.map_err(|e| e.to_string())
    }
}

type ManyFn<E> = Box<dyn Fn(&E) -> Result<(), String> + Send + Sync>;
type OnceFn<E> = Box<dyn FnOnce(&E) -> Result<(), String> + Send>;

/// A once-listener's body and the flag that lets exactly one emit take it.
struct OnceCell<E> {
    claimed: AtomicBool,
    f: UnsafeCell<Option<OnceFn<E>>>,
}

// SAFETY: `f` is only accessed by the single thread that wins the claim
// (module invariant), so sharing the cell never shares the `FnOnce`; moving
// it to that thread needs only `Send`, which `OnceFn` requires.
unsafe impl<E> Sync for OnceCell<E> {}

impl<E> OnceCell<E> {
    /// Takes the body if this call is the first to claim it.
    #[inline]
    fn claim(&self) -> Option<OnceFn<E>> {
        // Relaxed: only a shortcut for spent entries still in a snapshot;
        // the swap below alone decides who wins.
        if self.claimed.load(Ordering::Relaxed) {
            return None;
        }
        // AcqRel: the read-modify-writes of one atomic are totally ordered,
        // so exactly one swap reads `false`; the body itself was published
        // with the snapshot (Release store, Acquire load), not by this flag.
        if self.claimed.swap(true, Ordering::AcqRel) {
            return None;
        }
        // SAFETY: this thread won the claim, so it is the only one that
        // ever touches `f` after publication (module invariant).
        self.f.with_mut(|f| unsafe { (*f).take() })
    }

    fn is_spent(&self) -> bool {
        // Relaxed: pruning a spent entry a write later is harmless.
        self.claimed.load(Ordering::Relaxed)
    }
}

enum Call<E> {
    Many(ManyFn<E>),
    Once(OnceCell<E>),
}

struct Entry<E> {
    id: u64,
    priority: i32,
    pattern: Pattern,
    call: Call<E>,
}

impl<E> Entry<E> {
    #[inline]
    fn key(&self) -> (i32, u64) {
        (self.priority, self.id)
    }

    fn is_spent(&self) -> bool {
        matches!(&self.call, Call::Once(c) if c.is_spent())
    }

    /// Calls the listener: `None` for a once-listener another emit has
    /// claimed, else what it returned. Panics propagate to `emit`.
    #[inline]
    fn call(&self, event: &E) -> Option<Result<(), String>> {
        match &self.call {
            Call::Many(f) => Some(f(event)),
            Call::Once(cell) => cell.claim().map(|f| f(event)),
        }
    }
}

/// The merge of one topic's exact list with the matching wildcard
/// entries, both sorted by `(priority, id)`.
struct Walk<'a, E> {
    exact: &'a [Arc<Entry<E>>],
    wild: &'a [Arc<Entry<E>>],
    i: usize,
    j: usize,
}

impl<'a, E> Walk<'a, E> {
    #[inline]
    fn next(&mut self, topic: &str) -> Option<&'a Entry<E>> {
        while self.j < self.wild.len() && !self.wild[self.j].pattern.matches(topic) {
            self.j += 1;
        }
        let next = match (self.exact.get(self.i), self.wild.get(self.j)) {
            (Some(a), Some(b)) if a.key() <= b.key() => {
                self.i += 1;
                a
            }
            (_, Some(b)) => {
                self.j += 1;
                b
            }
            (Some(a), None) => {
                self.i += 1;
                a
            }
            (None, None) => return None,
        };
        Some(next)
    }
}

impl EmitReport {
    fn fail<E>(&mut self, entry: &Entry<E>, reason: FailureReason) {
        self.failures.push(ListenerFailure {
            id: SubscriptionId(entry.id),
            priority: entry.priority,
            reason,
        });
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "listener panicked with a non-string payload".to_owned()
    }
}

/// One immutable snapshot of every subscription.
struct Table<E> {
    exact: HashMap<Box<str>, Vec<Arc<Entry<E>>>, DefaultHashBuilder>,
    wildcard: Vec<Arc<Entry<E>>>,
}

impl<E> Clone for Table<E> {
    fn clone(&self) -> Self {
        Table {
            exact: self.exact.clone(),
            wildcard: self.wildcard.clone(),
        }
    }
}

impl<E> Table<E> {
    fn new() -> Self {
        Table {
            exact: HashMap::with_hasher(DefaultHashBuilder::default()),
            wildcard: Vec::new(),
        }
    }

    fn list_mut(&mut self, pattern: &Pattern) -> Option<&mut Vec<Arc<Entry<E>>>> {
        match pattern {
            Pattern::Exact(t) => self.exact.get_mut(t),
            Pattern::Prefix(_) => Some(&mut self.wildcard),
        }
    }

    fn insert(&mut self, entry: Entry<E>) {
        let list = match &entry.pattern {
            Pattern::Exact(t) => self.exact.entry(t.clone()).or_default(),
            Pattern::Prefix(_) => &mut self.wildcard,
        };
        let key = entry.key();
        let at = list.partition_point(|e| e.key() <= key);
        list.insert(at, Arc::new(entry));
    }

    /// Removes the entry `id`; true if it was there and could still fire.
    fn remove(&mut self, id: u64, pattern: &Pattern) -> bool {
        let Some(list) = self.list_mut(pattern) else {
            return false;
        };
        let Some(at) = list.iter().position(|e| e.id == id) else {
            return false;
        };
        let live = !list[at].is_spent();
        list.remove(at);
        live
    }

    /// Drops spent once-entries and empty topic lists.
    fn prune(&mut self) {
        self.wildcard.retain(|e| !e.is_spent());
        self.exact.retain(|_, list| {
            list.retain(|e| !e.is_spent());
            !list.is_empty()
        });
    }
}

struct Shared<E> {
    table: ArcCell<Table<E>>,
    /// Serialises writers; holds the next subscription id.
    writer: Mutex<u64>,
}

impl<E> Shared<E> {
    /// Applies `edit` to a copy of the table and publishes the copy. The
    /// replaced snapshot is dropped after the writer lock is released: it
    /// may hold the last reference to a listener whose captured state
    /// unsubscribes on drop, which would otherwise re-enter the lock.
    fn update<R>(&self, edit: impl FnOnce(&mut Table<E>, &mut u64) -> R) -> R {
        let mut next_id = self.writer.lock();
        let mut table = Table::clone(&self.table.load());
        let r = edit(&mut table, &mut next_id);
        table.prune();
        let old = self.table.swap(Arc::new(table));
        drop(next_id);
        drop(old);
        r
    }
}

/// Removes one subscription from whichever emitter it belongs to, so that
/// [`Subscription`] need not carry the event type.
trait Remove: Send + Sync {
    fn remove(&self, id: u64, pattern: &Pattern) -> bool;
}

struct Owner<E>(Arc<Shared<E>>);

impl<E> Remove for Owner<E> {
    fn remove(&self, id: u64, pattern: &Pattern) -> bool {
        self.0.update(|t, _| t.remove(id, pattern))
    }
}

/// Identifies one subscription in [`EmitReport`] failures and in
/// [`Emitter::off`]. Ids grow in subscription order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SubscriptionId(u64);

impl SubscriptionId {
    /// The raw id.
    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for SubscriptionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "subscription #{}", self.0)
    }
}

/// An RAII subscription: dropping it unsubscribes, as does [`off`](Self::off);
/// [`detach`](Self::detach) keeps the listener registered for good.
///
/// Unsubscribing affects the next `emit`; an emit already running on
/// another thread may still call the listener once (it holds the snapshot
/// it started with). A listener that captures its own `Subscription` (or
/// the emitter) forms a reference cycle that is freed only by `off_all` or
/// [`Emitter::off`].
#[must_use = "dropping a Subscription unsubscribes at once; call .detach() to keep the listener"]
pub struct Subscription {
    owner: Option<Box<dyn Remove>>,
    id: u64,
    pattern: Pattern,
}

impl Subscription {
    /// This subscription's id.
    pub fn id(&self) -> SubscriptionId {
        SubscriptionId(self.id)
    }

    /// Unsubscribes now. Returns `true` if the listener was still
    /// registered and could still fire (`false` after `off_all`, or for a
    /// once-listener that has already fired).
    pub fn off(mut self) -> bool {
        self.owner
            .take()
            .is_some_and(|o| o.remove(self.id, &self.pattern))
    }

    /// Lets the listener stay registered after this handle is gone; remove
    /// it later with [`Emitter::off`] (keep [`id`](Self::id)) or
    /// [`Emitter::off_all`].
    pub fn detach(mut self) -> SubscriptionId {
        self.owner = None;
        SubscriptionId(self.id)
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if let Some(o) = self.owner.take() {
            o.remove(self.id, &self.pattern);
        }
    }
}

impl fmt::Debug for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription")
            .field("id", &self.id)
            .field("pattern", &self.pattern)
            .field("attached", &self.owner.is_some())
            .finish()
    }
}

/// Why a listener failed during an emit.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FailureReason {
    /// The listener panicked; the panic was caught. Holds the panic message.
    Panicked(String),
    /// The listener returned an error; holds its `Display` text.
    Returned(String),
}

impl fmt::Display for FailureReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FailureReason::Panicked(m) => write!(f, "panicked: {m}"),
            FailureReason::Returned(m) => write!(f, "returned an error: {m}"),
        }
    }
}

/// One listener that failed during an emit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListenerFailure {
    /// The failing listener's subscription.
    pub id: SubscriptionId,
    /// Its priority.
    pub priority: i32,
    /// What went wrong.
    pub reason: FailureReason,
}

impl fmt::Display for ListenerFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (priority {}) {}",
            self.id, self.priority, self.reason
        )
    }
}

/// What one [`Emitter::emit`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EmitReport {
    ran: usize,
    failures: Vec<ListenerFailure>,
}

impl EmitReport {
    /// Listeners called, failed ones included.
    pub fn ran(&self) -> usize {
        self.ran
    }

    /// The listeners that panicked or returned an error, in call order.
    pub fn failures(&self) -> &[ListenerFailure] {
        &self.failures
    }

    /// Whether every listener called succeeded.
    pub fn is_ok(&self) -> bool {
        self.failures.is_empty()
    }
}

/// A topic-based pub-sub emitter shared through `&self` (clone it to share
/// by value; clones are handles to one emitter).
///
/// Guarantees:
/// - **Order**: one emit calls its listeners in priority order, lower
///   number first; equal priorities in subscription order. Exact and
///   wildcard subscriptions interleave by the same rule (see
///   [`topic rules`](super#topics)).
/// - **Snapshot**: an emit runs exactly the listeners subscribed when it
///   started; subscribing or unsubscribing (even from inside a listener)
///   applies to the next emit and never deadlocks.
/// - **Once**: a [`once`](Self::once) listener runs at most once, and
///   exactly once if any emit reaches it, however many threads emit at the
///   same moment.
/// - **Failures**: a listener that panics or returns `Err` is reported in
///   the [`EmitReport`] and the others still run. A caught panic still
///   goes through the panic hook (it prints by default).
/// - **Cost**: `emit` takes no lock and does not allocate (unless a
///   listener fails: the report then holds the message). Subscribing and
///   unsubscribing copy the table: O(listeners), under a writer mutex.
///
/// ```
/// use latchwork::event::Emitter;
/// use std::sync::{Arc, Mutex};
///
/// let emitter = Emitter::<u32>::new();
/// let total = Arc::new(Mutex::new(0));
/// let t = total.clone();
/// let sub = emitter.on("order.created", move |n: &u32| {
///     *t.lock().unwrap() += *n;
/// })?;
/// let _audit = emitter.on_with_priority("order.*", -1, |_: &u32| -> Result<(), String> {
///     Err("audit log offline".into())
/// })?;
/// let report = emitter.emit("order.created", &5);
/// assert_eq!((report.ran(), report.failures().len()), (2, 1));
/// assert_eq!(*total.lock().unwrap(), 5);
/// drop(sub); // unsubscribes
/// assert_eq!(emitter.emit("order.created", &5).ran(), 1);
/// # Ok::<(), latchwork::event::Error>(())
/// ```
pub struct Emitter<E> {
    shared: Arc<Shared<E>>,
}

impl<E> Clone for Emitter<E> {
    fn clone(&self) -> Self {
        Emitter {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<E: 'static> Default for Emitter<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> fmt::Debug for Emitter<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.shared.table.load();
        f.debug_struct("Emitter")
            .field("topics", &t.exact.len())
            .field("wildcards", &t.wildcard.len())
            .finish()
    }
}

impl<E: 'static> Emitter<E> {
    /// An emitter with no listeners.
    pub fn new() -> Self {
        Emitter {
            shared: Arc::new(Shared {
                table: ArcCell::new(Arc::new(Table::new())),
                writer: Mutex::new(0),
            }),
        }
    }

    /// Subscribes `listener` to `topic` (an exact topic, `prefix.*` or `*`)
    /// at priority 0. Fails only for an invalid pattern.
    pub fn on<F, R>(&self, topic: &str, listener: F) -> Result<Subscription, Error>
    where
        F: Fn(&E) -> R + Send + Sync + 'static,
        R: ListenerResult,
    {
        self.on_with_priority(topic, 0, listener)
    }

    /// Subscribes `listener` at `priority`: lower numbers run first, equal
    /// priorities in subscription order.
    pub fn on_with_priority<F, R>(
        &self,
        topic: &str,
        priority: i32,
        listener: F,
    ) -> Result<Subscription, Error>
    where
        F: Fn(&E) -> R + Send + Sync + 'static,
        R: ListenerResult,
    {
        let f: ManyFn<E> = Box::new(move |e| listener(e).into_outcome());
        self.subscribe(topic, priority, Call::Many(f))
    }

    /// Subscribes a listener that runs at most once: the first emit to reach
    /// it runs it (exactly one of several racing emits), and it is then
    /// removed. Priority 0.
    pub fn once<F, R>(&self, topic: &str, listener: F) -> Result<Subscription, Error>
    where
        F: FnOnce(&E) -> R + Send + 'static,
        R: ListenerResult,
    {
        self.once_with_priority(topic, 0, listener)
    }

    /// [`once`](Self::once) at a given priority.
    pub fn once_with_priority<F, R>(
        &self,
        topic: &str,
        priority: i32,
        listener: F,
    ) -> Result<Subscription, Error>
    where
        F: FnOnce(&E) -> R + Send + 'static,
        R: ListenerResult,
    {
        let f: OnceFn<E> = Box::new(move |e| listener(e).into_outcome());
        let cell = OnceCell {
            claimed: AtomicBool::new(false),
            f: UnsafeCell::new(Some(f)),
        };
        self.subscribe(topic, priority, Call::Once(cell))
    }

    fn subscribe(&self, topic: &str, priority: i32, call: Call<E>) -> Result<Subscription, Error> {
        let pattern = Pattern::parse(topic)?;
        let id = self.shared.update(|t, next_id| {
            let id = *next_id;
            *next_id += 1;
            t.insert(Entry {
                id,
                priority,
                pattern: pattern.clone(),
                call,
            });
            id
        });
        Ok(Subscription {
            owner: Some(Box::new(Owner(Arc::clone(&self.shared)))),
            id,
            pattern,
        })
    }
}

impl<E> Emitter<E> {
    /// Removes the subscription `id` (for example one kept with
    /// [`Subscription::detach`]). Returns `true` if it was registered and
    /// could still fire.
    pub fn off(&self, id: SubscriptionId) -> bool {
        self.shared.update(|t, _| {
            let pattern = t
                .exact
                .values()
                .chain(std::iter::once(&t.wildcard))
                .flatten()
                .find(|e| e.id == id.0)
                .map(|e| e.pattern.clone());
            pattern.is_some_and(|p| t.remove(id.0, &p))
        })
    }

    /// Removes every listener subscribed with exactly this pattern (`off_all
    /// ("order.*")` removes the `order.*` subscriptions, not those of
    /// `order.created`). Returns how many were removed (spent once-listeners
    /// not counted). Outstanding [`Subscription`] handles become inert.
    pub fn off_all(&self, topic: &str) -> usize {
        let Ok(pattern) = Pattern::parse(topic) else {
            return 0;
        };
        self.shared.update(|t, _| match &pattern {
            Pattern::Exact(name) => t
                .exact
                .remove(name)
                .map_or(0, |l| l.iter().filter(|e| !e.is_spent()).count()),
            Pattern::Prefix(_) => {
                let before = t.wildcard.iter().filter(|e| !e.is_spent()).count();
                t.wildcard.retain(|e| e.pattern != pattern);
                before - t.wildcard.iter().filter(|e| !e.is_spent()).count()
            }
        })
    }

    /// How many listeners an emit of `topic` would call now (exact and
    /// matching wildcard subscriptions, once-listeners not yet fired).
    pub fn listener_count(&self, topic: &str) -> usize {
        let t = self.shared.table.load();
        let exact = t.exact.get(topic).map_or(&[][..], |l| &l[..]);
        exact
            .iter()
            .chain(t.wildcard.iter().filter(|e| e.pattern.matches(topic)))
            .filter(|e| !e.is_spent())
            .count()
    }

    /// Calls every listener of `topic` with `event`, in priority order, and
    /// reports how many ran and which failed. Lock-free and allocation-free
    /// (see the type's guarantees).
    pub fn emit(&self, topic: &str, event: &E) -> EmitReport {
        let table = self.shared.table.load();
        let mut walk = Walk {
            exact: table.exact.get(topic).map_or(&[][..], |l| &l[..]),
            wild: &table.wildcard[..],
            i: 0,
            j: 0,
        };
        let mut report = EmitReport::default();
        // One `catch_unwind` around the whole walk rather than one per
        // listener: after a panic the walk resumes with the next listener.
        loop {
            let mut current = None;
            let walked = catch_unwind(AssertUnwindSafe(|| {
                while let Some(entry) = walk.next(topic) {
                    current = Some(entry);
                    if let Some(outcome) = entry.call(event) {
                        report.ran += 1;
                        if let Err(msg) = outcome {
                            report.fail(entry, FailureReason::Returned(msg));
                        }
                    }
                }
            }));
            match (walked, current) {
                (Err(payload), Some(entry)) => {
                    report.ran += 1;
                    let msg = panic_message(payload.as_ref());
                    report.fail(entry, FailureReason::Panicked(msg));
                }
                _ => return report,
            }
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::Mutex as StdMutex;

    #[test]
    fn priority_then_subscription_order_across_wildcards() {
        let em = Emitter::<()>::new();
        let log = Arc::new(StdMutex::new(Vec::new()));
        let mut subs = Vec::new();
        for (name, topic, prio) in [
            ("a", "x.y", 5),
            ("b", "x.*", 0),
            ("c", "x.y", 0),
            ("d", "*", 5),
            ("e", "x.y", -3),
        ] {
            let log = log.clone();
            subs.push(
                em.on_with_priority(topic, prio, move |_: &()| log.lock().unwrap().push(name))
                    .unwrap(),
            );
        }
        assert_eq!(em.emit("x.y", &()).ran(), 5);
        assert_eq!(*log.lock().unwrap(), ["e", "b", "c", "a", "d"]);
    }

    #[test]
    fn subscribe_inside_listener_applies_next_emit() {
        let em = Emitter::<u8>::new();
        let em2 = em.clone();
        let kept = Arc::new(StdMutex::new(Vec::new()));
        let k = kept.clone();
        em.on("t", move |_: &u8| {
            let s = em2.on("t", |_: &u8| ()).unwrap();
            k.lock().unwrap().push(s);
        })
        .unwrap()
        .detach();
        assert_eq!(em.emit("t", &0).ran(), 1);
        assert_eq!(em.emit("t", &0).ran(), 2);
        // Dropping the handles (outside any emit) unsubscribes them.
        kept.lock().unwrap().clear();
        assert_eq!(em.listener_count("t"), 1);
    }

    /// For Miri (`cargo +nightly miri test --lib miri_`): several emitters
    /// race one `once` listener that owns a `String`; exactly one runs it
    /// (the claim), the body is taken once (the `unsafe` take), and Miri
    /// checks the cell for races, double drops and leaks.
    #[test]
    fn miri_once_raced_by_several_emitters() {
        let em = Emitter::<String>::new();
        let ran = Arc::new(StdMutex::new(Vec::new()));
        let owned = String::from("owned by the FnOnce");
        let r = ran.clone();
        em.once("t", move |e: &String| {
            r.lock().unwrap().push(format!("{owned}/{e}"));
        })
        .unwrap()
        .detach();
        let threads: Vec<_> = (0..3)
            .map(|i| {
                let em = em.clone();
                std::thread::spawn(move || em.emit("t", &i.to_string()).ran())
            })
            .collect();
        let total: usize = threads.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(total, 1);
        assert_eq!(ran.lock().unwrap().len(), 1);
        assert_eq!(em.listener_count("t"), 0);
    }

    /// A `once` listener that never ran is dropped with its emitter (the
    /// cell's `Drop`, with `&mut`), or when unsubscribed: its captured
    /// value is freed exactly once either way.
    #[test]
    fn miri_unclaimed_once_is_dropped_once() {
        let token = Arc::new(());
        {
            let em = Emitter::<u8>::new();
            let t = token.clone();
            em.once("t", move |_: &u8| drop(t)).unwrap().detach();
            let t = token.clone();
            let sub = em.once("u", move |_: &u8| drop(t)).unwrap();
            assert_eq!(Arc::strong_count(&token), 3);
            drop(sub);
            assert_eq!(Arc::strong_count(&token), 2);
        }
        assert_eq!(Arc::strong_count(&token), 1);
    }
}
