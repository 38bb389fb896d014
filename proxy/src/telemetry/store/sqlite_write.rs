//! The SQLite store's batch write, through SQLite's C API on a connection sqlx opened.
//!
//! sqlx runs each SQLite connection on a worker thread of its own and sends it every
//! statement with its arguments, so it copies each bound text into an owned value first;
//! SQLite then copies it again. A usage record binds 45 values, a dozen of them texts, and
//! that handling cost about two thirds of the store's CPU per record (BENCHMARKS.md, "Usage
//! writer"). Here the writer takes the connection's handle from sqlx for the length of one
//! batch (`LockedSqliteHandle`: sqlx's worker makes no call on it meanwhile) and binds each
//! value where it lies: integers directly, texts as pointers into the records
//! (`SQLITE_STATIC`). A [`Statement`] carries the lifetime of the values bound to it, so the
//! borrow checker keeps every record alive for as long as SQLite may read it.
//!
//! Everything else about the connection (opening it, its pragmas and busy timeout, the
//! migrations, the queries) stays with sqlx. All of the telemetry stores' `unsafe` code is
//! in this file: calls into SQLite's C API, each with the reason it is sound beside it.
#![allow(unsafe_code)]

use std::ffi::{CStr, c_char, c_int};
use std::marker::PhantomData;
use std::ptr::{self, NonNull};

use libsqlite3_sys as ffi;
use sqlx::sqlite::LockedSqliteHandle;
use thiserror::Error;

use super::sql::Val;

/// An error SQLite reported, with its extended result code.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
#[error("SQLite error {code}: {message}")]
pub struct SqliteError {
    /// The extended result code (`SQLITE_BUSY` is 5, `SQLITE_CONSTRAINT_PRIMARYKEY` 1555).
    pub code: c_int,
    /// SQLite's message for it.
    pub message: String,
}

impl SqliteError {
    /// The caller's mistake, caught before SQLite saw it.
    fn misuse(message: &str) -> Self {
        SqliteError {
            code: ffi::SQLITE_MISUSE,
            message: message.into(),
        }
    }

    /// Whether retrying later may succeed without anyone changing anything: the database is
    /// busy or locked by another connection, or the disk failed, filled up or went away.
    pub fn is_transient(&self) -> bool {
        matches!(
            self.code & 0xff,
            ffi::SQLITE_BUSY | ffi::SQLITE_LOCKED | ffi::SQLITE_IOERR | ffi::SQLITE_FULL | ffi::SQLITE_CANTOPEN
        )
    }
}

/// Whether a connection can go back to the pool after a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Afterwards {
    /// It is as sqlx left it: no transaction open.
    Reusable,
    /// A transaction is still open (its rollback failed too): it must be closed, not reused.
    Discard,
}

/// A connection's handle, borrowed from sqlx for as long as the lock on it lives.
pub struct Connection<'h> {
    db: NonNull<ffi::sqlite3>,
    _lock: PhantomData<&'h mut ()>,
}

impl<'h> Connection<'h> {
    /// The handle `locked` holds; sqlx makes no call on it while the borrow lasts.
    pub fn new(locked: &'h mut LockedSqliteHandle<'_>) -> Self {
        Connection {
            db: locked.as_raw_handle(),
            _lock: PhantomData,
        }
    }

