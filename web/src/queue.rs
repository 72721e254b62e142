//! The upload queue: at most `limit` uploads run at once; the rest wait in order.

use std::collections::VecDeque;

/// Where a cancelled key was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removed {
    /// It was waiting in line.
    Waiting,
    /// It was running; its slot is free now.
    Active,
    /// It was neither waiting nor running.
    Absent,
}

/// Upload keys in line: at most `limit` run at once, the rest wait in order.
#[derive(Debug, Clone)]
pub struct UploadQueue<K> {
    limit: usize,
    waiting: VecDeque<K>,
    active: Vec<K>,
}

impl<K: PartialEq + Clone> UploadQueue<K> {
    /// A queue running at most `limit` (at least 1) at a time.
    pub fn new(limit: usize) -> Self {
        UploadQueue {
            limit: limit.max(1),
            waiting: VecDeque::new(),
            active: Vec::new(),
        }
    }

    /// Add `key` at the back; a key already waiting or running is not added twice.
    pub fn push(&mut self, key: K) -> bool {
        if self.contains(&key) {
            return false;
        }
        self.waiting.push_back(key);
        true
    }

    /// Move keys from the front of the line into free slots and return them (to be started).
    pub fn start_next(&mut self) -> Vec<K> {
        let mut started = Vec::new();
        while self.active.len() < self.limit {
            match self.waiting.pop_front() {
                Some(k) => {
                    self.active.push(k.clone());
                    started.push(k);
                }
                None => break,
            }
        }
        started
    }

    /// A running upload ended (for any reason); its slot is free.
    pub fn finish(&mut self, key: &K) -> bool {
        let before = self.active.len();
        self.active.retain(|k| k != key);
        before != self.active.len()
    }

    /// Take `key` out of the line or out of its slot.
    pub fn remove(&mut self, key: &K) -> Removed {
        if let Some(i) = self.waiting.iter().position(|k| k == key) {
            self.waiting.remove(i);
            Removed::Waiting
        } else if self.finish(key) {
            Removed::Active
        } else {
            Removed::Absent
        }
    }

    /// Whether `key` is waiting or running.
    pub fn contains(&self, key: &K) -> bool {
        self.waiting.contains(key) || self.active.contains(key)
    }

    /// Whether `key` is running.
    pub fn is_active(&self, key: &K) -> bool {
        self.active.contains(key)
    }

    /// How many are running.
    pub fn active_len(&self) -> usize {
        self.active.len()
    }

    /// The keys waiting, front first.
    pub fn waiting(&self) -> impl Iterator<Item = &K> {
        self.waiting.iter()
    }

    /// How many are waiting.
    pub fn waiting_len(&self) -> usize {
        self.waiting.len()
    }

    /// How many may run at once.
    pub fn limit(&self) -> usize {
        self.limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    #[wasm_bindgen_test]
    fn runs_at_most_limit_in_order() {
        let mut q = UploadQueue::new(3);
        for k in 1..=5 {
            assert!(q.push(k));
        }
        assert_eq!(q.start_next(), vec![1, 2, 3]);
        assert_eq!(q.start_next(), Vec::<i32>::new());
        assert_eq!((q.active_len(), q.waiting_len()), (3, 2));
        assert!(q.finish(&2));
        assert_eq!(q.start_next(), vec![4]);
        assert!(q.finish(&1));
        assert!(q.finish(&3));
        assert_eq!(q.start_next(), vec![5]);
        assert!(q.finish(&4));
        assert!(q.finish(&5));
        assert!(!q.finish(&5));
        assert_eq!((q.active_len(), q.waiting_len()), (0, 0));
    }

    #[wasm_bindgen_test]
    fn no_duplicates() {
        let mut q = UploadQueue::new(1);
        assert!(q.push("a"));
        assert!(!q.push("a"));
        assert_eq!(q.start_next(), vec!["a"]);
        assert!(!q.push("a"), "running keys are not queued again");
        assert!(q.push("b"));
        assert!(!q.push("b"));
    }

    #[wasm_bindgen_test]
    fn cancel_waiting_or_active() {
        let mut q = UploadQueue::new(1);
        q.push(1);
        q.push(2);
        q.push(3);
        assert_eq!(q.start_next(), vec![1]);
        assert_eq!(q.remove(&2), Removed::Waiting);
        assert_eq!(q.remove(&1), Removed::Active);
        assert_eq!(q.remove(&9), Removed::Absent);
        assert_eq!(q.start_next(), vec![3], "cancelled keys never start");
        assert!(q.is_active(&3));
    }

    #[wasm_bindgen_test]
    fn limit_is_at_least_one() {
        let mut q = UploadQueue::new(0);
        assert_eq!(q.limit(), 1);
        q.push(1);
        q.push(2);
        assert_eq!(q.start_next(), vec![1]);
    }
}
