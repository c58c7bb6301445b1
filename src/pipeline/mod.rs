//! Constant-memory record processing: chunking, time-or-size batching,
//! a staged parallel pipeline with backpressure, and a JSON-lines source.
//!
//! - [`ChunkExt::chunked`] groups any iterator into `Vec`s of `n`.
//! - [`Batcher`] groups a stream into batches that are due when full or
//!   when their oldest item has waited long enough, on the crate's
//!   [`Clock`](crate::clock::Clock); [`Batcher::batches`] drives it from a
//!   channel.
//! - [`Pipeline`]: source -> stages (each with its own worker threads) ->
//!   consumer, over bounded queues, so memory is bounded by the queue
//!   capacities whatever the input size. Stages map, drop or fail records;
//!   failures go to an error sink with the record's position and the run
//!   goes on; output is in source order or unordered; the run ends cleanly
//!   when the source ends or the consumer stops early, with a
//!   [`RunReport`].
//! - [`JsonLines`] reads a file one line at a time, skipping blank lines
//!   and reporting malformed ones with their line numbers
//!   ([`Pipeline::json_lines`] makes it a source).
//!
//! Stages that can share threads do: consecutive stages with the same
//! worker count form one *segment*, whose threads run each record through
//! all of its stages with no queue between them (records are made and
//! freed on one thread), and one-worker stages right after the source run
//! on the source's thread. With one worker per stage, [`Pipeline::run`]
//! therefore needs no thread at all and runs on the calling thread;
//! [`Pipeline::fuse`]`(false)` gives every stage threads of its own again.
//! Per-stage counts are kept per stage whatever the fusion.
//!
//! ```text
//!  source + 1-worker stages ─q─> stages of w workers ─q─> stages of v ─q─> consumer
//! ```
//!
//! Records travel between segments in batches (one channel operation per
//! batch), each record with its source position for failure reports;
//! emptied batch buffers go back to the queue's senders on a free list
//! beside each queue, so buffers are not allocated on one thread and freed
//! on another. Ordered mode numbers the batches at the source's segment; a
//! batch that drops and failures empty still travels on as a hole so the
//! consumer can move past its number, and the source may run at most a
//! window of batches ahead of the consumer, which bounds the reorder
//! buffer:
//!
//! ```text
//!  source: fill batch, take window token, send (seq, [(pos, record)..])
//!  stage:  (seq, batch) -> (seq, [(pos, f(r)) for kept r])   (maybe empty)
//!  sink:   buffer by seq, hand out seq == next, one token back per seq
//! ```
//!
//! The threads talk through `crossbeam-channel` queues, plus one stop flag
//! they poll (an `AtomicBool`); counts come back when threads are joined.
mod batch;
mod builder;
mod chunk;
mod error;
#[cfg(feature = "serde")]
mod jsonl;
mod report;
mod running;
mod segment;
mod stage;

pub use batch::{Batcher, Batches};
pub use builder::{
    Pipeline, DEFAULT_BATCH_SIZE, DEFAULT_CAPACITY, MAX_BATCH_SIZE, MAX_CAPACITY,
    MAX_REORDER_WINDOW, MAX_WORKERS,
};
pub use chunk::{ChunkExt, Chunked};
pub use error::{BoxError, Error};
#[cfg(feature = "serde")]
#[cfg_attr(docsrs, doc(cfg(feature = "serde")))]
pub use jsonl::{JsonLines, LineError, LineErrorKind};
pub use report::{Failure, RunReport, StageReport};
pub use running::Running;
