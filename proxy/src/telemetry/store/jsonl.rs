//! The JSON-lines sink: one JSON object per finished request, appended to a file, for people
//! who ship logs elsewhere. Also the format of the spill file the writer falls back to when
//! the database stays unreachable (there, pending records are kept too, so an import can
//! replay everything; the upsert rules make a replay idempotent).
//!
//! Pending and first-byte states are not written by the sink (a log wants one line per
//! request); it cannot be queried.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use async_trait::async_trait;

use super::{Store, StoreError, WriteBatch};
use crate::telemetry::clock::UnixMillis;
use crate::telemetry::query::{SummaryQuery, SummaryRow};
use crate::telemetry::record::UsageRecord;

/// The JSON-lines sink.
#[derive(Debug, Clone)]
pub struct JsonlStore {
    path: PathBuf,
}

impl JsonlStore {
    /// A sink appending to `path` (created with its directory on first write).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        JsonlStore { path: path.into() }
    }
}

/// Appends `records` to `path` as JSON lines (off the async threads), creating the file and
/// its directory.
pub async fn append(path: &Path, records: Vec<UsageRecord>) -> Result<(), StoreError> {
    if records.is_empty() {
        return Ok(());
    }
    let path = path.to_path_buf();
    let shown = path.display().to_string();
    let io = move || -> std::io::Result<()> {
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir)?;
        }
        let mut buf = Vec::with_capacity(records.len() * 512);
        for r in &records {
            serde_json::to_writer(&mut buf, r).map_err(std::io::Error::other)?;
            buf.push(b'\n');
        }
        let mut file = std::fs::OpenOptions::new().create(true).append(true).open(&path)?;
        file.write_all(&buf)?;
        file.flush()
    };
    match tokio::task::spawn_blocking(io).await {
        Ok(result) => result.map_err(|source| StoreError::Io { path: shown, source }),
        Err(join) => Err(StoreError::Io {
            path: shown,
            source: std::io::Error::other(join.to_string()),
        }),
    }
}

/// Reads a JSON-lines file of records; lines that do not parse are skipped and counted.
pub fn read(path: &Path) -> std::io::Result<(Vec<UsageRecord>, usize)> {
    let file = std::fs::File::open(path)?;
    let mut records = Vec::new();
    let mut bad = 0;
    for line in std::io::BufReader::new(file).lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str(&line) {
            Ok(r) => records.push(r),
            Err(_) => bad += 1,
        }
    }
    Ok((records, bad))
}

#[async_trait]
impl Store for JsonlStore {
    fn kind(&self) -> &'static str {
        "jsonl"
    }

    async fn migrate(&self) -> Result<Vec<u32>, StoreError> {
        Ok(Vec::new())
    }

    async fn write(&self, batch: &WriteBatch) -> Result<(), StoreError> {
        let finished: Vec<UsageRecord> = batch
            .records
            .iter()
            .filter(|r| r.status.is_terminal())
            .cloned()
            .collect();
        append(&self.path, finished).await
    }

    async fn recover(&self, _: &str, _: UnixMillis, _: UnixMillis) -> Result<u64, StoreError> {
        Ok(0)
    }

    async fn delete_older_than(&self, _: UnixMillis, _: u32) -> Result<u64, StoreError> {
        Ok(0)
    }

    async fn summary(&self, _: &SummaryQuery) -> Result<Vec<SummaryRow>, StoreError> {
        Err(StoreError::Unsupported("jsonl"))
    }

    async fn record(&self, _: &str) -> Result<Option<UsageRecord>, StoreError> {
        Err(StoreError::Unsupported("jsonl"))
    }

    async fn close(&self) {}
}
