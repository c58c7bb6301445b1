//! The crate's one wait mechanism: threads park and tasks register wakers
//! on the same queue, behind the same handshake.
//!
//! A [`WaitQueue`] is a waiter count, so that the common case (nobody
//! waiting) costs a notifier one fence and one load, and a mutex guarding a
//! condvar (parked threads) and a slab of wakers (pending futures) for the
//! rare case. [`notify`](WaitQueue::notify) wakes *every* waiter, thread or
//! task; each rechecks its own condition. Waking all is what makes
//! cancellation trivially safe: a future dropped after it was woken cannot
//! swallow a wake-up meant for another waiter, so nobody has to pass one on.
//!
//! No lost wake-up. A waiter, under the mutex, registers (increments
//! `waiters`; a task also stores its waker), issues a SeqCst fence and
//! checks its condition, still under the mutex; a thread then sleeps on the
//! condvar (releasing the mutex atomically), a task returns `Pending`. A
//! notifier makes its change, issues a SeqCst fence and loads `waiters`;
//! if it is non-zero it takes the mutex and wakes everyone registered. The
//! two fences are ordered one way or the other: either the waiter's check
//! sees the change, or the notifier sees the count and, taking the mutex
//! after the waiter's critical section, finds its registration. (Fences
//! rather than SeqCst accesses alone: loom models SeqCst accesses as
//! AcqRel, but models SeqCst fences.) The models are in `mod loom_tests`
//! below and in `tests/loom_event.rs` / `tests/loom_cache.rs`.
//!
//! Claimed wake-ups (the parker-token trick of crossbeam-channel's waker
//! list, which removes the entry it wakes): a notifier that wakes parked
//! threads takes them out of `waiters` at once and leaves one *token* per
//! thread it woke, so the notifiers after it (the next pushes, before the
//! woken threads run) find no waiter and skip the lock and the system call.
//! A thread leaving the condvar consumes a token if there is one, else it
//! takes its own count out (a timeout, a spurious wake, or a token meant
//! for another that it consumed first): parked threads equal unclaimed
//! threads plus tokens, always. Then it registers again, fences and rechecks, so each
//! wait is the handshake above from the start.
//! [`notify_one`](WaitQueue::notify_one) wakes one thread (for a queue,
//! where one item satisfies one waiter and a woken thread takes the item
//! or finds another waiter did) and still every task: a woken future may be
//! dropped before it is polled, and waking all tasks is what keeps that
//! from stranding an item.
//!
//! A task's slot stays allocated between waits (a receiver reuses its slot
//! for every receive), so the fast path of a poll (the condition already
//! holds) takes no lock; only a slot in `Waiting` is counted, so a notifier
//! locks only while some task is really pending. A poll that finds its
//! condition true without the lock may leave its slot `Waiting` for a
//! moment: the change it saw is followed by that change's `notify`, which
//! moves the slot to `Idle` (a spurious wake of a task that moved on).
//!
//! | slot state | meaning | counted in `waiters` |
//! |---|---|---|
//! | `Free` | on the free list | no |
//! | `Waiting(w)` | the task returned `Pending`; `w` not woken yet | yes |
//! | `Idle` | owned by a task, nothing to wake (woken, or not waiting) | no |
use crate::sync::atomic::{fence, AtomicUsize, Ordering};
use crate::sync::spin::SpinWait;
use crate::sync::{Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

enum Task {
    Free,
    Waiting(Waker),
    Idle,
}

#[derive(Default)]
struct Wakers {
    slots: Vec<Task>,
    free: Vec<usize>,
    /// Parked threads not yet claimed by a notifier (counted in `waiters`).
    threads: usize,
    /// Wake-ups a notifier issued to parked threads and no thread has
    /// consumed yet (see the module doc).
    tokens: usize,
}

/// A wait queue for threads and tasks; see the module doc.
pub(crate) struct WaitQueue {
    /// Parked threads plus `Waiting` task slots.
    waiters: AtomicUsize,
    lock: Mutex<Wakers>,
    cv: Condvar,
}

/// A task's registration in a [`WaitQueue`]. Only the kernel holds one:
/// the one future (`sync::waiting::Waiting`) and a stream's
/// `Registration` pass it to [`WaitQueue::release`] when dropped.
#[derive(Debug, Default)]
pub(crate) struct WaitKey {
    slot: Option<usize>,
    /// The last poll returned `Pending` (the slot may be `Waiting`).
    pending: bool,
}

impl WaitKey {
    /// The owner's condition held without polling the queue (its own fast
    /// path): it is no longer waiting. A slot still `Waiting` is moved to
    /// `Idle` by the notify that follows the change the owner saw.
    #[inline]
    pub(crate) fn done(&mut self) {
        self.pending = false;
    }
}

impl WaitQueue {
    pub(crate) fn new() -> Self {
        WaitQueue {
            waiters: AtomicUsize::new(0),
            lock: Mutex::new(Wakers::default()),
            cv: Condvar::new(),
        }
    }

    /// Wakes every waiter, thread or task, if there is one.
    #[inline]
    pub(crate) fn notify(&self) {
        // The notifier half of the handshake in the module doc.
        fence(Ordering::SeqCst);
        self.notify_fenced(false);
    }

    /// Wakes one parked thread and every pending task, if there is one:
    /// for one new item, which one waiter takes (module doc).
    #[inline]
    pub(crate) fn notify_one(&self) {
        // The notifier half of the handshake in the module doc.
        fence(Ordering::SeqCst);
        self.notify_fenced(true);
    }

    /// [`notify_one`](Self::notify_one) for a caller that has issued a
    /// `fence(SeqCst)` after its change (the notifier half of the handshake
    /// is then already done).
    #[cfg(loom)]
    #[inline]
    pub(crate) fn notify_one_fenced(&self) {
        self.notify_fenced(true);
    }

    /// [`notify_one`](Self::notify_one) for a caller whose change ended in
    /// a `SeqCst` read-modify-write or fence: the waiter count is loaded
    /// `SeqCst`, which in the C++20 model is ordered against the waiter's
    /// fence as the notifier's fence would be (the queue's push explains
    /// the pattern). Not under loom, which models `SeqCst` accesses as
    /// `AcqRel`; callers there fence and use `notify_one_fenced`.
    #[cfg(not(loom))]
    #[inline]
    pub(crate) fn notify_one_seqcst(&self) {
        if self.waiters.load(Ordering::SeqCst) != 0 {
            self.notify_slow(true);
        }
    }

    #[inline]
    fn notify_fenced(&self, one: bool) {
        // Relaxed: ordered by the caller's fence against the waiter's.
        if self.waiters.load(Ordering::Relaxed) != 0 {
            self.notify_slow(one);
        }
    }

    #[cold]
    fn notify_slow(&self, one: bool) {
        let mut woken = Vec::new();
        {
            let mut g = self.lock.lock();
            // Claim the threads woken (module doc): the notifiers after us
            // skip the lock until one of them parks again.
            let threads = if one { g.threads.min(1) } else { g.threads };
            if threads > 0 {
                g.threads -= threads;
                g.tokens += threads;
                if one {
                    self.cv.notify_one();
                } else {
                    self.cv.notify_all();
                }
            }
            for slot in g.slots.iter_mut() {
                if let Task::Waiting(_) = slot {
                    if let Task::Waiting(w) = std::mem::replace(slot, Task::Idle) {
                        woken.push(w);
                    }
                }
            }
            let claimed = threads + woken.len();
            if claimed != 0 {
                // Relaxed: under the mutex, as every change of the count.
                self.waiters.fetch_sub(claimed, Ordering::Relaxed);
            }
        }
        // Outside the lock: a waker may run arbitrary executor code.
        for w in woken {
            w.wake();
        }
    }

    /// Blocks the thread until `ready()` holds (true) or `deadline` passes
    /// (false). `ready` runs after a SeqCst fence; its loads may be Acquire.
    /// A `ready` that takes what it waits for (a queue's item) may keep it
    /// in a `Cell`: it runs at most once after each registration and wins
    /// at most once.
    pub(crate) fn wait_until(&self, ready: impl Fn() -> bool, deadline: Option<Instant>) -> bool {
        loop {
            if let Some(ok) = self.wait_once(&ready, deadline) {
                return ok;
            }
        }
    }

    /// One round of [`wait_until`](Self::wait_until): registers, checks
    /// `ready()` after the fence (`Some(true)`), or the deadline
    /// (`Some(false)`), else parks once and returns `None` when woken
    /// (claimed, timed out or spurious) without checking again. A caller
    /// that would rather spin a little before parking again (a worker woken
    /// for an item another worker took) loops over this itself; every
    /// round is the whole handshake, so no wake-up is lost in between.
    pub(crate) fn wait_once(
        &self,
        ready: impl Fn() -> bool,
        deadline: Option<Instant>,
    ) -> Option<bool> {
        let mut g = self.lock.lock();
        g.threads += 1;
        // Relaxed + fence: the waiter half of the handshake in the module
        // doc (the mutex orders every change of the count).
        self.waiters.fetch_add(1, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        let ok = if ready() {
            Some(true)
        } else {
            match deadline {
                Some(d) if Instant::now() >= d => Some(false),
                _ => None,
            }
        };
        if ok.is_some() {
            // Nobody claimed us: a notifier needs the lock we held.
            g.threads -= 1;
            // Relaxed: under the mutex.
            self.waiters.fetch_sub(1, Ordering::Relaxed);
            return ok;
        }
        g = match deadline {
            None => self.cv.wait(g).unwrap_or_else(|e| e.into_inner()),
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                match self.cv.wait_timeout(g, left) {
                    Ok((g, _)) => g,
                    Err(e) => e.into_inner().0,
                }
            }
        };
        if g.tokens > 0 {
            g.tokens -= 1;
        } else {
            g.threads -= 1;
            // Relaxed: under the mutex; a stale non-zero count only costs a
            // notifier a needless lock.
            self.waiters.fetch_sub(1, Ordering::Relaxed);
        }
        None
    }

    /// The task form of [`wait_until`](Self::wait_until): `Ready` once
    /// `ready()` holds, otherwise registers `cx`'s waker in `key` and
    /// returns `Pending`; a later [`notify`](Self::notify) wakes it.
    /// `ready` runs first without the lock, then (slow path) after the
    /// SeqCst fence of the handshake, as for threads.
    pub(crate) fn poll_until(
        &self,
        key: &mut WaitKey,
        cx: &mut Context<'_>,
        ready: impl Fn() -> bool,
    ) -> Poll<()> {
        if ready() {
            // A `Waiting` slot left here is moved to `Idle` by the notify
            // that follows the change `ready` saw (module doc).
            key.pending = false;
            return Poll::Ready(());
        }
        let mut g = self.lock.lock();
        let i = match key.slot {
            Some(i) => i,
            None => {
                let i = match g.free.pop() {
                    Some(i) => i,
                    None => {
                        g.slots.push(Task::Idle);
                        g.slots.len() - 1
                    }
                };
                key.slot = Some(i);
                i
            }
        };
        match &mut g.slots[i] {
            Task::Waiting(w) => {
                if !w.will_wake(cx.waker()) {
                    w.clone_from(cx.waker());
                }
            }
            slot => {
                *slot = Task::Waiting(cx.waker().clone());
                // Relaxed + fence: the waiter half of the handshake (the
                // mutex orders every change of the task count).
                self.waiters.fetch_add(1, Ordering::Relaxed);
            }
        }
        fence(Ordering::SeqCst);
        if ready() {
            self.stop_waiting(&mut g, i);
            key.pending = false;
            return Poll::Ready(());
        }
        key.pending = true;
        Poll::Pending
    }

    /// Gives the slot back (the owner is dropped). No lock if it never
    /// waited.
    pub(crate) fn release(&self, key: &mut WaitKey) {
        if let Some(i) = key.slot.take() {
            let mut g = self.lock.lock();
            self.stop_waiting(&mut g, i);
            g.slots[i] = Task::Free;
            g.free.push(i);
            key.pending = false;
        }
    }

    fn stop_waiting(&self, g: &mut MutexGuard<'_, Wakers>, i: usize) {
        if let Task::Waiting(_) = g.slots[i] {
            g.slots[i] = Task::Idle;
            // Relaxed: under the mutex, as every change of the task count.
            self.waiters.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Registered waiters (threads and `Waiting` tasks), for tests.
    #[cfg(test)]
    pub(crate) fn waiters(&self) -> usize {
        // Relaxed: a diagnostic snapshot.
        self.waiters.load(Ordering::Relaxed)
    }
}

/// Before parking, retries `attempt` once per rung of the kernel's ladder
/// ([`SpinWait`]: spins, then yields, as crossbeam-channel's receivers do):
/// work that arrives within a few microseconds is then taken without the
/// park and unpark system calls on both sides. Bounded: once the ladder is
/// completed it gives up and the caller parks. Under loom the ladder is
/// completed at once and it tries nothing (the models check the wait
/// handshake itself).
#[inline]
pub(crate) fn spin_for<R>(mut attempt: impl FnMut() -> Option<R>) -> Option<R> {
    let mut spin = SpinWait::new();
    while spin.spin() {
        if let Some(got) = attempt() {
            return Some(got);
        }
    }
    None
}

impl std::fmt::Debug for WaitQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WaitQueue")
            // Relaxed: a diagnostic snapshot.
            .field("waiters", &self.waiters.load(Ordering::Relaxed))
            .finish()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;
    use std::task::Wake;

    struct Flag(AtomicBool);
    impl Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.0.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }

    #[test]
    fn task_registration_is_woken_and_released() {
        let q = WaitQueue::new();
        let flag = Arc::new(Flag(AtomicBool::new(false)));
        let waker = Waker::from(flag.clone());
        let mut cx = Context::from_waker(&waker);
        let ready = AtomicBool::new(false);
        let mut key = WaitKey::default();
        let check = || ready.load(std::sync::atomic::Ordering::SeqCst);
        assert!(q.poll_until(&mut key, &mut cx, check).is_pending());
        assert_eq!(q.waiters(), 1);
        ready.store(true, std::sync::atomic::Ordering::SeqCst);
        q.notify();
        assert!(flag.0.load(std::sync::atomic::Ordering::SeqCst));
        assert_eq!(q.waiters(), 0, "a woken slot is not counted");
        assert!(q.poll_until(&mut key, &mut cx, check).is_ready());
        q.release(&mut key);
        assert_eq!((key.slot, q.waiters()), (None, 0));
    }

    #[test]
    fn cancelled_registration_frees_its_slot() {
        let q = WaitQueue::new();
        let mut cx = Context::from_waker(Waker::noop());
        let mut a = WaitKey::default();
        let mut b = WaitKey::default();
        assert!(q.poll_until(&mut a, &mut cx, || false).is_pending());
        assert!(q.poll_until(&mut b, &mut cx, || false).is_pending());
        q.release(&mut a);
        assert_eq!(q.waiters(), 1);
        let mut c = WaitKey::default();
        assert!(q.poll_until(&mut c, &mut cx, || false).is_pending());
        assert_eq!(c.slot, Some(0)); // reused
        q.release(&mut b);
        q.release(&mut c);
        assert_eq!(q.waiters(), 0);
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use crate::sync::atomic::AtomicBool;
    use crate::sync::{thread, Arc};
    use std::future::poll_fn;

    /// A task waits for a flag a thread sets and notifies: it is never left
    /// pending (block_on would deadlock loom) and leaves no registration.
    #[test]
    fn loom_task_wakeup_not_lost() {
        loom::model(|| {
            let q = Arc::new(WaitQueue::new());
            let flag = Arc::new(AtomicBool::new(false));
            let (q2, f2) = (q.clone(), flag.clone());
            let t = thread::spawn(move || {
                // Relaxed: ordered by the fence in `notify`.
                f2.store(true, Ordering::Relaxed);
                q2.notify();
            });
            let mut key = WaitKey::default();
            loom::future::block_on(poll_fn(|cx| {
                // Relaxed: runs after the SeqCst fence of the handshake.
                q.poll_until(&mut key, cx, || flag.load(Ordering::Relaxed))
            }));
            q.release(&mut key);
            t.join().unwrap();
            assert_eq!(q.waiters(), 0);
        });
    }

    /// A thread and a task wait on one queue; one notify wakes both.
    #[test]
    fn loom_thread_and_task_share_one_queue() {
        loom::model(|| {
            let q = Arc::new(WaitQueue::new());
            let flag = Arc::new(AtomicBool::new(false));
            let (q2, f2) = (q.clone(), flag.clone());
            let parked = thread::spawn(move || {
                // Relaxed: runs after the SeqCst fence of the handshake.
                q2.wait_until(|| f2.load(Ordering::Relaxed), None);
            });
            let (q3, f3) = (q.clone(), flag.clone());
            let notifier = thread::spawn(move || {
                // Relaxed: ordered by the fence in `notify`.
                f3.store(true, Ordering::Relaxed);
                q3.notify();
            });
            let mut key = WaitKey::default();
            loom::future::block_on(poll_fn(|cx| {
                // Relaxed: as above.
                q.poll_until(&mut key, cx, || flag.load(Ordering::Relaxed))
            }));
            parked.join().unwrap();
            notifier.join().unwrap();
        });
    }

    /// A task registers, is cancelled (dropped) while a notify races: the
    /// other task still gets its wake-up.
    #[test]
    fn loom_cancelled_waiter_does_not_swallow_wakeup() {
        loom::model(|| {
            let q = Arc::new(WaitQueue::new());
            let flag = Arc::new(AtomicBool::new(false));
            let mut cx = Context::from_waker(Waker::noop());
            let mut dropped = WaitKey::default();
            // Relaxed: as above.
            let _ = q.poll_until(&mut dropped, &mut cx, || flag.load(Ordering::Relaxed));
            let (q2, f2) = (q.clone(), flag.clone());
            let t = thread::spawn(move || {
                // Relaxed: ordered by the fence in `notify`.
                f2.store(true, Ordering::Relaxed);
                q2.notify();
            });
            q.release(&mut dropped);
            let mut key = WaitKey::default();
            loom::future::block_on(poll_fn(|cx| {
                q.poll_until(&mut key, cx, || flag.load(Ordering::Relaxed))
            }));
            t.join().unwrap();
            assert_eq!(q.waiters(), 0);
        });
    }
}
