//! [`ReadBatcher`]: GET contact's reads, several requests in one round trip.
//!
//! A GET contact needs one statement (the token's credentials, the contact, its channel addresses:
//! `store::signed_in`). Sent one request at a time, each costs a thread that waits while PostgreSQL answers,
//! two thread switches to hand the request to that thread and back, and PostgreSQL's per-statement work. Here
//! the reads queue up and a few reader threads of this pool take whatever has queued each time they are free,
//! and read it all in one statement (one row of `unnest` per request, each joined by key): one round trip
//! and one wake-up for all of them. Under little load a read is alone in its statement and costs what it did;
//! under load the reads that arrive during one round trip share the next one, so the batches grow with the
//! load by themselves, without a timer that would delay a lone request.
//!
//! The outcome of each read goes to its own callback, on the reader's thread; the HTTP adapter's callback wakes
//! its request. A failed statement fails every read of its batch alike (a connection lost under it is tried
//! once more on a new one first, as `application::on_connection` does for single reads: `store::signed_in`).
//! This file only queues and hands out; how a batch is read is given to it by the pool's `Database`.
//!
//! Readers are started when reads wait and none is free, at most [`READERS`], and end after [`IDLE_FOR`]
//! without reads, so that a pool nobody reads from holds no thread (and a test's pool goes away with it).

use std::mem;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::Duration;

use application::ports::{ContactRead, ContactReadDone, CredentialsAndContact};
use application::StoreError;

/// How a reader reads a batch: every read in one statement, in the reads' order (`store::signed_in`).
pub(crate) type ReadAll = Box<dyn Fn(&[ContactRead]) -> Result<Vec<CredentialsAndContact>, StoreError> + Send>;

/// Most reader threads per pool: statements in flight at once. One reads while the next batch gathers; a
/// second is started (or woken) only while a whole statement's worth of reads waits
/// ([`MOST_PER_STATEMENT`]). Two readers taking turns would each send half-size batches, and twice the
/// statements and wake-ups: measured on 2 cores with 16 clients, that was no faster than no batching at all,
/// where one reader at a time did 1.7 times as many GETs per second (README, "Benchmark").
const READERS: usize = 2;

/// Most reads in one statement, so that one statement's rows and the requests waiting on it stay bounded.
const MOST_PER_STATEMENT: usize = 64;

/// How long a reader waits for reads before it ends.
const IDLE_FOR: Duration = Duration::from_secs(1);

/// A read waiting for its statement.
struct Waiting {
    read: ContactRead,
    done: ContactReadDone,
}

#[derive(Default)]
struct Queue {
    waiting: Vec<Waiting>,
    /// Reader threads running, and how many of them wait for reads.
    readers: usize,
    idle: usize,
}

/// The reads waiting for a statement, and the readers that send them (see the module's documentation).
#[derive(Default)]
pub(crate) struct ReadBatcher {
    queue: Mutex<Queue>,
    arrived: Condvar,
}

impl ReadBatcher {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        // nothing panics while holding the lock with the queue half changed, so a poisoned lock is taken as is
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `read`; `done` is called with its outcome on a reader's thread (at once, on this one, when no
    /// reader can be started). `reader` gives a new reader its way to read, when one is started.
    pub(crate) fn submit(self: &Arc<Self>, read: ContactRead, done: ContactReadDone, reader: impl FnOnce() -> ReadAll) {
        let mut queue = self.lock();
        queue.waiting.push(Waiting { read, done });
        let busy = queue.readers - queue.idle;
        if busy > 0 && queue.waiting.len() < MOST_PER_STATEMENT {
            // a busy reader takes it with everything else that arrives meanwhile, when its statement is answered
            return;
        }
        if queue.idle > 0 {
            drop(queue);
            self.arrived.notify_one();
            return;
        }
        if queue.readers >= READERS {
            return;
        }
        queue.readers += 1;
        drop(queue);
        let (batcher, read_all) = (Arc::clone(self), reader());
        let started = thread::Builder::new().name("contact-reads".into()).spawn(move || batcher.read(&read_all));
        if let Err(e) = started {
            // no reader at all: answer what waits, rather than leave it waiting
            let mut queue = self.lock();
            queue.readers -= 1;
            let stranded = if queue.readers == 0 { mem::take(&mut queue.waiting) } else { Vec::new() };
            drop(queue);
            let error = StoreError::Unavailable(format!("no thread to read on: {e}"));
            for w in stranded {
                (w.done)(Err(error.clone()));
            }
        }
    }

    /// A reader: takes what waits (up to [`MOST_PER_STATEMENT`]), reads it in one statement, answers each, and
    /// again, until no read came for [`IDLE_FOR`].
    fn read(&self, read_all: &ReadAll) {
        // counted out should this thread panic, so that the next read starts another
        let _counted = Counted(self);
        while let Some(batch) = self.next_batch() {
            let (reads, answers): (Vec<ContactRead>, Vec<ContactReadDone>) =
                batch.into_iter().map(|w| (w.read, w.done)).unzip();
            match read_all(&reads) {
                Ok(found) => {
                    for (done, found) in answers.into_iter().zip(found) {
                        done(Ok(found));
                    }
                }
                Err(e) => {
                    for done in answers {
                        done(Err(e.clone()));
                    }
                }
            }
        }
    }

    /// The next reads to send, waiting for some; `None`, and this reader counted out, after [`IDLE_FOR`]
    /// without any (under the lock that `submit` counts readers under, so that no read is left to a reader
    /// on its way out).
    fn next_batch(&self) -> Option<Vec<Waiting>> {
        let mut queue = self.lock();
        loop {
            if !queue.waiting.is_empty() {
                let rest = queue.waiting.len().saturating_sub(MOST_PER_STATEMENT);
                let batch = if rest == 0 {
                    mem::take(&mut queue.waiting)
                } else {
                    queue.waiting.drain(..MOST_PER_STATEMENT).collect()
                };
                let wake_another = rest > 0 && queue.idle > 0;
                drop(queue);
                if wake_another {
                    self.arrived.notify_one();
                }
                return Some(batch);
            }
            queue.idle += 1;
            let (next, waited) = self.arrived.wait_timeout(queue, IDLE_FOR).unwrap_or_else(PoisonError::into_inner);
            queue = next;
            queue.idle -= 1;
            if waited.timed_out() && queue.waiting.is_empty() {
                queue.readers -= 1;
                return None;
            }
        }
    }
}

/// A running reader, counted out of [`Queue::readers`] if it panics (it counts itself out when it ends).
struct Counted<'a>(&'a ReadBatcher);

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        if thread::panicking() {
            self.0.lock().readers -= 1;
        }
    }
}

#[cfg(all(test, feature = "test-support"))]
mod tests;
