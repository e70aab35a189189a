//! The simulation kernel: the one owner of virtual time, the event queue, the seeded RNG and
//! the trace output. It knows nothing about Kubernetes.
//!
//! Entry point: [`Kernel`]. Events are ordered by `(time, sequence)`, so events due at the same
//! instant come out in the order they were scheduled (FIFO), as nexosim's scheduler and
//! turmoil's `Sim::step` do. Timers that may become stale are armed under a key
//! ([`Kernel::schedule_keyed`]); [`Kernel::cancel`] cancels every timer armed under that key so
//! far, and cancelled timers never fire — no epoch counters in the models.
//!
//! ```
//! use sparkrig_model::time::{Dur, Time};
//! use sparkrig_sim::kernel::Kernel;
//!
//! let mut k: Kernel<&str, u32> = Kernel::new(1);
//! k.schedule(Dur::secs(2), "late");
//! k.schedule_keyed(7, Dur::secs(1), "stale");
//! k.cancel(&7);
//! k.schedule_keyed(7, Dur::secs(1), "fresh");
//! assert_eq!(k.pop(), Some((Time(1000), "fresh")));
//! assert_eq!(k.pop(), Some((Time(2000), "late")));
//! assert_eq!(k.pop(), None);
//! ```

use std::collections::{BinaryHeap, HashMap};
use std::hash::Hash;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use sparkrig_model::time::{Dur, Time};
use sparkrig_model::trace::{Event, Record};

/// A scheduled event.
#[derive(Debug)]
struct Entry<E, K> {
    at: Time,
    seq: u64,
    key: Option<K>,
    ev: E,
}

impl<E, K> PartialEq for Entry<E, K> {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl<E, K> Eq for Entry<E, K> {}
impl<E, K> PartialOrd for Entry<E, K> {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl<E, K> Ord for Entry<E, K> {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        // BinaryHeap is a max-heap: the earliest (time, seq) must compare greatest.
        (o.at, o.seq).cmp(&(self.at, self.seq))
    }
}

/// Virtual time, the event queue, the RNG and the trace buffer of one simulation.
#[derive(Debug)]
pub struct Kernel<E, K> {
    now: Time,
    seq: u64,
    queue: BinaryHeap<Entry<E, K>>,
    /// Per key, the sequence number of its last cancellation: timers armed under the key with a
    /// sequence number at or below it are dead.
    cancelled: HashMap<K, u64>,
    rng: ChaCha8Rng,
    trace: Vec<Record>,
    fired: u64,
}

impl<E, K: Eq + Hash + Clone> Kernel<E, K> {
    /// A kernel at t=0 whose RNG is seeded with `seed`.
    pub fn new(seed: u64) -> Kernel<E, K> {
        Kernel {
            now: Time::ZERO,
            seq: 0,
            queue: BinaryHeap::new(),
            cancelled: HashMap::new(),
            rng: ChaCha8Rng::seed_from_u64(seed),
            trace: Vec::new(),
            fired: 0,
        }
    }

    /// The current instant.
    #[inline]
    pub fn now(&self) -> Time {
        self.now
    }

    /// Schedules `ev` `after` from now.
    pub fn schedule(&mut self, after: Dur, ev: E) {
        self.push(after, None, ev);
    }

    /// Schedules `ev` `after` from now under `key`, so that [`Kernel::cancel`] can drop it.
    pub fn schedule_keyed(&mut self, key: K, after: Dur, ev: E) {
        self.push(after, Some(key), ev);
    }

    fn push(&mut self, after: Dur, key: Option<K>, ev: E) {
        self.seq += 1;
        self.queue.push(Entry { at: self.now + after, seq: self.seq, key, ev });
    }

    /// Cancels every timer armed under `key` so far; timers armed later are not affected.
    pub fn cancel(&mut self, key: &K) {
        self.cancelled.insert(key.clone(), self.seq);
    }

    fn live(&self, e: &Entry<E, K>) -> bool {
        e.key.as_ref().is_none_or(|k| self.cancelled.get(k).is_none_or(|c| e.seq > *c))
    }

    /// Drops cancelled timers from the front of the queue.
    fn skip_dead(&mut self) {
        while let Some(e) = self.queue.peek() {
            if self.live(e) {
                break;
            }
            self.queue.pop();
        }
    }

    /// When the next live event is due.
    pub fn next_at(&mut self) -> Option<Time> {
        self.skip_dead();
        self.queue.peek().map(|e| e.at)
    }

    /// Takes the next live event and moves time to it.
    pub fn pop(&mut self) -> Option<(Time, E)> {
        self.pop_until(Time(u64::MAX))
    }

