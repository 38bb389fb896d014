//! The writer's backlog: events collapsed per request, so a request accepted, started and
//! finished within one flush interval is written once, as its final row.
//!
//! Merge rules: a record replaces what was held for its request, keeping a first-byte time
//! it lacks; a first byte marks a held non-final record streaming, or is held alone (it is
//! then an UPDATE of a row written by an earlier batch); nothing overrides a final record
//! with a non-final one.

use std::collections::HashMap;

use super::record::{Status, UsageRecord};
use super::store::{FirstByteUpdate, WriteBatch};

/// What is held for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Held {
    Record(Box<UsageRecord>),
    FirstByte(u64),
}

/// Events collapsed by request id.
#[derive(Debug, Default)]
pub struct Backlog {
    held: HashMap<String, Held>,
}

impl Backlog {
    /// Requests held.
    pub fn len(&self) -> usize {
        self.held.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }

    /// Adds a record (accepted or finished).
    pub fn record(&mut self, mut record: Box<UsageRecord>) {
        match self.held.get_mut(&record.request_id) {
            Some(Held::Record(old)) => {
                if old.status.is_terminal() && !record.status.is_terminal() {
                    return;
                }
                if record.ttfb_ms.is_none() {
                    record.ttfb_ms = old.ttfb_ms;
                    if old.status == Status::Streaming && record.status == Status::Pending {
                        record.status = Status::Streaming;
                    }
                }
                *old = record;
            }
            Some(Held::FirstByte(ttfb)) => {
                if record.ttfb_ms.is_none() {
                    record.ttfb_ms = Some(*ttfb);
                }
                if record.status == Status::Pending {
                    record.status = Status::Streaming;
                }
                let id = record.request_id.clone();
                self.held.insert(id, Held::Record(record));
            }
            None => {
                let id = record.request_id.clone();
                self.held.insert(id, Held::Record(record));
            }
        }
    }

    /// Adds a first byte.
    pub fn first_byte(&mut self, request_id: String, ttfb_ms: u64) {
        match self.held.get_mut(&request_id) {
            Some(Held::Record(r)) => {
                if !r.status.is_terminal() {
                    r.status = Status::Streaming;
                }
                r.ttfb_ms.get_or_insert(ttfb_ms);
            }
            Some(Held::FirstByte(_)) => {}
            None => {
                self.held.insert(request_id, Held::FirstByte(ttfb_ms));
            }
        }
    }

    /// Takes up to `max` requests as a write batch, its records in request-id order.
    ///
    /// Ids are ordered by time ([`crate::request_id`]), so in id order each row lands at
    /// the right-hand end of the primary-key index, where SQLite appends to the last page;
    /// in the map's order the rows of a batch land at random places among each other, and
    /// every page they fill is split in half.
    pub fn take(&mut self, max: usize) -> WriteBatch {
        let mut batch = WriteBatch::default();
        let mut taken = 0;
        for (request_id, held) in self.held.extract_if(|_, _| {
            taken += 1;
            taken <= max
        }) {
            match held {
                Held::Record(r) => batch.records.push(*r),
                Held::FirstByte(ttfb_ms) => batch.first_bytes.push(FirstByteUpdate { request_id, ttfb_ms }),
            }
        }
        batch.records.sort_unstable_by(|a, b| a.request_id.cmp(&b.request_id));
        batch
    }

    /// Puts a batch that could not be written back (newer events held meanwhile win).
    pub fn put_back(&mut self, batch: WriteBatch) {
        for r in batch.records {
            if !self.held.contains_key(&r.request_id) {
                self.held.insert(r.request_id.clone(), Held::Record(Box::new(r)));
            } else {
                // A newer event for the same request arrived: merge the old record under it.
                if let Some(Held::FirstByte(t)) = self.held.get(&r.request_id).cloned() {
                    let mut r = r;
                    r.ttfb_ms.get_or_insert(t);
                    if r.status == Status::Pending {
                        r.status = Status::Streaming;
                    }
                    self.held.insert(r.request_id.clone(), Held::Record(Box::new(r)));
                }
            }
        }
        for fb in batch.first_bytes {
            self.first_byte(fb.request_id, fb.ttfb_ms);
        }
    }

    /// Takes every held record (for the spill file); first-byte marks without their record
    /// are dropped, since the finished record carries the time to first byte again.
    pub fn drain_records(&mut self) -> (Vec<UsageRecord>, usize) {
        let mut records = Vec::with_capacity(self.held.len());
        let mut marks = 0;
        for (_, held) in self.held.drain() {
            match held {
                Held::Record(r) => records.push(*r),
                Held::FirstByte(_) => marks += 1,
            }
        }
        (records, marks)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::WireFormat;

    fn rec(id: &str, status: Status) -> Box<UsageRecord> {
        let mut r = UsageRecord::pending(id, WireFormat::Claude, std::time::SystemTime::now());
        r.status = status;
        Box::new(r)
    }

    #[test]
    fn a_whole_request_collapses_to_its_final_row() {
        let mut b = Backlog::default();
        b.record(rec("a", Status::Pending));
        b.first_byte("a".into(), 42);
        b.record(rec("a", Status::Completed));
        b.record(rec("b", Status::Pending));
        let batch = b.take(10);
        assert_eq!(batch.records.len(), 2);
        let a = batch.records.iter().find(|r| r.request_id == "a").unwrap();
        assert_eq!((a.status, a.ttfb_ms), (Status::Completed, Some(42)));
        assert!(batch.first_bytes.is_empty());
        assert!(b.is_empty());
    }

    #[test]
    fn batches_are_taken_in_id_order_and_up_to_max() {
        let mut b = Backlog::default();
        for id in ["c", "a", "e", "b", "d"] {
            b.record(rec(id, Status::Completed));
        }
        let first = b.take(3);
        let ids: Vec<&str> = first.records.iter().map(|r| r.request_id.as_str()).collect();
        assert_eq!(ids.len(), 3);
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
        assert_eq!(b.len(), 2);
        assert_eq!(b.take(3).records.len(), 2);
        assert!(b.is_empty());
    }

    #[test]
    fn late_first_byte_is_an_update_and_final_wins() {
        let mut b = Backlog::default();
        b.first_byte("a".into(), 7);
        let batch = b.take(10);
        assert_eq!(
            batch.first_bytes,
            vec![FirstByteUpdate {
                request_id: "a".into(),
                ttfb_ms: 7
            }]
        );
        b.record(rec("c", Status::Failed));
        b.record(rec("c", Status::Pending));
        assert_eq!(b.take(10).records[0].status, Status::Failed);
    }

    #[test]
    fn put_back_keeps_newer_events() {
        let mut b = Backlog::default();
        b.record(rec("a", Status::Pending));
        let batch = b.take(10);
        b.record(rec("a", Status::Completed));
        b.put_back(batch);
        assert_eq!(b.take(10).records[0].status, Status::Completed);
    }
}
