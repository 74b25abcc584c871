//! The storage lock order, written once here and checked in debug builds.
//!
//! A thread takes the ranked locks only in rising rank:
//!
//! 1. the commit lock (`Shared::commit_lock` in `shared.rs`: commits and
//!    DDL, one at a time);
//! 2. the merkle lock (the state tries and history, in `merkle.rs`);
//! 3. the catalog lock (`Catalog`: which tables and views exist);
//! 4. a table lock (`Table::inner`), one table at a time.
//!
//! Every other mutex of the crate (open snapshots, queued folds, the build
//! pool, the manifest, the WAL's state) is a leaf: held for a few instructions, with
//! nothing taken under it, so it needs no rank.
//!
//! Scans never hold a table lock while their callback runs (`scan.rs`:
//! they copy a batch under the lock and hand it out after), so SQL
//! evaluated per row — a correlated subquery, `cairn_prove` — takes its
//! locks with no table lock held. One exception is left: a filtered
//! vector search evaluates its filter during the graph walk, under the
//! table's read lock. If that filter reads another table, the nested read
//! is taken with `read_recursive`, which does not queue behind a writer
//! waiting for that lock: `parking_lot`'s fair read would, and with the
//! outer read lock held that is a deadlock (the writer waits for the
//! outer reader, the reader for the writer). Writers never wait for
//! another table while holding one, so nested reads cannot close a cycle.
//! (A filter that asks for a proof or a state root there still breaks the
//! order, and debug builds say so; the index trait of `missions/seams.md`
//! moves the filter out of the walk.)
//!
//! [`Ranked`] wraps a `parking_lot` lock with its rank. In debug builds each
//! acquisition asserts the order, so a violation fails the tests that
//! reach it (two threads taking two locks in opposite orders is how
//! deadlocks start). In release builds the assertion compiles away; the
//! thread-local count of held table read locks, which picks the recursive
//! read, stays (one thread-local access per table lock).

use std::ops::{Deref, DerefMut};

use parking_lot::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// A lock's place in the order (lower is taken first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Rank {
    Commit = 1,
    Merkle = 2,
    Catalog = 3,
    Table = 4,
}

/// A lock with its rank.
pub(crate) struct Ranked<L> {
    rank: Rank,
    lock: L,
}

/// A guard of a [`Ranked`] lock: the inner guard, and (in debug builds)
/// the thread's record that it holds this rank until the guard drops.
pub(crate) struct RankedGuard<G> {
    guard: G,
    _held: Held,
}

impl<G: Deref> Deref for RankedGuard<G> {
    type Target = G::Target;
    fn deref(&self) -> &G::Target {
        &self.guard
    }
}

impl<G: DerefMut> DerefMut for RankedGuard<G> {
    fn deref_mut(&mut self) -> &mut G::Target {
        &mut self.guard
    }
}

impl<T> Ranked<Mutex<T>> {
    pub(crate) fn mutex(rank: Rank, value: T) -> Self {
        Ranked {
            rank,
            lock: Mutex::new(value),
        }
    }

    pub(crate) fn lock(&self) -> RankedGuard<MutexGuard<'_, T>> {
        let held = Held::acquire(self.rank);
        RankedGuard {
            guard: self.lock.lock(),
            _held: held,
        }
    }

    /// Whether some thread holds it (for assertions).
    pub(crate) fn is_locked(&self) -> bool {
        self.lock.is_locked()
    }
}

impl<T> Ranked<RwLock<T>> {
    pub(crate) fn rw(rank: Rank, value: T) -> Self {
        Ranked {
            rank,
            lock: RwLock::new(value),
        }
    }

    pub(crate) fn read(&self) -> RankedGuard<RwLockReadGuard<'_, T>> {
        let (held, nested) = Held::acquire_read(self.rank);
        let guard = if nested {
            self.lock.read_recursive()
        } else {
            self.lock.read()
        };
        RankedGuard { guard, _held: held }
    }

    pub(crate) fn write(&self) -> RankedGuard<RwLockWriteGuard<'_, T>> {
        let held = Held::acquire(self.rank);
        RankedGuard {
            guard: self.lock.write(),
            _held: held,
        }
    }
}

