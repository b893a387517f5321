//! Deadlines of many waiters behind one timer: a heap, earliest first, whose
//! entries for waiters answered early are skipped when due and compacted away
//! now and then. The producer (sends) and the `ConnectionActor` (requests)
//! both use it; the actor owns the one timer and asks [`DeadlineQueue::rearm`]
//! when to fire it.
use std::cmp::Reverse;
use std::collections::BinaryHeap;

use tokio::time::Instant;

/// Tables grown past this many entries are shrunk once they empty again; the
/// heap is compacted once it holds this many more entries than twice the live ones.
pub(crate) const SHRINK_ABOVE: usize = 1024;

/// Deadlines keyed by `K` (an opaque, a token, a sequence number).
#[derive(Debug)]
pub(crate) struct DeadlineQueue<K: Ord> {
    heap: BinaryHeap<Reverse<(Instant, K)>>,
    /// When the owner's timer fires, if one is armed.
    armed: Option<Instant>,
}

impl<K: Ord + Copy> Default for DeadlineQueue<K> {
    fn default() -> Self {
        DeadlineQueue {
            heap: BinaryHeap::new(),
            armed: None,
        }
    }
}

impl<K: Ord + Copy> DeadlineQueue<K> {
    /// Adds `key`'s deadline. `live` is how many waiters are still waiting:
    /// past `2 * live + SHRINK_ABOVE` entries, those `is_live` rejects are dropped.
    pub(crate) fn push(
        &mut self,
        deadline: Instant,
        key: K,
        live: usize,
        is_live: impl FnMut(Instant, K) -> bool,
    ) {
        self.heap.push(Reverse((deadline, key)));
        if self.heap.len() > 2 * live + SHRINK_ABOVE {
            self.compact(is_live);
        }
    }

    /// Drops the entries `is_live` rejects.
    pub(crate) fn compact(&mut self, mut is_live: impl FnMut(Instant, K) -> bool) {
        self.heap.retain(|Reverse((d, k))| is_live(*d, *k));
    }

    /// The earliest deadline, answered or not.
    pub(crate) fn next(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((d, _))| *d)
    }

    /// Takes the earliest entry if its deadline is at or before `now`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<(Instant, K)> {
        match self.heap.peek() {
            Some(Reverse((d, _))) if *d <= now => self.heap.pop().map(|Reverse(e)| e),
            _ => None,
        }
    }

    /// When the owner must (re)arm its timer, `fire_late` after the earliest
    /// deadline: `Some(at)` when no timer is armed for that time or earlier (the
    /// owner cancels the one it has and arms a new one at `at`), `None` otherwise.
    pub(crate) fn rearm(&mut self, fire_late: std::time::Duration) -> Option<Instant> {
        let at = self.next()? + fire_late;
        if self.armed.is_some_and(|armed| armed <= at) {
            return None;
        }
        self.armed = Some(at);
        Some(at)
    }

    /// The owner's timer fired (or was cancelled with its context): none is armed.
    pub(crate) fn disarmed(&mut self) {
        self.armed = None;
    }

    /// Forgets every deadline (the timer, if armed, stays armed and finds nothing).
    pub(crate) fn clear(&mut self) {
        self.heap.clear();
    }

    /// Forgets every deadline and gives back the heap's memory.
    pub(crate) fn clear_and_shrink(&mut self) {
        self.heap.clear();
        self.heap.shrink_to(0);
    }

    /// Entries held, answered ones included.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn pops_due_entries_in_deadline_order() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let mut q = DeadlineQueue::default();
        for (d, k) in [(30, 3u64), (10, 1), (20, 2)] {
            q.push(ms(d), k, 3, |_, _| true);
        }
        assert_eq!(q.next(), Some(ms(10)));
        assert_eq!(q.pop_due(ms(5)), None);
        assert_eq!(q.pop_due(ms(20)), Some((ms(10), 1)));
        assert_eq!(q.pop_due(ms(20)), Some((ms(20), 2)));
        assert_eq!(q.pop_due(ms(20)), None);
        assert_eq!(q.len(), 1);
    }

    #[test]
    fn one_timer_for_the_earliest_deadline() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let late = Duration::from_millis(1);
        let mut q = DeadlineQueue::default();
        assert_eq!(q.rearm(late), None, "nothing to wait for");
        q.push(ms(50), 1u64, 1, |_, _| true);
        assert_eq!(q.rearm(late), Some(ms(51)));
        q.push(ms(80), 2, 2, |_, _| true);
        assert_eq!(q.rearm(late), None, "the armed timer fires first");
        q.push(ms(20), 3, 3, |_, _| true);
        assert_eq!(q.rearm(late), Some(ms(21)), "an earlier deadline re-arms");
        q.disarmed();
        assert_eq!(q.rearm(late), Some(ms(21)));
    }

    #[test]
    fn answered_entries_are_compacted_away() {
        let t0 = Instant::now();
        let mut q = DeadlineQueue::default();
        // Only key 0 stays live; everything else was answered.
        for k in 0..(SHRINK_ABOVE as u64 + 10) {
            q.push(t0, k, 1, |_, key| key == 0);
        }
        assert!(q.len() <= SHRINK_ABOVE + 2, "{}", q.len());
        q.clear_and_shrink();
        assert_eq!(q.len(), 0);
    }
}
