//! `TraceBuffer`: the records waiting for the trace dispatcher, bounded (the
//! oldest go first when full, counted), cut into batches the size of one trace
//! message. A plain struct shared under a lock by the send hook and the
//! dispatcher; it returns decisions, the dispatcher arms timers.
use std::collections::{HashSet, VecDeque};

use crate::protocol::message::KEY_SEPARATOR;
use crate::protocol::trace_data::PubTrace;

/// Records per trace message at most (Java `AsyncTraceDispatcher.batchSize`).
pub(crate) const BATCH_RECORDS: usize = 100;
/// Body bytes per trace message at most (Java: `maxMsgSize` 128 000 less 10 000).
pub(crate) const BATCH_BYTES: usize = 118_000;
/// The keys of one trace message at most, in bytes: message properties must stay under 32 KiB.
const BATCH_KEY_BYTES: usize = 16 * 1024;

/// Counters of message trace, as [`ProducerStats::trace`](crate::ProducerStats::trace) reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TraceStats {
    /// Records made (one per send attempt with an outcome).
    pub recorded: u64,
    /// Records dropped: the oldest when the buffer was full, and those still
    /// unsent when a shutdown's flush ran out of time.
    pub dropped: u64,
    /// Records in trace messages the broker stored.
    pub sent: u64,
    /// Records in trace messages that failed (not retried further).
    pub failed: u64,
    /// Records waiting in the buffer now.
    pub pending: usize,
}

/// What a push asks of the dispatcher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pushed {
    /// Nothing: a wake-up is already on its way.
    Queued,
    /// The buffer was empty: arm the flush timer.
    First,
    /// A batch is full: send it now.
    BatchFull,
}

/// One trace message: its body (records back to back) and keys.
#[derive(Debug)]
pub(crate) struct Batch {
    pub(crate) body: String,
    /// The records' msgIds and business keys, deduplicated, space-separated.
    pub(crate) keys: String,
    pub(crate) records: usize,
}

#[derive(Debug)]
pub(crate) struct TraceBuffer {
    records: VecDeque<PubTrace>,
    capacity: usize,
    stats: TraceStats,
}

impl TraceBuffer {
    pub(crate) fn new(capacity: usize) -> Self {
        TraceBuffer {
            records: VecDeque::new(),
            capacity: capacity.max(1),
            stats: TraceStats::default(),
        }
    }

    /// Adds a record; when full, the oldest is dropped to make room.
    pub(crate) fn push(&mut self, rec: PubTrace) -> Pushed {
        self.stats.recorded += 1;
        if self.records.len() >= self.capacity {
            self.records.pop_front();
            self.stats.dropped += 1;
        }
        self.records.push_back(rec);
        match self.records.len() {
            1 => Pushed::First,
            n if n % BATCH_RECORDS == 0 => Pushed::BatchFull,
            _ => Pushed::Queued,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether a whole batch is waiting.
    pub(crate) fn has_full_batch(&self) -> bool {
        self.records.len() >= BATCH_RECORDS
    }

    /// The oldest records, as one trace message (`None` when empty).
    pub(crate) fn take_batch(&mut self) -> Option<Batch> {
        if self.records.is_empty() {
            return None;
        }
        let mut body = String::with_capacity(256 * self.records.len().min(BATCH_RECORDS));
        let mut taken = Vec::with_capacity(self.records.len().min(BATCH_RECORDS));
        while let Some(rec) = self.records.front() {
            if !taken.is_empty()
                && (taken.len() == BATCH_RECORDS
                    || body.len() + rec.encoded_len_hint() > BATCH_BYTES)
            {
                break;
            }
            let Some(rec) = self.records.pop_front() else {
                break;
            };
            rec.encode(&mut body);
            taken.push(rec);
        }
        let mut keys = String::new();
        let mut seen = HashSet::with_capacity(taken.len() * 2);
        for key in taken.iter().flat_map(PubTrace::trace_keys) {
            if keys.len() + key.len() < BATCH_KEY_BYTES && seen.insert(key) {
                if !keys.is_empty() {
                    keys.push_str(KEY_SEPARATOR);
                }
                keys.push_str(key);
            }
        }
        Some(Batch {
            body,
            keys,
            records: taken.len(),
        })
    }

    /// A trace message's records were stored (`ok`) or failed.
    pub(crate) fn settled(&mut self, records: usize, ok: bool) {
        if ok {
            self.stats.sent += records as u64;
        } else {
            self.stats.failed += records as u64;
        }
    }

    /// Drops everything still waiting (a shutdown out of time), counted as dropped.
    pub(crate) fn abandon(&mut self) -> usize {
        let n = self.records.len();
        self.records.clear();
        self.stats.dropped += n as u64;
        n
    }

    pub(crate) fn stats(&self) -> TraceStats {
        TraceStats {
            pending: self.records.len(),
            ..self.stats
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::trace_data::{MessageType, decode_pub};

    fn rec(i: usize) -> PubTrace {
        PubTrace {
            timestamp_ms: i as i64,
            region_id: "DefaultRegion".into(),
            group: "g".into(),
            topic: "T".into(),
            msg_id: format!("ID{i}"),
            tags: None,
            keys: Some(format!("k{i} shared")),
            store_host: "127.0.0.1:10911".into(),
            body_length: 1,
            cost_ms: 1,
            msg_type: MessageType::Normal,
            offset_msg_id: String::new(),
            success: true,
            client_host: None,
        }
    }

    #[test]
    fn trace_buffer_full_drops_the_oldest_and_counts() {
        let mut b = TraceBuffer::new(3);
        assert_eq!(b.push(rec(0)), Pushed::First);
        assert_eq!(b.push(rec(1)), Pushed::Queued);
        b.push(rec(2));
        b.push(rec(3));
        b.push(rec(4));
        let s = b.stats();
        assert_eq!((s.recorded, s.dropped, s.pending), (5, 2, 3));
        let batch = b.take_batch().unwrap();
        let ids: Vec<String> = decode_pub(&batch.body)
            .unwrap()
            .into_iter()
            .map(|r| r.msg_id)
            .collect();
        assert_eq!(ids, ["ID2", "ID3", "ID4"]);
        assert_eq!(batch.keys, "ID2 k2 shared ID3 k3 ID4 k4");
        assert!(b.take_batch().is_none());
    }

    #[test]
    fn trace_buffer_batches_by_count_and_bytes() {
        let mut b = TraceBuffer::new(10_000);
        let mut full = 0;
        for i in 0..250 {
            if b.push(rec(i)) == Pushed::BatchFull {
                full += 1;
            }
        }
        assert_eq!(full, 2);
        assert!(b.has_full_batch());
        let sizes: Vec<usize> = std::iter::from_fn(|| b.take_batch().map(|x| x.records)).collect();
        assert_eq!(sizes, [100, 100, 50]);

        let big = PubTrace {
            tags: Some("t".repeat(50_000)),
            ..rec(0)
        };
        for _ in 0..3 {
            b.push(big.clone());
        }
        let sizes: Vec<usize> = std::iter::from_fn(|| b.take_batch().map(|x| x.records)).collect();
        assert_eq!(sizes, [2, 1]);
        b.push(rec(1));
        b.settled(2, true);
        b.settled(1, false);
        assert_eq!(b.abandon(), 1);
        let s = b.stats();
        assert_eq!((s.sent, s.failed, s.dropped, s.pending), (2, 1, 1, 0));
    }
}
