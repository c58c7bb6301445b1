//! The [`Emitter`] handle: subscribe (`on`, `once`, with priorities),
//! unsubscribe (`off`, `off_all`) and `emit`, which walks one snapshot of
//! the table without a lock and reports what ran.
use super::report::{EmitReport, FailureReason, ListenerResult};
use super::subscription::{Subscription, SubscriptionId};
use super::table::{Call, Entry, ManyFn, OnceCell, OnceFn, Shared, Walk};
use crate::event::topic::Pattern;
use crate::event::Error;
use crate::sync::panic_message;
use crate::sync::Arc;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// A topic-based pub-sub emitter shared through `&self` (clone it to share
/// by value; clones are handles to one emitter).
///
/// Guarantees:
/// - **Order**: one emit calls its listeners in priority order, lower
///   number first; equal priorities in subscription order. Exact and
///   wildcard subscriptions interleave by the same rule (see
///   [`topic rules`](crate::event#topics)).
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
            shared: Arc::new(Shared::new()),
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
        self.subscribe(topic, priority, Call::Once(OnceCell::new(f)))
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
        Ok(Subscription::new(&self.shared, id, pattern))
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
                .find(|e| e.id == id.get())
                .map(|e| e.pattern.clone());
            pattern.is_some_and(|p| t.remove(id.get(), &p))
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
        t.exact_list(topic)
            .iter()
            .chain(t.wildcard.iter().filter(|e| e.pattern.matches(topic)))
            .filter(|e| !e.is_spent())
            .count()
    }

    /// Calls every listener of `topic` with `event`, in priority order, and
    /// reports how many ran and which failed. Lock-free and allocation-free
    /// (see the type's guarantees).
    #[inline]
    pub fn emit(&self, topic: &str, event: &E) -> EmitReport {
        let table = self.shared.table.load();
        let mut walk = Walk::new(&table, topic);
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
}