    /// Takes the next live event due at or before `limit` and moves time to it.
    pub fn pop_until(&mut self, limit: Time) -> Option<(Time, E)> {
        if self.next_at()? > limit {
            return None;
        }
        let e = self.queue.pop().expect("peeked");
        self.now = e.at;
        self.fired += 1;
        Some((e.at, e.ev))
    }

    /// Moves time forward to `t` with nothing happening (the next event is not due before `t`).
    ///
    /// # Panics
    /// When an event is due before `t` or `t` is in the past: time only moves through events.
    pub fn advance_to(&mut self, t: Time) {
        assert!(t >= self.now, "time cannot go back ({} → {t})", self.now);
        assert!(self.next_at().is_none_or(|n| n >= t), "an event is due before {t}");
        self.now = t;
    }

    /// Records a trace event at the current instant.
    pub fn emit(&mut self, event: Event) {
        self.trace.push(Record { t: self.now, event });
    }

    /// Records a trace record (its instant is the caller's business).
    pub fn push_record(&mut self, rec: Record) {
        self.trace.push(rec);
    }

    /// Trace records emitted since the last call.
    pub fn take_trace(&mut self) -> Vec<Record> {
        std::mem::take(&mut self.trace)
    }

    /// Whether trace records are waiting to be taken.
    pub fn has_trace(&self) -> bool {
        !self.trace.is_empty()
    }

    /// The simulation's only source of randomness.
    pub fn rng(&mut self) -> &mut ChaCha8Rng {
        &mut self.rng
    }

    /// Events processed so far (cancelled ones excluded).
    pub fn fired(&self) -> u64 {
        self.fired
    }

    /// Events still scheduled (cancelled ones may be included until they reach the front).
    pub fn pending(&self) -> usize {
        self.queue.len()
    }
}

#[cfg(test)]
mod tests {
    use rand::RngCore;

    use super::*;

    type K = Kernel<u32, &'static str>;

    #[test]
    fn same_instant_events_come_out_in_scheduling_order() {
        let mut k = K::new(1);
        for i in 0..5 {
            k.schedule(Dur::secs(1), i);
        }
        k.schedule(Dur::ZERO, 99);
        assert_eq!(k.pop(), Some((Time(0), 99)));
        let order: Vec<u32> = std::iter::from_fn(|| k.pop().map(|(_, e)| e)).collect();
        assert_eq!(order, [0, 1, 2, 3, 4]);
    }

    #[test]
    fn cancel_drops_only_timers_armed_before_it() {
        let mut k = K::new(1);
        k.schedule_keyed("pod-a", Dur::secs(1), 1);
        k.schedule_keyed("pod-a", Dur::secs(3), 2);
        k.schedule_keyed("pod-b", Dur::secs(2), 3);
        k.cancel(&"pod-a");
        k.schedule_keyed("pod-a", Dur::secs(4), 4);
        let fired: Vec<(u64, u32)> = std::iter::from_fn(|| k.pop().map(|(t, e)| (t.as_ms(), e))).collect();
        assert_eq!(fired, [(2000, 3), (4000, 4)]);
        assert_eq!(k.fired(), 2, "cancelled timers are not counted");
    }

    #[test]
    fn cancelled_timers_do_not_move_time() {
        let mut k = K::new(1);
        k.schedule_keyed("x", Dur::secs(10), 1);
        k.cancel(&"x");
        assert_eq!(k.next_at(), None);
        assert_eq!(k.pop(), None);
        assert_eq!(k.now(), Time::ZERO);
    }

    #[test]
    fn pop_until_stops_at_the_limit_and_advance_to_moves_idle_time() {
        let mut k = K::new(1);
        k.schedule(Dur::secs(5), 1);
        assert_eq!(k.pop_until(Time(4999)), None);
        k.advance_to(Time(3000));
        assert_eq!(k.now(), Time(3000));
        k.schedule(Dur::secs(1), 2);
        assert_eq!(k.pop_until(Time(5000)), Some((Time(4000), 2)));
        assert_eq!(k.pop_until(Time(5000)), Some((Time(5000), 1)));
    }

    #[test]
    #[should_panic(expected = "an event is due before")]
    fn advance_to_refuses_to_skip_an_event() {
        let mut k = K::new(1);
        k.schedule(Dur::secs(1), 1);
        k.advance_to(Time(2000));
    }

    #[test]
    fn trace_records_carry_the_current_instant() {
        let mut k = K::new(1);
        k.schedule(Dur::ms(250), 1);
        k.pop();
        k.emit(Event::RunEnded { reason: "done".into() });
        let t = k.take_trace();
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].t, Time(250));
        assert!(!k.has_trace());
    }

    #[test]
    fn the_rng_is_seeded() {
        let draw = |seed| K::new(seed).rng().next_u64();
        assert_eq!(draw(7), draw(7));
        assert_ne!(draw(7), draw(8));
    }
}