std::thread_local! {
    /// Table read locks this thread holds (a table read taken while this
    /// is above zero is nested, and taken recursively).
    static TABLE_READS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

#[cfg(debug_assertions)]
std::thread_local! {
    /// The ranked locks this thread holds (rank, taken for reading), in
    /// taking order.
    static HELD: std::cell::RefCell<Vec<(Rank, bool)>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// This thread holds one ranked lock until this drops.
struct Held {
    /// A table read lock (counted in `TABLE_READS`).
    table_read: bool,
    #[cfg(debug_assertions)]
    rank: Rank,
}

impl Held {
    /// Records taking a lock of `rank` for writing (or a mutex), asserting
    /// the order first (before blocking, so a violation is reported, not
    /// deadlocked).
    fn acquire(rank: Rank) -> Held {
        Held::record(rank, false, false)
    }

    /// Records taking a read lock of `rank`; also says whether it is a
    /// nested table read (take it recursively).
    fn acquire_read(rank: Rank) -> (Held, bool) {
        let table_read = rank == Rank::Table;
        let nested = table_read && TABLE_READS.with(|c| c.get()) > 0;
        (Held::record(rank, true, nested), nested)
    }

    #[cfg_attr(not(debug_assertions), allow(unused_variables))]
    fn record(rank: Rank, read: bool, nested: bool) -> Held {
        #[cfg(debug_assertions)]
        HELD.with(|held| {
            let mut held = held.borrow_mut();
            debug_assert!(
                held.iter()
                    .all(|&(r, r_read)| r < rank || (nested && r == Rank::Table && r_read)),
                "lock order violated: taking the {rank:?} lock ({}) while holding {held:?} \
                 (order: commit, merkle, catalog, table; nested table reads only; see lock.rs)",
                if read { "read" } else { "write" }
            );
            held.push((rank, read));
        });
        let table_read = read && rank == Rank::Table;
        if table_read {
            TABLE_READS.with(|c| c.set(c.get() + 1));
        }
        Held {
            table_read,
            #[cfg(debug_assertions)]
            rank,
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if self.table_read {
            let _ = TABLE_READS.try_with(|c| c.set(c.get().saturating_sub(1)));
        }
        // Guards may drop in any order: forget the newest entry of this rank.
        #[cfg(debug_assertions)]
        let _ = HELD.try_with(|held| {
            let mut held = held.borrow_mut();
            if let Some(i) = held.iter().rposition(|&(r, _)| r == self.rank) {
                held.remove(i);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rising_ranks_are_fine_and_guards_may_drop_in_any_order() {
        let commit = Ranked::mutex(Rank::Commit, 0);
        let catalog = Ranked::rw(Rank::Catalog, 0);
        let table = Ranked::rw(Rank::Table, 0);
        let c = commit.lock();
        let k = catalog.read();
        drop(c);
        let mut t = table.write();
        *t += 1;
        drop(k);
        drop(t);
        // Everything released: the commit lock may be taken again.
        assert_eq!(*commit.lock(), 0);
        assert_eq!(*table.read(), 1);
    }

    #[test]
    #[cfg(debug_assertions)]
    fn a_lower_rank_under_a_higher_one_is_caught() {
        let result = std::thread::spawn(|| {
            let commit = Ranked::mutex(Rank::Commit, ());
            let table = Ranked::rw(Rank::Table, ());
            let _t = table.read();
            let _c = commit.lock();
        })
        .join();
        assert!(
            result.is_err(),
            "taking the commit lock under a table lock must fail"
        );
    }

    #[test]
    #[cfg(debug_assertions)]
    fn a_table_write_under_a_table_read_is_caught() {
        let result = std::thread::spawn(|| {
            let a = Ranked::rw(Rank::Table, ());
            let b = Ranked::rw(Rank::Table, ());
            let _a = a.read();
            let _b = b.write();
        })
        .join();
        assert!(
            result.is_err(),
            "a table write under a table read must fail"
        );
    }

    #[test]
    fn a_nested_table_read_does_not_queue_behind_a_waiting_writer() {
        use std::sync::Arc;
        use std::time::Duration;
        let t = Arc::new(Ranked::rw(Rank::Table, 0u32));
        let outer = t.read();
        // A writer parks on the lock, waiting for `outer`.
        let writer = {
            let t = t.clone();
            std::thread::spawn(move || *t.write() += 1)
        };
        std::thread::sleep(Duration::from_millis(50));
        // With a fair read this would wait for the writer, which waits for
        // `outer`: a deadlock. The nested read is recursive.
        let inner = t.read();
        assert_eq!(*inner, 0);
        drop(inner);
        drop(outer);
        writer.join().expect("writer");
        assert_eq!(*t.read(), 1);
    }
}
