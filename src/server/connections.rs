//! The open connections: how many there are, which are idle, and which to close. Owns the
//! connection cap and the choice of whom to shed at it; must not know protocols or routes
//! (the accept loop closes a connection when told to here).
//!
//! At the cap the server closes the connection that has been idle longest, as nginx reuses
//! its oldest keep-alive connection, rather than stop accepting: otherwise idle clients (no
//! key needed) could lock out everyone else until their timeouts passed.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// Every open connection, in the order they were opened.
pub struct Connections {
    cap: usize,
    state: Mutex<State>,
    /// Woken when a connection closes, or at the cap goes idle.
    closed: Notify,
}

#[derive(Default)]
struct State {
    next: u64,
    /// Connections not yet asked to close.
    live: usize,
    open: BTreeMap<u64, Entry>,
}

struct Entry {
    in_flight: usize,
    idle_since: Instant,
    /// Told when the connection is to close.
    shed: Arc<Notify>,
    shedding: bool,
}

impl Connections {
    pub fn new(cap: usize) -> Arc<Connections> {
        Arc::new(Connections {
            cap,
            state: Mutex::default(),
            closed: Notify::new(),
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // The state is consistent after every statement, so a panic elsewhere leaves it usable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A place for the next connection. At the cap, the connection idle the longest is told
    /// to close and its place taken at once; only when every connection is busy does this
    /// wait, for one to close.
    pub async fn admit(self: &Arc<Self>) -> Connection {
        loop {
            let closed = self.closed.notified();
            {
                let mut state = self.state();
                let room = state.live < self.cap || {
                    let oldest = state
                        .open
                        .values_mut()
                        .filter(|e| e.in_flight == 0 && !e.shedding)
                        .min_by_key(|e| e.idle_since);
                    match oldest {
                        Some(entry) => {
                            entry.shedding = true;
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
                    let shed = Arc::new(Notify::new());
                    state.open.insert(
                        id,
                        Entry {
                            in_flight: 0,
                            idle_since: Instant::now(),
                            shed: shed.clone(),
                            shedding: false,
                        },
                    );
                    return Connection {
                        id,
                        shed,
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
    shed: Arc<Notify>,
    connections: Arc<Connections>,
}

impl Connection {
    /// Completes when the connection is to close to make room for another.
    pub async fn shed(&self) {
        self.shed.notified().await;
    }

    /// Marks a request in flight until the guard is dropped.
    pub fn request(&self) -> InFlight {
        if let Some(entry) = self.connections.state().open.get_mut(&self.id) {
            entry.in_flight += 1;
        }
        InFlight {
            id: self.id,
            connections: self.connections.clone(),
        }
    }

    /// When the connection will have been idle for `limit`, if it stays idle; `None` while a
    /// request is in flight.
    pub fn idle_until(&self, limit: Duration) -> Option<Instant> {
        let state = self.connections.state();
        let entry = state.open.get(&self.id)?;
        (entry.in_flight == 0).then(|| entry.idle_since + limit)
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        let mut state = self.connections.state();
        if let Some(entry) = state.open.remove(&self.id)
            && !entry.shedding
        {
            state.live -= 1;
        }
        drop(state);
        self.connections.closed.notify_waiters();
    }
}

/// A request in flight on a connection.
pub struct InFlight {
    id: u64,
    connections: Arc<Connections>,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut state = self.connections.state();
        let full = state.live >= self.connections.cap;
        if let Some(entry) = state.open.get_mut(&self.id) {
            entry.in_flight -= 1;
            entry.idle_since = Instant::now();
        }
        drop(state);
        // A connection waiting for room may now shed this one.
        if full {
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
