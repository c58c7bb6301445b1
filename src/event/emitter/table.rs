//! The subscription table: one immutable snapshot of every listener, its
//! entries (a listener, its priority and pattern, and for a once-listener
//! the claim cell), the merge walk `emit` follows, and the copy-on-write
//! update that writers publish through.
//!
//! Invariant of the once-cell (the only `unsafe` here): the boxed `FnOnce`
//! of a once-listener is written when the entry is built, before the entry
//! is published in a snapshot, and afterwards touched only by the one thread
//! whose swap of `claimed` returned `false` (or by `Drop`, which has `&mut`).
use crate::event::topic::Pattern;
use crate::sync::atomic::{AtomicBool, Ordering};
use crate::sync::ArcCell;
use crate::sync::{Arc, Mutex, UnsafeCell};
use crate::DefaultHashBuilder;
use hashbrown::HashMap;

pub(super) type ManyFn<E> = Box<dyn Fn(&E) -> Result<(), String> + Send + Sync>;
pub(super) type OnceFn<E> = Box<dyn FnOnce(&E) -> Result<(), String> + Send>;

/// A once-listener's body and the flag that lets exactly one emit take it.
pub(super) struct OnceCell<E> {
    claimed: AtomicBool,
    f: UnsafeCell<Option<OnceFn<E>>>,
}

// SAFETY: `f` is only accessed by the single thread that wins the claim
// (module invariant), so sharing the cell never shares the `FnOnce`; moving
// it to that thread needs only `Send`, which `OnceFn` requires.
unsafe impl<E> Sync for OnceCell<E> {}

impl<E> OnceCell<E> {
    /// An unclaimed cell holding `f`.
    pub(super) fn new(f: OnceFn<E>) -> Self {
        OnceCell {
            claimed: AtomicBool::new(false),
            f: UnsafeCell::new(Some(f)),
        }
    }

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

pub(super) enum Call<E> {
    Many(ManyFn<E>),
    Once(OnceCell<E>),
}

pub(super) struct Entry<E> {
    pub(super) id: u64,
    pub(super) priority: i32,
    pub(super) pattern: Pattern,
    pub(super) call: Call<E>,
}

impl<E> Entry<E> {
    #[inline]
    fn key(&self) -> (i32, u64) {
        (self.priority, self.id)
    }

    pub(super) fn is_spent(&self) -> bool {
        matches!(&self.call, Call::Once(c) if c.is_spent())
    }

    /// Calls the listener: `None` for a once-listener another emit has
    /// claimed, else what it returned. Panics propagate to `emit`.
    #[inline]
    pub(super) fn call(&self, event: &E) -> Option<Result<(), String>> {
        match &self.call {
            Call::Many(f) => Some(f(event)),
            Call::Once(cell) => cell.claim().map(|f| f(event)),
        }
    }
}

/// The merge of one topic's exact list with the matching wildcard
/// entries, both sorted by `(priority, id)`.
pub(super) struct Walk<'a, E> {
    exact: &'a [Arc<Entry<E>>],
    wild: &'a [Arc<Entry<E>>],
    i: usize,
    j: usize,
}

impl<'a, E> Walk<'a, E> {
    /// The listeners of `topic` in `table`, in call order.
    pub(super) fn new(table: &'a Table<E>, topic: &str) -> Self {
        Walk {
            exact: table.exact_list(topic),
            wild: &table.wildcard[..],
            i: 0,
            j: 0,
        }
    }

    #[inline]
    pub(super) fn next(&mut self, topic: &str) -> Option<&'a Entry<E>> {
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

/// One immutable snapshot of every subscription.
pub(super) struct Table<E> {
    pub(super) exact: HashMap<Box<str>, Vec<Arc<Entry<E>>>, DefaultHashBuilder>,
    pub(super) wildcard: Vec<Arc<Entry<E>>>,
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
    pub(super) fn new() -> Self {
        Table {
            exact: HashMap::with_hasher(DefaultHashBuilder::default()),
            wildcard: Vec::new(),
        }
    }

    /// The exact subscriptions of `topic` (empty if none).
    pub(super) fn exact_list(&self, topic: &str) -> &[Arc<Entry<E>>] {
        self.exact.get(topic).map_or(&[][..], |l| &l[..])
    }

    fn list_mut(&mut self, pattern: &Pattern) -> Option<&mut Vec<Arc<Entry<E>>>> {
        match pattern {
            Pattern::Exact(t) => self.exact.get_mut(t),
            Pattern::Prefix(_) => Some(&mut self.wildcard),
        }
    }

    pub(super) fn insert(&mut self, entry: Entry<E>) {
        let list = match &entry.pattern {
            Pattern::Exact(t) => self.exact.entry(t.clone()).or_default(),
            Pattern::Prefix(_) => &mut self.wildcard,
        };
        let key = entry.key();
        let at = list.partition_point(|e| e.key() <= key);
        list.insert(at, Arc::new(entry));
    }

    /// Removes the entry `id`; true if it was there and could still fire.
    pub(super) fn remove(&mut self, id: u64, pattern: &Pattern) -> bool {
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

/// The emitter's state: the published snapshot and the writers' lock.
pub(super) struct Shared<E> {
    pub(super) table: ArcCell<Table<E>>,
    /// Serialises writers; holds the next subscription id.
    writer: Mutex<u64>,
}

impl<E> Shared<E> {
    /// An empty table, the first subscription id 0.
    pub(super) fn new() -> Self {
        Shared {
            table: ArcCell::new(Arc::new(Table::new())),
            writer: Mutex::new(0),
        }
    }

    /// Applies `edit` to a copy of the table and publishes the copy. The
    /// replaced snapshot is dropped after the writer lock is released: it
    /// may hold the last reference to a listener whose captured state
    /// unsubscribes on drop, which would otherwise re-enter the lock.
    pub(super) fn update<R>(&self, edit: impl FnOnce(&mut Table<E>, &mut u64) -> R) -> R {
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

#[cfg(all(test, not(loom)))]
mod tests {
    use super::super::Emitter;
    use std::sync::{Arc, Mutex};

    /// For Miri (`cargo +nightly miri test --lib miri_`): several emitters
    /// race one `once` listener that owns a `String`; exactly one runs it
    /// (the claim), the body is taken once (the `unsafe` take), and Miri
    /// checks the cell for races, double drops and leaks.
    #[test]
    fn miri_once_raced_by_several_emitters() {
        let em = Emitter::<String>::new();
        let ran = Arc::new(Mutex::new(Vec::new()));
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
