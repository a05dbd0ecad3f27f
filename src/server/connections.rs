//! The open connections: how many there are, which are idle, and which to close. Owns the
//! connection cap and the choice of whom to shed at it; must not know protocols or routes
//! (the accept loop closes a connection when told to here).
//!
//! At the cap the server closes the connection that has been idle longest, as nginx reuses
//! its oldest keep-alive connection, rather than stop accepting: otherwise idle clients (no
//! key needed) could lock out everyone else until their timeouts passed.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// Every open connection, in the order they were opened. The list is locked only to open,
/// close and choose whom to shed; a request in flight is counted on its connection alone.
pub struct Connections {
    cap: usize,
    /// When the connections' idle times are counted from.
    epoch: Instant,
    state: Mutex<State>,
    /// Whether the cap is reached, so that a connection going idle wakes those waiting.
    full: AtomicBool,
    /// Woken when a connection closes, or at the cap goes idle.
    closed: Notify,
}

#[derive(Default)]
struct State {
    next: u64,
    /// Connections not yet asked to close.
    live: usize,
    open: BTreeMap<u64, Arc<Entry>>,
}

struct Entry {
    in_flight: AtomicUsize,
    /// Nanoseconds from the epoch to when the last request ended (or the connection opened).
    idle_since: AtomicU64,
    /// Told when the connection is to close.
    shed: Notify,
    shedding: AtomicBool,
}

impl Connections {
    pub fn new(cap: usize) -> Arc<Connections> {
        Arc::new(Connections {
            cap,
            epoch: Instant::now(),
            state: Mutex::default(),
            full: AtomicBool::new(false),
            closed: Notify::new(),
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // The state is consistent after every statement, so a panic elsewhere leaves it usable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn now(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    /// A place for the next connection. At the cap, the connection idle the longest is told
    /// to close and its place taken at once; only when every connection is busy does this
    /// wait, for one to close or go idle.
    pub async fn admit(self: &Arc<Self>) -> Connection {
        loop {
            let closed = self.closed.notified();
            {
                let mut state = self.state();
                let room = state.live < self.cap || {
                    let oldest = state
                        .open
                        .values()
                        .filter(|e| {
                            e.in_flight.load(Ordering::Acquire) == 0
                                && !e.shedding.load(Ordering::Relaxed)
                        })
                        .min_by_key(|e| e.idle_since.load(Ordering::Relaxed));
                    match oldest {
                        Some(entry) => {
                            entry.shedding.store(true, Ordering::Relaxed);
                            entry.shed.notify_one();
                            state.live -= 1;
                            true
                        }
                        None => false,
                    }
                };
                if room {
                    let id = state.next;
                    state.next += 1;
                    state.live += 1;
                    self.full.store(state.live >= self.cap, Ordering::Relaxed);
                    let entry = Arc::new(Entry {
                        in_flight: AtomicUsize::new(0),
                        idle_since: AtomicU64::new(self.now()),
                        shed: Notify::new(),
                        shedding: AtomicBool::new(false),
                    });
                    state.open.insert(id, entry.clone());
                    return Connection {
                        id,
                        entry,
                        connections: self.clone(),
                    };
                }
            }
            closed.await;
        }
    }

    /// Waits until every connection has closed.
    pub async fn all_closed(&self) {
        loop {
            let closed = self.closed.notified();
            if self.state().open.is_empty() {
                return;
            }
            closed.await;
        }
    }
}

/// One open connection's place; dropping it frees the place.
pub struct Connection {
    id: u64,
    entry: Arc<Entry>,
    connections: Arc<Connections>,
}

impl Connection {
    /// Completes when the connection is to close to make room for another.
    pub async fn shed(&self) {
        self.entry.shed.notified().await;
    }

    /// Marks a request in flight until the guard is dropped.
    pub fn request(&self) -> InFlight {
        self.entry.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight {
            entry: self.entry.clone(),
            connections: self.connections.clone(),
        }
    }

    /// When the connection will have been idle for `limit`, if it stays idle; `None` while a
    /// request is in flight.
    pub fn idle_until(&self, limit: Duration) -> Option<Instant> {
        if self.entry.in_flight.load(Ordering::Acquire) > 0 {
            return None;
        }
        let since = Duration::from_nanos(self.entry.idle_since.load(Ordering::Relaxed));
        Some(self.connections.epoch + since + limit)
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        let mut state = self.connections.state();
        if state.open.remove(&self.id).is_some() && !self.entry.shedding.load(Ordering::Relaxed) {
            state.live -= 1;
        }
        self.connections
            .full
            .store(state.live >= self.connections.cap, Ordering::Relaxed);
        drop(state);
        self.connections.closed.notify_waiters();
    }
}

/// A request in flight on a connection.
pub struct InFlight {
    entry: Arc<Entry>,
    connections: Arc<Connections>,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.entry
            .idle_since
            .store(self.connections.now(), Ordering::Relaxed);
        self.entry.in_flight.fetch_sub(1, Ordering::AcqRel);
        // A connection waiting for room may now shed this one.
        if self.connections.full.load(Ordering::Relaxed) {
            self.connections.closed.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn at_the_cap_the_longest_idle_connection_is_shed() {
        let connections = Connections::new(2);
        let first = connections.admit().await;
        let second = connections.admit().await;
        let busy = first.request();
        // `first` is busy, so `second` is shed for the third.
        let third = connections.admit().await;
        tokio::time::timeout(Duration::from_secs(5), second.shed())
            .await
            .expect("the idle connection is told to close");
        assert!(first.idle_until(Duration::ZERO).is_none());
        drop(busy);
        assert!(first.idle_until(Duration::ZERO).is_some());
        drop(second);
        // `third` has been idle since it opened, `first` only since its request ended.
        let _fourth = connections.admit().await;
        tokio::time::timeout(Duration::from_secs(5), third.shed())
            .await
            .expect("the idle connection is told to close");
        drop((first, third));
    }

    #[tokio::test]
    async fn when_every_connection_is_busy_the_next_waits_for_one_to_close() {
        let connections = Connections::new(1);
        let only = connections.admit().await;
        let busy = only.request();
        let waiting = tokio::spawn({
            let connections = connections.clone();
            async move { connections.admit().await.id }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        drop(busy);
        drop(only);
        let id = tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("admitted once the connection closed")
            .unwrap();
        assert_eq!(id, 1);
    }
}
