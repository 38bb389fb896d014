//! Recording of the requests a mock instance receives: [`RecordedRequest`] and the bounded,
//! cheap-to-append log that holds them.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;

/// How many requests the log keeps; older ones are forgotten so memory stays flat under load.
pub(crate) const MAX_RECORDED: usize = 10_000;

/// One request as the mock received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// The method, e.g. `POST`.
    pub method: String,
    /// The path without the query, e.g. `/v1/messages`.
    pub path: String,
    /// The raw query string without the `?`, if the request had one.
    pub query: Option<String>,
    /// Every header in arrival order, names in lower case.
    pub headers: Vec<(String, String)>,
    /// The complete request body.
    pub body: Bytes,
}

impl RecordedRequest {
    /// The first value of the header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The body parsed as JSON, if it is JSON.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// The request log of one mock instance.
#[derive(Debug, Default)]
pub(crate) struct Recorder {
    /// The most recent requests, oldest first.
    log: Mutex<VecDeque<RecordedRequest>>,
    /// Every request ever recorded, including the forgotten ones.
    total: AtomicUsize,
}

impl Recorder {
    /// Append a request, forgetting the oldest one when the log is full.
    pub(crate) fn record(&self, request: RecordedRequest) {
        let mut log = self.log.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if log.len() >= MAX_RECORDED {
            log.pop_front();
        }
        log.push_back(request);
        self.total.fetch_add(1, Ordering::Relaxed);
    }

    /// A copy of the log, oldest first.
    pub(crate) fn snapshot(&self) -> Vec<RecordedRequest> {
        let log = self.log.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        log.iter().cloned().collect()
    }

    /// How many requests were recorded since the instance started.
    pub(crate) fn total(&self) -> usize {
        self.total.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(n: usize) -> RecordedRequest {
        RecordedRequest {
            method: "POST".into(),
            path: format!("/{n}"),
            query: None,
            headers: vec![("x-api-key".into(), "k".into())],
            body: Bytes::from_static(b"{\"a\":1}"),
        }
    }

    #[test]
    fn log_is_bounded_and_ordered() {
        let recorder = Recorder::default();
        for n in 0..MAX_RECORDED + 5 {
            recorder.record(request(n));
        }
        let log = recorder.snapshot();
        assert_eq!(log.len(), MAX_RECORDED);
        assert_eq!(log[0].path, "/5");
        assert_eq!(recorder.total(), MAX_RECORDED + 5);
    }

    #[test]
    fn header_and_json_accessors() {
        let req = request(1);
        assert_eq!(req.header("X-API-Key"), Some("k"));
        assert_eq!(req.header("missing"), None);
        assert_eq!(req.json(), Some(serde_json::json!({"a": 1})));
    }
}