    /// Runs `f` inside `BEGIN IMMEDIATE` … `COMMIT`, rolling back when it or the commit
    /// fails. `IMMEDIATE` takes the write lock up front, so waiting for another writer
    /// happens once, under the connection's busy timeout, instead of failing midway.
    pub fn transaction<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, SqliteError>,
    ) -> Result<T, (SqliteError, Afterwards)> {
        self.exec(c"BEGIN IMMEDIATE").map_err(|e| (e, self.afterwards()))?;
        match f(self).and_then(|value| self.exec(c"COMMIT").map(|()| value)) {
            Ok(value) => Ok(value),
            Err(e) => {
                // The error that matters is `e`; a failed rollback shows in `afterwards`.
                let _ = self.exec(c"ROLLBACK");
                Err((e, self.afterwards()))
            }
        }
    }

    /// Prepares `sql` (one statement) to run many times, with values that live for `'v`.
    pub fn prepare<'v>(&mut self, sql: &str) -> Result<Statement<'_, 'v>, SqliteError> {
        let len = c_int::try_from(sql.len()).map_err(|_| SqliteError {
            code: ffi::SQLITE_TOOBIG,
            message: "statement text too long".into(),
        })?;
        let mut raw = ptr::null_mut();
        // SAFETY: `db` is a live connection this borrow has to itself; `sql` is valid for
        // `len` bytes (SQLite reads no further and needs no NUL); `raw` is written once.
        let rc = unsafe {
            ffi::sqlite3_prepare_v3(
                self.db.as_ptr(),
                sql.as_ptr().cast::<c_char>(),
                len,
                ffi::SQLITE_PREPARE_PERSISTENT,
                &mut raw,
                ptr::null_mut(),
            )
        };
        if rc != ffi::SQLITE_OK {
            return Err(self.error(rc));
        }
        match NonNull::new(raw) {
            Some(raw) => Ok(Statement {
                raw,
                db: self.db,
                _conn: PhantomData,
                _values: PhantomData,
            }),
            None => Err(SqliteError::misuse("no statement in the text")),
        }
    }

    fn exec(&mut self, sql: &CStr) -> Result<(), SqliteError> {
        // SAFETY: as in `prepare`; `sql` is NUL-terminated; no callback, no error string.
        let rc = unsafe { ffi::sqlite3_exec(self.db.as_ptr(), sql.as_ptr(), None, ptr::null_mut(), ptr::null_mut()) };
        if rc == ffi::SQLITE_OK {
            Ok(())
        } else {
            Err(self.error(rc))
        }
    }

    fn afterwards(&self) -> Afterwards {
        // SAFETY: a live connection; reads a flag.
        if unsafe { ffi::sqlite3_get_autocommit(self.db.as_ptr()) } != 0 {
            Afterwards::Reusable
        } else {
            Afterwards::Discard
        }
    }

    fn error(&self, rc: c_int) -> SqliteError {
        error_of(self.db, rc)
    }
}

fn error_of(db: NonNull<ffi::sqlite3>, rc: c_int) -> SqliteError {
    // SAFETY: a live connection; the message is copied out before any other call on it.
    let (code, message) = unsafe {
        let code = ffi::sqlite3_extended_errcode(db.as_ptr());
        let message = ffi::sqlite3_errmsg(db.as_ptr());
        let message = if message.is_null() {
            String::new()
        } else {
            CStr::from_ptr(message).to_string_lossy().into_owned()
        };
        (code, message)
    };
    SqliteError {
        // The connection's code is the step's, in detail; `rc` when it has none.
        code: if code == ffi::SQLITE_OK { rc } else { code },
        message,
    }
}

/// A prepared statement of one [`Connection`] whose bound texts live for `'v`; finalized
/// when dropped.
pub struct Statement<'c, 'v> {
    raw: NonNull<ffi::sqlite3_stmt>,
    db: NonNull<ffi::sqlite3>,
    _conn: PhantomData<&'c mut ()>,
    _values: PhantomData<&'v str>,
}

