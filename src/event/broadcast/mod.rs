//! A bounded multi-producer, multi-consumer fan-out channel: every receiver
//! sees every message, in one global order, each once.
//!
//! ```text
//!  producers ── tail.fetch_add ─▶ seq ─▶ slot[seq & mask] ─ stamp = seq+1 ─▶ receivers
//!                                   ring of 2^k slots        (each keeps its own cursor)
//! ```
//!
//! A producer claims a sequence number with one `fetch_add` on the tail,
//! writes the slot and publishes it by storing the slot's stamp; each
//! receiver walks the sequence with a private cursor and compares stamps to
//! tell "not yet", "here" and "overwritten" apart (see `ring.rs` for the
//! stamp layout and invariants). The [`Policy`] chosen at construction
//! decides what a full ring does: `Overwrite` replaces the oldest message
//! and the lagging receiver learns how many it missed; `Backpressure` makes
//! producers wait for the slowest receiver.
//!
//! **Clone, not `Arc`**: each receiver gets its own `T::clone()` of each
//! message, made while reading the slot. For `u64`-like messages that is a
//! copy; for large messages send an `Arc<T>` (then a clone is one
//! reference-count increment, contended across receivers). Under
//! `Overwrite` a producer replacing a slot waits for clones of that slot in
//! progress, so a slow `Clone` delays producers that lap it.
//!
//! **What is lock-free**: `send` under `Overwrite` and `try_recv` under both
//! policies take no lock and, when no one is parked, do not call into the
//! OS: a `send` is one `fetch_add`, a few stores and one load of the waiter
//! count. They are not wait-free: a producer whose slot still holds a
//! message claimed a full lap earlier by a producer that has not finished
//! waits for it (as in every array-based MPMC queue), and an overwriting
//! producer waits for in-flight clones of its slot. `Backpressure` `send`
//! blocks by design. `recv`/`recv_timeout` spin briefly, then park on a
//! mutex + condvar that senders touch only when someone is parked.
//!
//! **Async** (feature `async`): [`Receiver::recv_async`],
//! [`Sender::send_async`] and the [`Stream`](futures_core::Stream) impl of
//! [`Receiver`] register a task's waker on the same wait queue blocked
//! threads park on (the crate's one wait mechanism), so one handshake
//! serves both, on any executor. Each documents its cancel safety.
//!
//! **Closing**: when the last [`Sender`] drops, receivers drain what is
//! left and then get `Closed`. A new receiver ([`Sender::subscribe`],
//! [`Receiver::resubscribe`]) starts at the tail: it sees messages sent
//! after it was created.
//!
//! **Nobody listening**: [`Sender::send`] returns the number of receivers
//! the message was published to, or hands it back in a [`SendError`] when
//! there are none (as tokio's broadcast does), so a message is never lost
//! silently for want of receivers. Subscribing cannot fail:
//! [`Sender::subscribe`] waits for room only on a `Backpressure` channel
//! at its `max_receivers`, and [`Sender::try_subscribe`] refuses instead.
//!
//! Files: `builder.rs` (policy, limits, [`Builder`]), `channel.rs` (the
//! shared state, [`Sender`], [`Receiver`]), `ring.rs` (the slots and their
//! stamps), `future.rs` (the async shells), `error.rs`.
mod builder;
mod channel;
mod error;
#[cfg(feature = "async")]
mod future;
mod ring;

pub use builder::{channel, Builder, Policy, MAX_CAPACITY, MAX_RECEIVERS};
pub use channel::{Receiver, Sender};
pub use error::{Lagged, RecvError, RecvTimeoutError, SendError, TryRecvError, TrySendError};
#[cfg(feature = "async")]
pub use future::{RecvFuture, SendFuture};
