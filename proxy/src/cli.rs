//! The `aether migrate` and `aether usage` commands.
//!
//! Both open the configured store directly (no writer, no crash recovery), so they are safe
//! to run beside a serving gateway.

use std::path::Path;
use std::process::ExitCode;

use crate::config;
use crate::telemetry::clock;
use crate::telemetry::migrate;
use crate::telemetry::query::{self, SummaryQuery};
use crate::telemetry::store;

/// How `aether usage` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// A text table.
    Table,
    /// JSON (the same as `GET /admin/usage`).
    Json,
}

fn runtime() -> Option<tokio::runtime::Runtime> {
    match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => Some(r),
        Err(e) => {
            eprintln!("aether: cannot start a runtime: {e}");
            None
        }
    }
}

fn read(path: &Path) -> Option<config::ConfigFile> {
    match config::read(path) {
        Ok(f) => Some(f),
        Err(e) => {
            eprintln!("{}: {e}", path.display());
            None
        }
    }
}

/// `aether migrate`: applies pending migrations of the configured database.
pub fn migrate(path: &Path) -> ExitCode {
    let (Some(file), Some(rt)) = (read(path), runtime()) else {
        return ExitCode::FAILURE;
    };
    match rt.block_on(migrate::run(&file.telemetry)) {
        Ok((kind, applied)) if applied.is_empty() => {
            println!("{kind}: up to date");
            ExitCode::SUCCESS
        }
        Ok((kind, applied)) => {
            println!("{kind}: applied migrations {applied:?}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("aether migrate: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `aether usage`: prints a summary for `[since, until)` grouped `by`.
pub fn usage(path: &Path, since: Option<&str>, until: Option<&str>, by: Option<&str>, output: Output) -> ExitCode {
    let (Some(file), Some(rt)) = (read(path), runtime()) else {
        return ExitCode::FAILURE;
    };
    let q = match SummaryQuery::parse(since, until, by, clock::now_ms()) {
        Ok(q) => q,
        Err(e) => {
            eprintln!("aether usage: {e}");
            return ExitCode::FAILURE;
        }
    };
    let rows = rt.block_on(async {
        let store = store::open(&file.telemetry)?.ok_or(store::StoreError::Unsupported("off"))?;
        let rows = store.summary(&q).await;
        store.close().await;
        rows
    });
    match rows {
        Ok(rows) => {
            match output {
                Output::Json => println!("{}", query::summary_json(&q, &rows)),
                Output::Table => print!("{}", query::summary_table(&q, &rows)),
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("aether usage: {e}");
            ExitCode::FAILURE
        }
    }
}