impl<'v> Statement<'_, 'v> {
    /// Binds `values` to parameters 1, 2, … and runs the statement to its end (a write: any
    /// rows it would return are skipped). SQLite keeps pointers to the texts until they are
    /// bound again or the statement is finalized, which `'v` outlives.
    pub fn run(&mut self, values: &[Val<'v>]) -> Result<(), SqliteError> {
        let outcome = self.bind(values).and_then(|()| self.step());
        // SAFETY: a live statement of a live connection. Reset ends the step; its code
        // repeats the step's error, already taken.
        unsafe {
            ffi::sqlite3_reset(self.raw.as_ptr());
        }
        outcome
    }

    fn bind(&mut self, values: &[Val<'v>]) -> Result<(), SqliteError> {
        let stmt = self.raw.as_ptr();
        for (i, value) in values.iter().enumerate() {
            let index = c_int::try_from(i + 1).map_err(|_| SqliteError::misuse("too many values"))?;
            // SAFETY: a live statement. A text is bound as `SQLITE_STATIC`: SQLite reads
            // it in place until it is rebound or the statement finalized, and it lives for
            // `'v`, which outlives the statement. Its length is given, so it needs no NUL,
            // and `&str` is UTF-8 as `SQLITE_UTF8` says.
            let rc = unsafe {
                match *value {
                    Val::Int(n) | Val::OptInt(Some(n)) => ffi::sqlite3_bind_int64(stmt, index, n),
                    Val::Bool(b) => ffi::sqlite3_bind_int64(stmt, index, i64::from(b)),
                    Val::Text(s) | Val::OptText(Some(s)) => ffi::sqlite3_bind_text64(
                        stmt,
                        index,
                        s.as_ptr().cast::<c_char>(),
                        s.len() as u64,
                        ffi::SQLITE_STATIC(),
                        ffi::SQLITE_UTF8 as u8,
                    ),
                    Val::OptInt(None) | Val::OptText(None) => ffi::sqlite3_bind_null(stmt, index),
                }
            };
            if rc != ffi::SQLITE_OK {
                return Err(error_of(self.db, rc));
            }
        }
        Ok(())
    }

    fn step(&mut self) -> Result<(), SqliteError> {
        loop {
            // SAFETY: a live statement with every parameter bound (or NULL).
            match unsafe { ffi::sqlite3_step(self.raw.as_ptr()) } {
                ffi::SQLITE_DONE => return Ok(()),
                ffi::SQLITE_ROW => continue,
                rc => return Err(error_of(self.db, rc)),
            }
        }
    }
}

impl Drop for Statement<'_, '_> {
    fn drop(&mut self) {
        // SAFETY: the statement is live and used by nothing else; finalize frees it.
        unsafe {
            ffi::sqlite3_finalize(self.raw.as_ptr());
        }
    }
}

// The raw pointers make these types neither `Send` nor `Sync`, which is right: they are
// used on the thread that holds the lock, within one synchronous stretch of the writer.

#[cfg(test)]
mod tests {
    use sqlx::Connection as _;
    use sqlx::sqlite::SqliteConnection;

    use super::*;

    /// `conn` with the tests' table `t`.
    async fn with_table(mut conn: SqliteConnection) -> SqliteConnection {
        sqlx::query("CREATE TABLE t (id TEXT PRIMARY KEY NOT NULL, n INTEGER, b INTEGER, s TEXT)")
            .execute(&mut conn)
            .await
            .expect("table");
        conn
    }

    async fn memory() -> SqliteConnection {
        with_table(
            SqliteConnection::connect("sqlite::memory:")
                .await
                .expect("in-memory database"),
        )
        .await
    }

    #[tokio::test]
    async fn binds_each_kind_of_value_and_commits() {
        let mut conn = memory().await;
        {
            let mut locked = conn.lock_handle().await.expect("lock");
            let mut db = Connection::new(&mut locked);
            let texts = [String::from("é\"x"), String::new()];
            db.transaction(|db| {
                let mut insert = db.prepare("INSERT INTO t (id, n, b, s) VALUES (?, ?, ?, ?)")?;
                insert.run(&[
                    Val::Text(&texts[0]),
                    Val::OptInt(Some(-7)),
                    Val::Bool(true),
                    Val::OptText(None),
                ])?;
                insert.run(&[
                    Val::Text("b"),
                    Val::OptInt(None),
                    Val::Bool(false),
                    Val::OptText(Some(&texts[1])),
                ])?;
                insert.run(&[Val::Text("c"), Val::Int(i64::MAX), Val::Bool(false), Val::Text("tail")])
            })
            .expect("written");
        }
        let rows: Vec<(String, Option<i64>, bool, Option<String>)> =
            sqlx::query_as("SELECT id, n, b, s FROM t ORDER BY id")
                .fetch_all(&mut conn)
                .await
                .expect("read");
        assert_eq!(
            rows,
            vec![
                ("b".into(), None, false, Some(String::new())),
                ("c".into(), Some(i64::MAX), false, Some("tail".into())),
                ("é\"x".into(), Some(-7), true, None),
            ]
        );
    }

    #[tokio::test]
    async fn a_failing_row_rolls_the_whole_batch_back_and_leaves_the_connection_usable() {
        let mut conn = memory().await;
        {
            let mut locked = conn.lock_handle().await.expect("lock");
            let mut db = Connection::new(&mut locked);
            let (error, afterwards) = db
                .transaction(|db| {
                    let mut insert = db.prepare("INSERT INTO t (id) VALUES (?)")?;
                    insert.run(&[Val::Text("a")])?;
                    insert.run(&[Val::Text("a")])
                })
                .expect_err("duplicate key");
            assert_eq!(error.code, ffi::SQLITE_CONSTRAINT_PRIMARYKEY, "{error}");
            assert!(error.message.contains("UNIQUE"), "{error}");
            assert!(!error.is_transient());
            assert_eq!(afterwards, Afterwards::Reusable);
        }
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM t")
            .fetch_one(&mut conn)
            .await
            .expect("count");
        assert_eq!(count, 0, "the first row went with the rollback");
    }

    #[tokio::test]
    async fn bad_statements_and_arity_are_errors() {
        let mut conn = memory().await;
        let mut locked = conn.lock_handle().await.expect("lock");
        let mut db = Connection::new(&mut locked);
        let error = db
            .prepare("INSERT INTO nowhere VALUES (?)")
            .err()
            .expect("no such table");
        assert_eq!(error.code, ffi::SQLITE_ERROR);
        assert!(error.message.contains("nowhere"), "{error}");
        let mut insert = db.prepare("INSERT INTO t (id) VALUES (?)").expect("prepared");
        let error = insert
            .run(&[Val::Text("a"), Val::Int(1)])
            .expect_err("one value too many");
        assert_eq!(error.code & 0xff, ffi::SQLITE_RANGE, "{error}");
    }

    /// Another connection holds the write lock: a write waits for it under the connection's
    /// busy timeout, and without one fails with a transient error.
    #[tokio::test]
    async fn a_write_waits_for_another_writer_or_fails_transiently() {
        use std::time::Duration;

        use sqlx::sqlite::SqliteConnectOptions;

        let dir = tempfile::tempdir().expect("temporary directory");
        let options = |busy_ms| {
            SqliteConnectOptions::new()
                .filename(dir.path().join("busy.db"))
                .create_if_missing(true)
                .busy_timeout(Duration::from_millis(busy_ms))
        };
        let mut holder = with_table(
            SqliteConnection::connect_with(&options(0))
                .await
                .expect("first connection"),
        )
        .await;
        let insert = |conn: &mut LockedSqliteHandle<'_>, id: &str| {
            Connection::new(conn).transaction(|db| db.prepare("INSERT INTO t (id) VALUES (?)")?.run(&[Val::Text(id)]))
        };

        sqlx::query("BEGIN IMMEDIATE")
            .execute(&mut holder)
            .await
            .expect("write lock");
        let mut impatient = SqliteConnection::connect_with(&options(0))
            .await
            .expect("second connection");
        let (error, afterwards) = insert(&mut impatient.lock_handle().await.expect("lock"), "a").expect_err("busy");
        assert_eq!(error.code & 0xff, ffi::SQLITE_BUSY, "{error}");
        assert!(error.is_transient());
        assert_eq!(afterwards, Afterwards::Reusable);

        let mut patient = SqliteConnection::connect_with(&options(5_000))
            .await
            .expect("third connection");
        let release = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            sqlx::query("COMMIT").execute(&mut holder).await.expect("released");
            holder
        });
        // Blocks this test's thread until the holder commits on another one.
        let written = tokio::task::spawn_blocking(move || {
            let handle = tokio::runtime::Handle::current();
            let mut locked = handle.block_on(patient.lock_handle()).expect("lock");
            let written = insert(&mut locked, "b");
            drop(locked);
            (written, patient)
        });
        let (written, mut patient) = written.await.expect("joined");
        written.expect("written once the lock was free");
        release.await.expect("holder");
        let ids: Vec<String> = sqlx::query_scalar("SELECT id FROM t")
            .fetch_all(&mut patient)
            .await
            .expect("read");
        assert_eq!(ids, ["b"]);
    }

    #[test]
    fn busy_locked_and_disk_errors_are_transient() {
        let e = |code| SqliteError {
            code,
            message: String::new(),
        };
        assert!(e(ffi::SQLITE_BUSY).is_transient());
        assert!(e(ffi::SQLITE_BUSY_SNAPSHOT).is_transient());
        assert!(e(ffi::SQLITE_IOERR_WRITE).is_transient());
        assert!(e(ffi::SQLITE_FULL).is_transient());
        assert!(!e(ffi::SQLITE_CONSTRAINT_NOTNULL).is_transient());
        assert!(!e(ffi::SQLITE_MISUSE).is_transient());
    }
}
