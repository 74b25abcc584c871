//! Background jobs of a store: the thread pool that builds indexes (DDL
//! index builds, index jobs a commit, replay or checkpoint load hands
//! over; what a job does is its index's business, see `index/`). Created
//! on first use; never the global rayon pool. (The verifiable state's fold
//! thread is its own: see `merkle.rs`.)
//!
//! It counts the jobs queued or running, so that a clean close can wait
//! for them ([`Jobs::wait_idle`]) and checkpoint the graphs they built
//! instead of leaving them to be rebuilt at the next open.

use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use crate::index::IndexJob;
use crate::table::Table;

/// The build pool of one store.
#[derive(Default)]
pub(crate) struct Jobs {
    /// Threads for index builds (created on first use).
    pool: Mutex<Option<Arc<rayon::ThreadPool>>>,
    /// Jobs spawned and not finished yet.
    running: Arc<Running>,
    /// Told the progress of index builds DDL runs.
    progress: Mutex<Option<crate::progress::ProgressHook>>,
}

/// A count of unfinished jobs, and the condition a waiter for zero waits on.
#[derive(Default)]
struct Running {
    count: Mutex<usize>,
    idle: Condvar,
}

/// Counts one job as finished when dropped (also if the job panics).
struct Finished(Arc<Running>);

impl Drop for Finished {
    fn drop(&mut self) {
        let mut n = self.0.count.lock();
        *n = n.saturating_sub(1);
        if *n == 0 {
            self.0.idle.notify_all();
        }
    }
}

fn build_pool(threads: usize) -> Option<Arc<rayon::ThreadPool>> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("cairn-build-{i}"))
        .build()
        .ok()
        .map(Arc::new)
}

impl Jobs {
    /// The database's thread pool for index builds (one thread per core
    /// unless [`Jobs::set_threads`] said otherwise); `None` if no thread
    /// could be started (builds then run on the caller's thread).
    pub(crate) fn pool(&self) -> Option<Arc<rayon::ThreadPool>> {
        let mut pool = self.pool.lock();
        if pool.is_none() {
            let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
            *pool = build_pool(threads);
        }
        pool.clone()
    }

    /// Sets (or clears) the hook told the progress of index builds.
    pub(crate) fn set_progress(&self, hook: Option<crate::progress::ProgressHook>) {
        *self.progress.lock() = hook;
    }

    /// The hook told the progress of index builds, if any.
    pub(crate) fn progress(&self) -> Option<crate::progress::ProgressHook> {
        self.progress.lock().clone()
    }

    /// Sets how many threads build indexes.
    pub(crate) fn set_threads(&self, threads: usize) {
        *self.pool.lock() = build_pool(threads.max(1));
    }

    /// Runs index jobs on the build pool (or on this thread when there is
    /// none). Queries never wait for them.
    pub(crate) fn spawn_index_jobs(&self, jobs: Vec<(Arc<Table>, IndexJob)>) {
        for (table, job) in jobs {
            self.spawn_index_job(table, job);
        }
    }

    fn spawn_index_job(&self, table: Arc<Table>, job: IndexJob) {
        match self.pool() {
            Some(p) => {
                let pool = p.clone();
                *self.running.count.lock() += 1;
                let finished = Finished(self.running.clone());
                p.spawn(move || {
                    let _finished = finished;
                    table.run_index_job(job, Some(&pool));
                });
            }
            None => table.run_index_job(job, None),
        }
    }

    /// Waits until no job is queued or running, or `timeout` passed;
    /// returns whether none is. (Jobs spawned meanwhile are waited for
    /// too.)
    pub(crate) fn wait_idle(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut n = self.running.count.lock();
        while *n > 0 {
            if self.running.idle.wait_until(&mut n, deadline).timed_out() {
                return *n == 0;
            }
        }
        true
    }
}
