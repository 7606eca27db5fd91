//! SQLite as the state store: the status log, key-value records, queues and the audit log.
//!
//! One connection, owned by a writer thread that commits in groups: every call is a job sent
//! to it; the thread takes all the jobs waiting, runs each in its own savepoint inside one
//! transaction, commits once, and only then answers each caller. Under load (many webhooks
//! at once) one commit makes many calls durable; alone, a call still commits at once. The
//! WAL is checkpointed passively four times a second by a thread of its own, on its own
//! connection, so no caller waits for it. A checkpoint from another connection cannot complete
//! while the writer is busy, so under sustained saturation the WAL grows (about 100 MB a second
//! at 5,000 webhooks a second); in the first quiet second after (under 500 calls) the writer
//! folds the WAL back and truncates it.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::mpsc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use storesync_core::domain::SessionId;
use storesync_core::ports::{
    Admission, Admit, Admitted, AuditEntry, AuditLog, Delivery, KeyValue, PortError, Queue, QueueDepth, StagingQuery,
    StagingStore, StatusEntry, StatusLog, StepStatus, VersionStore,
};
use storesync_core::supplier::staging::{StagingEntry, StagingStatus};
use storesync_core::supplier::versions::ProductVersion;

/// After this many receives a message moves to the dead-letter table (as SQS's redrive does):
/// the template's `maxReceiveCount`, 5 for the daily steps' queues and 10 for the webhook
/// queues (whose processor dead-letters by its own retry schedule well before that).
pub fn max_receives(queue: &str) -> u32 {
    if queue.starts_with("webhooks-") || queue.starts_with("wms-") {
        10
    } else {
        5
    }
}

/// The most jobs committed together.
const GROUP_MAX: usize = 512;
/// A second with fewer jobs than this is quiet: the writer then truncates the WAL.
const QUIET_WINDOW: std::time::Duration = std::time::Duration::from_secs(1);
const QUIET_JOBS: u64 = 500;
/// How often the WAL is checkpointed (passively, from the checkpointer's connection).
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(250);

/// A job's answer, sent once the transaction that ran it has committed (or failed to).
type Answer = Box<dyn FnOnce(Result<(), String>) + Send>;
/// A job: runs on the connection, says whether it succeeded (else its savepoint is rolled
/// back), and how to answer.
type Job = Box<dyn FnOnce(&mut Connection) -> (bool, Answer) + Send>;

pub struct SqliteState {
    jobs: mpsc::Sender<Job>,
}

const SCHEMA: &str = "
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
PRAGMA busy_timeout = 5000;
PRAGMA wal_autocheckpoint = 0;
CREATE TABLE IF NOT EXISTS status (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session TEXT NOT NULL, step INTEGER NOT NULL, name TEXT NOT NULL, status TEXT NOT NULL,
    message TEXT NOT NULL, details TEXT NOT NULL, at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS status_session ON status (session, at, id);
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL, expires_at INTEGER);
CREATE TABLE IF NOT EXISTS queue (
    id INTEGER PRIMARY KEY AUTOINCREMENT, queue TEXT NOT NULL, body TEXT NOT NULL,
    visible_at INTEGER NOT NULL, receive_count INTEGER NOT NULL DEFAULT 0, receipt TEXT,
    grp TEXT, dedupe_id TEXT, sent_at INTEGER);
CREATE TABLE IF NOT EXISTS queue_dedupe (
    queue TEXT NOT NULL, dedupe_id TEXT NOT NULL, sent_at INTEGER NOT NULL, PRIMARY KEY (queue, dedupe_id));
CREATE TABLE IF NOT EXISTS dead_letter (
    id INTEGER PRIMARY KEY AUTOINCREMENT, queue TEXT NOT NULL, body TEXT NOT NULL,
    receive_count INTEGER NOT NULL, at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, who TEXT NOT NULL, action TEXT NOT NULL,
    target TEXT NOT NULL, before TEXT NOT NULL, after TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS audit_target ON audit (target, id);
CREATE TABLE IF NOT EXISTS staging (
    id TEXT PRIMARY KEY, run TEXT NOT NULL, status TEXT NOT NULL, revision INTEGER NOT NULL, body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS staging_status ON staging (status, id);
CREATE TABLE IF NOT EXISTS versions (
    product TEXT NOT NULL, number INTEGER NOT NULL, body TEXT NOT NULL, PRIMARY KEY (product, number));
";

fn db(op: &'static str, target: &str, e: impl std::error::Error + Send + Sync + 'static) -> PortError {
    PortError::backend(op, target, e)
}

impl SqliteState {
    pub fn open(path: &Path) -> Result<Self, PortError> {
        let target = path.display().to_string();
        let conn = Connection::open(path).map_err(|e| db("open", &target, e))?;
        conn.execute_batch(SCHEMA).map_err(|e| db("migrate", &target, e))?;
        // State folders made by earlier versions get the columns added since.
        for (table, column, decl) in [
            ("kv", "expires_at", "INTEGER"),
            ("queue", "grp", "TEXT"),
            ("queue", "dedupe_id", "TEXT"),
            ("queue", "sent_at", "INTEGER"),
        ] {
            let present: bool = conn
                .prepare(&format!("SELECT 1 FROM pragma_table_info('{table}') WHERE name = '{column}'"))
                .and_then(|mut st| st.exists([]))
                .map_err(|e| db("migrate", &target, e))?;
            if !present {
                conn.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} {decl}"))
                    .map_err(|e| db("migrate", &target, e))?;
            }
        }
        // `queue_order` hands messages out oldest first; `queue_held` finds a FIFO group's
        // messages in flight or delayed: only those are in it (a message sent for now has
        // `visible_at` 0), so a send adds no entry at a random place in a large index.
        conn.execute_batch(
            "DROP INDEX IF EXISTS queue_group;
             CREATE INDEX IF NOT EXISTS queue_held ON queue (queue, grp) WHERE visible_at > 0;
             CREATE INDEX IF NOT EXISTS queue_order ON queue (queue, id);
             DROP INDEX IF EXISTS queue_visible;",
        )
        .map_err(|e| db("migrate", &target, e))?;
        let (jobs, rx) = mpsc::channel::<Job>();
        // The checkpointer has its own connection: its passive checkpoints never hold the
        // writer up.
        let checkpointer = Connection::open(path).map_err(|e| db("open", &target, e))?;
        checkpointer.execute_batch("PRAGMA busy_timeout = 5000;").map_err(|e| db("open", &target, e))?;
        let (stop, stopped) = mpsc::channel::<()>();
        std::thread::Builder::new()
            .name("storesync-sqlite".into())
            .spawn(move || {
                writer(conn, rx);
                drop(stop);
            })
            .map_err(|e| db("open", &target, e))?;
        std::thread::Builder::new()
            .name("storesync-sqlite-checkpoint".into())
            .spawn(move || {
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(CHECKPOINT_EVERY) {
                    if let Err(e) = checkpointer.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                        tracing::warn!(error = %e, "WAL checkpoint");
                    }
                }
            })
            .map_err(|e| db("open", &target, e))?;
        Ok(Self { jobs })
    }

    /// Runs `f` on the writer thread in the next group commit; answers after the commit.
    async fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
        op: &'static str,
        target: &str,
    ) -> Result<T, PortError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let owned = target.to_string();
        let job: Job = Box::new(move |c| {
            let result = f(c);
            let ok = result.is_ok();
            let answer: Answer = Box::new(move |commit| {
                let out = match (result, commit) {
                    (Err(e), _) => Err(db(op, &owned, e)),
                    (Ok(_), Err(e)) => Err(PortError::backend(op, &owned, format!("commit: {e}"))),
                    (Ok(v), Ok(())) => Ok(v),
                };
                let _ = tx.send(out);
            });
            (ok, answer)
        });
        self.jobs.send(job).map_err(|_| PortError::backend(op, target, "the state writer has stopped"))?;
        rx.await.map_err(|_| PortError::backend(op, target, "the state writer stopped before answering"))?
    }

    /// Messages that exhausted their receives, newest last: `(queue, body, receive_count)`.
    pub async fn dead_letters(&self) -> Result<Vec<(String, String, u32)>, PortError> {
        self.with(
            |c| {
                let mut st = c.prepare("SELECT queue, body, receive_count FROM dead_letter ORDER BY id")?;
                let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
                rows.collect()
            },
            "dead-letters",
            "dead_letter",
        )
        .await
    }
}

/// The writer thread: group commits until every sender is gone.
fn writer(mut conn: Connection, jobs: mpsc::Receiver<Job>) {
    // Jobs in the current one-second window, and commits since the WAL was last truncated.
    let (mut window, mut window_jobs, mut dirty) = (std::time::Instant::now(), 0u64, 0u64);
    loop {
        if window.elapsed() >= QUIET_WINDOW {
            if window_jobs < QUIET_JOBS && dirty > 0 {
                // Quiet (the runtime's pollers only): fold the WAL back and truncate it, which
                // a busy writer keeps passive checkpoints from doing.
                if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())) {
                    tracing::warn!(error = %e, "WAL checkpoint");
                }
                dirty = 0;
            }
            (window, window_jobs) = (std::time::Instant::now(), 0);
        }
        let first = match jobs.recv_timeout(QUIET_WINDOW) {
            Ok(j) => j,
            Err(mpsc::RecvTimeoutError::Timeout) => continue,
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        };
        // Should BEGIN fail, each savepoint below commits on its own (SQLite's rule for a
        // savepoint outside a transaction), and the answers still follow the commits.
        dirty += 1;
        let in_transaction = conn.execute_batch("BEGIN IMMEDIATE").is_ok();
        let mut answers = Vec::with_capacity(16);
        let mut next = Some(first);
        while let Some(job) = next.take() {
            let _ = run(&conn, "SAVEPOINT job", []);
            let (ok, answer) = job(&mut conn);
            if !ok {
                let _ = run(&conn, "ROLLBACK TO job", []);
            }
            let _ = run(&conn, "RELEASE job", []);
            answers.push(answer);
            if answers.len() >= GROUP_MAX {
                break;
            }
            next = jobs.try_recv().ok();
        }
        window_jobs += answers.len() as u64;
        let committed = match in_transaction {
            true => conn.execute_batch("COMMIT").map_err(|e| e.to_string()),
            false => Ok(()),
        };
        if committed.is_err() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        for answer in answers {
            answer(committed.clone());
        }
    }
}

/// Runs one statement, prepared once per connection (parsing is most of a small write's cost).
fn run(c: &Connection, sql: &str, params: impl rusqlite::Params) -> rusqlite::Result<usize> {
    c.prepare_cached(sql)?.execute(params)
}

/// The dedupe set's conditional insert (seconds since the epoch): writes unless a record that
/// is live at `now` holds the key (one without an expiry is live for ever); says whether it wrote.
fn record_unless_live(c: &Connection, key: &str, value: &str, now: i64, expires_at: i64) -> rusqlite::Result<bool> {
    run(
        c,
        "INSERT INTO kv (key, value, expires_at) VALUES (?1, ?2, ?3)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at
         WHERE kv.expires_at IS NOT NULL AND kv.expires_at <= ?4",
        params![key, value, expires_at, now],
    )
    .map(|n| n == 1)
}

/// Puts a message on `queue`, visible from `visible_at` (ms; 0 is now), in a FIFO group when it
/// has one.
fn enqueue(
    c: &Connection,
    queue: &str,
    body: &str,
    visible_at: i64,
    group: Option<&str>,
    dedupe_id: Option<&str>,
) -> rusqlite::Result<()> {
    run(
        c,
        "INSERT INTO queue (queue, body, visible_at, grp, dedupe_id, sent_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![queue, body, visible_at, group, dedupe_id, now_ms()],
    )
    .map(|_| ())
}

/// The message id a receipt (`"{id}:{receive}"`, made by `receive`) names: acknowledging
/// looks the message up by its key, not by scanning for the receipt.
fn receipt_id(receipt: &str) -> i64 {
    receipt.split(':').next().and_then(|id| id.parse().ok()).unwrap_or(-1)
}

fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

fn json_col(v: &serde_json::Value) -> String {
    v.to_string()
}

fn parse_json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap_or(serde_json::Value::String(s.to_string()))
}

#[async_trait]
impl StatusLog for SqliteState {
    async fn append(&self, e: &StatusEntry) -> Result<(), PortError> {
        let e2 = e.clone();
        self.with(
            move |c| {
                run(c,
                    "INSERT INTO status (session, step, name, status, message, details, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![e2.session.as_str(), e2.step, e2.name, e2.status.as_str(), e2.message, json_col(&e2.details), e2.at.to_rfc3339()],
                )
                .map(|_| ())
            },
            "append",
            e.session.as_str(),
        )
        .await
    }

    async fn read(&self, session: &SessionId) -> Result<Vec<StatusEntry>, PortError> {
        let s = session.as_str().to_string();
        let rows: Vec<(u8, String, String, String, String, String)> = self
            .with(
                move |c| {
                    let mut st = c.prepare_cached(
                        "SELECT step, name, status, message, details, at FROM status WHERE session = ?1 ORDER BY at, id",
                    )?;
                    let rows = st.query_map([s], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
                    })?;
                    rows.collect()
                },
                "read",
                session.as_str(),
            )
            .await?;
        rows.into_iter()
            .map(|(step, name, status, message, details, at)| {
                Ok(StatusEntry {
                    session: session.clone(),
                    step,
                    name,
                    status: StepStatus::parse(&status).ok_or_else(|| {
                        PortError::backend("read", session.as_str(), format!("bad status {status:?}"))
                    })?,
                    message,
                    details: parse_json(&details),
                    at: DateTime::parse_from_rfc3339(&at)
                        .map_err(|e| db("read", session.as_str(), e))?
                        .with_timezone(&Utc),
                })
            })
            .collect()
    }
}

#[async_trait]
impl KeyValue for SqliteState {
    async fn get(&self, key: &str) -> Result<Option<serde_json::Value>, PortError> {
        let k = key.to_string();
        let v: Option<String> = self
            .with(
                move |c| {
                    c.prepare_cached("SELECT value FROM kv WHERE key = ?1")?.query_row([k], |r| r.get(0)).optional()
                },
                "get",
                key,
            )
            .await?;
        Ok(v.map(|s| parse_json(&s)))
    }

    async fn insert_unless_live(
        &self,
        key: &str,
        value: &serde_json::Value,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<bool, PortError> {
        let (k, v) = (key.to_string(), json_col(value));
        self.with(
            move |c| record_unless_live(c, &k, &v, now.timestamp(), expires_at.timestamp()),
            "insert-unless-live",
            key,
        )
        .await
    }

    async fn put(&self, key: &str, value: &serde_json::Value) -> Result<(), PortError> {
        let (k, v) = (key.to_string(), json_col(value));
        self.with(
            move |c| run(c, "INSERT OR REPLACE INTO kv (key, value) VALUES (?1, ?2)", params![k, v]).map(|_| ()),
            "put",
            key,
        )
        .await
    }

    async fn put_if_absent(&self, key: &str, value: &serde_json::Value) -> Result<bool, PortError> {
        let (k, v) = (key.to_string(), json_col(value));
        self.with(
            move |c| run(c, "INSERT OR IGNORE INTO kv (key, value) VALUES (?1, ?2)", params![k, v]).map(|n| n == 1),
            "put-if-absent",
            key,
        )
        .await
    }

    async fn put_if(
        &self,
        key: &str,
        expected: &serde_json::Value,
        value: &serde_json::Value,
    ) -> Result<bool, PortError> {
        let (k, old, new) = (key.to_string(), json_col(expected), json_col(value));
        self.with(
            move |c| {
                run(c, "UPDATE kv SET value = ?3 WHERE key = ?1 AND value = ?2", params![k, old, new]).map(|n| n == 1)
            },
            "put-if",
            key,
        )
        .await
    }

    async fn delete(&self, key: &str) -> Result<(), PortError> {
        let k = key.to_string();
        self.with(move |c| run(c, "DELETE FROM kv WHERE key = ?1", [k]).map(|_| ()), "delete", key).await
    }

    async fn delete_if(&self, key: &str, expected: &serde_json::Value) -> Result<bool, PortError> {
        let (k, v) = (key.to_string(), json_col(expected));
        self.with(
            move |c| run(c, "DELETE FROM kv WHERE key = ?1 AND value = ?2", params![k, v]).map(|n| n == 1),
            "delete-if",
            key,
        )
        .await
    }
}

/// Admission in one transaction: the live check, the record and the message commit together,
/// so no FIFO dedupe row is needed to make a retried send harmless.
#[async_trait]
impl Admission for SqliteState {
    async fn admit(&self, a: &Admit<'_>) -> Result<Admitted, PortError> {
        let (key, record, queue, group, body) = (
            a.key.to_string(),
            json_col(a.record),
            a.queue.to_string(),
            a.message.group.clone(),
            a.message.body.clone(),
        );
        let (now, expires_at) = (a.now.timestamp(), a.expires_at.timestamp());
        self.with(
            move |c| {
                if !record_unless_live(c, &key, &record, now, expires_at)? {
                    let held: String =
                        c.prepare_cached("SELECT value FROM kv WHERE key = ?1")?.query_row([&key], |r| r.get(0))?;
                    return Ok(Admitted::Live(parse_json(&held)));
                }
                enqueue(c, &queue, &body, 0, Some(&group), None)?;
                Ok(Admitted::Recorded)
            },
            "admit",
            a.key,
        )
        .await
    }
}

#[async_trait]
impl Queue for SqliteState {
    async fn send(&self, queue: &str, body: &str) -> Result<(), PortError> {
        let (q, b) = (queue.to_string(), body.to_string());
        self.with(move |c| enqueue(c, &q, &b, 0, None, None), "send", queue).await
    }

    async fn send_in_group(&self, queue: &str, group: &str, dedupe_id: &str, body: &str) -> Result<(), PortError> {
        const WINDOW_MS: i64 = 5 * 60 * 1000;
        let (q, g, d, b) = (queue.to_string(), group.to_string(), dedupe_id.to_string(), body.to_string());
        self.with(
            move |c| {
                let now = now_ms();
                // The dedupe window outlives the message, as on SQS: it is kept apart.
                let fresh = run(
                    c,
                    "INSERT INTO queue_dedupe (queue, dedupe_id, sent_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT(queue, dedupe_id) DO UPDATE SET sent_at = excluded.sent_at
                     WHERE queue_dedupe.sent_at <= ?3 - ?4",
                    params![q, d, now, WINDOW_MS],
                )? == 1;
                if fresh {
                    enqueue(c, &q, &b, 0, Some(&g), Some(&d))?;
                }
                Ok(())
            },
            "send",
            queue,
        )
        .await
    }

    async fn receive(&self, queue: &str, max: usize, visibility_secs: u32) -> Result<Vec<Delivery>, PortError> {
        let q = queue.to_string();
        self.with(
            move |c| {
                let now = now_ms();
                let limit = max_receives(&q);
                let mut out = Vec::with_capacity(max);
                // Oldest first through the queue's own index, so a receive reads the messages
                // it hands out (plus those in flight ahead of them), however deep the queue.
                // A message out of receives is moved to the dead letters as it comes up.
                loop {
                    let picked: Vec<(i64, String, u32)> = {
                        // A group with a message in flight delivers nothing until it is acknowledged.
                        let mut st = c.prepare_cached(
                            "SELECT id, body, receive_count FROM queue q INDEXED BY queue_order
                             WHERE queue = ?1 AND visible_at <= ?2
                               AND (grp IS NULL OR NOT EXISTS (
                                    SELECT 1 FROM queue f INDEXED BY queue_held
                                    WHERE f.queue = q.queue AND f.grp = q.grp AND f.visible_at > 0 AND f.visible_at > ?2))
                             ORDER BY id LIMIT ?3",
                        )?;
                        let rows = st.query_map(params![q, now, (max - out.len()) as i64], |r| {
                            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                        })?;
                        rows.collect::<rusqlite::Result<_>>()?
                    };
                    let mut spent = false;
                    for (id, body, count) in picked {
                        if count >= limit {
                            run(c,
                                "INSERT INTO dead_letter (queue, body, receive_count, at) VALUES (?1, ?2, ?3, ?4)",
                                params![q, body, count, Utc::now().to_rfc3339()],
                            )?;
                            run(c, "DELETE FROM queue WHERE id = ?1", [id])?;
                            spent = true;
                            continue;
                        }
                        let receipt = format!("{id}:{}", count + 1);
                        run(c,
                            "UPDATE queue SET visible_at = ?2, receive_count = receive_count + 1, receipt = ?3 WHERE id = ?1",
                            params![id, now + i64::from(visibility_secs) * 1000, receipt],
                        )?;
                        out.push(Delivery { receipt, body, receive_count: count + 1 });
                    }
                    if !spent || out.len() >= max {
                        return Ok(out);
                    }
                }
            },
            "receive",
            queue,
        )
        .await
    }

    async fn ack(&self, queue: &str, receipt: &str) -> Result<(), PortError> {
        let (q, r) = (queue.to_string(), receipt.to_string());
        self.with(
            move |c| {
                run(c, "DELETE FROM queue WHERE id = ?1 AND queue = ?2 AND receipt = ?3", params![receipt_id(&r), q, r])
                    .map(|_| ())
            },
            "ack",
            queue,
        )
        .await
    }

    async fn send_delayed(&self, queue: &str, body: &str, delay_secs: u32) -> Result<(), PortError> {
        let at = now_ms() + i64::from(delay_secs.min(900)) * 1000;
        let (q, b) = (queue.to_string(), body.to_string());
        self.with(move |c| enqueue(c, &q, &b, at, None, None), "send", queue).await
    }

    async fn retry_later(&self, queue: &str, receipt: &str, delay_secs: u32) -> Result<(), PortError> {
        let at = now_ms() + i64::from(delay_secs.min(12 * 3600)) * 1000;
        let (q, r) = (queue.to_string(), receipt.to_string());
        self.with(
            move |c| {
                run(
                    c,
                    "UPDATE queue SET visible_at = ?4 WHERE id = ?1 AND queue = ?2 AND receipt = ?3",
                    params![receipt_id(&r), q, r, at],
                )
                .map(|_| ())
            },
            "retry",
            queue,
        )
        .await
    }

    async fn depth(&self, queue: &str) -> Result<QueueDepth, PortError> {
        let q = queue.to_string();
        self.with(
            move |c| {
                c.query_row(
                    "SELECT COUNT(*) FILTER (WHERE visible_at <= ?2), COUNT(*) FILTER (WHERE visible_at > ?2)
                     FROM queue WHERE queue = ?1",
                    params![q, now_ms()],
                    |r| Ok(QueueDepth { visible: r.get::<_, i64>(0)? as u64, not_visible: r.get::<_, i64>(1)? as u64 }),
                )
            },
            "depth",
            queue,
        )
        .await
    }
}

#[async_trait]
impl AuditLog for SqliteState {
    async fn record(&self, e: &AuditEntry) -> Result<(), PortError> {
        let e2 = e.clone();
        self.with(
            move |c| {
                run(
                    c,
                    "INSERT INTO audit (at, who, action, target, before, after) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![
                        e2.at.to_rfc3339(),
                        e2.who,
                        e2.action,
                        e2.target,
                        json_col(&e2.before),
                        json_col(&e2.after)
                    ],
                )
                .map(|_| ())
            },
            "audit",
            &e.target,
        )
        .await
    }

    async fn list(&self, target: &str) -> Result<Vec<AuditEntry>, PortError> {
        let t = target.to_string();
        let rows: Vec<(String, String, String, String, String)> = self
            .with(
                move |c| {
                    let mut st = c.prepare_cached(
                        "SELECT at, who, action, before, after FROM audit WHERE target = ?1 ORDER BY id",
                    )?;
                    let rows = st.query_map([t], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))?;
                    rows.collect()
                },
                "audit-list",
                target,
            )
            .await?;
        rows.into_iter()
            .map(|(at, who, action, before, after)| {
                Ok(AuditEntry {
                    at: DateTime::parse_from_rfc3339(&at).map_err(|e| db("audit-list", target, e))?.with_timezone(&Utc),
                    who,
                    action,
                    target: target.to_string(),
                    before: parse_json(&before),
                    after: parse_json(&after),
                })
            })
            .collect()
    }
}

fn decode<T: serde::de::DeserializeOwned>(body: &str, target: &str) -> Result<T, PortError> {
    serde_json::from_str(body).map_err(|e| PortError::backend("decode", target, e))
}

fn encode<T: serde::Serialize>(value: &T, target: &str) -> Result<String, PortError> {
    serde_json::to_string(value).map_err(|e| PortError::backend("encode", target, e))
}

#[async_trait]
impl StagingStore for SqliteState {
    async fn create(&self, e: &StagingEntry) -> Result<bool, PortError> {
        let (id, run_id, status, body) = (e.id.clone(), e.run.clone(), e.status.as_str(), encode(e, &e.id)?);
        let rev = e.revision as i64;
        self.with(
            move |c| {
                run(
                    c,
                    "INSERT OR IGNORE INTO staging (id, run, status, revision, body) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![id, run_id, status, rev, body],
                )
                .map(|n| n == 1)
            },
            "staging-create",
            &e.id,
        )
        .await
    }

    async fn get(&self, id: &str) -> Result<Option<StagingEntry>, PortError> {
        let key = id.to_string();
        let body: Option<String> = self
            .with(
                move |c| {
                    c.prepare_cached("SELECT body FROM staging WHERE id = ?1")?
                        .query_row([key], |r| r.get(0))
                        .optional()
                },
                "staging-get",
                id,
            )
            .await?;
        body.map(|b| decode(&b, id)).transpose()
    }

    async fn update(&self, e: &StagingEntry, expected_revision: u64) -> Result<bool, PortError> {
        let (id, status, body) = (e.id.clone(), e.status.as_str(), encode(e, &e.id)?);
        let (rev, expected) = (e.revision as i64, expected_revision as i64);
        self.with(
            move |c| {
                run(
                    c,
                    "UPDATE staging SET status = ?2, revision = ?3, body = ?4 WHERE id = ?1 AND revision = ?5",
                    params![id, status, rev, body, expected],
                )
                .map(|n| n == 1)
            },
            "staging-update",
            &e.id,
        )
        .await
    }

    async fn list(&self, status: StagingStatus, q: &StagingQuery) -> Result<Vec<StagingEntry>, PortError> {
        let (st, run_id, after, limit) =
            (status.as_str(), q.run.clone(), q.after.clone().unwrap_or_default(), q.limit.max(1) as i64);
        let bodies: Vec<String> = self
            .with(
                move |c| {
                    let mut stmt = c.prepare_cached(
                        "SELECT body FROM staging WHERE status = ?1 AND id > ?2 AND (?3 IS NULL OR run = ?3)
                         ORDER BY id LIMIT ?4",
                    )?;
                    let rows = stmt.query_map(params![st, after, run_id, limit], |r| r.get(0))?;
                    rows.collect()
                },
                "staging-list",
                status.as_str(),
            )
            .await?;
        bodies.iter().map(|b| decode(b, status.as_str())).collect()
    }

    async fn counts(&self, run_id: &str) -> Result<BTreeMap<StagingStatus, u64>, PortError> {
        let key = run_id.to_string();
        let rows: Vec<(String, i64)> = self
            .with(
                move |c| {
                    let mut stmt =
                        c.prepare_cached("SELECT status, COUNT(*) FROM staging WHERE run = ?1 GROUP BY status")?;
                    let rows = stmt.query_map([key], |r| Ok((r.get(0)?, r.get(1)?)))?;
                    rows.collect()
                },
                "staging-counts",
                run_id,
            )
            .await?;
        Ok(rows.into_iter().filter_map(|(s, n)| StagingStatus::parse(&s).map(|s| (s, n as u64))).collect())
    }
}

#[async_trait]
impl VersionStore for SqliteState {
    async fn append(&self, v: &ProductVersion) -> Result<bool, PortError> {
        let (product, number, body) = (v.product.clone(), v.number as i64, encode(v, &v.product)?);
        self.with(
            move |c| {
                run(
                    c,
                    "INSERT OR IGNORE INTO versions (product, number, body) VALUES (?1, ?2, ?3)",
                    params![product, number, body],
                )
                .map(|n| n == 1)
            },
            "version-append",
            &v.product,
        )
        .await
    }

    async fn history(&self, product: &str) -> Result<Vec<ProductVersion>, PortError> {
        let key = product.to_string();
        let bodies: Vec<String> = self
            .with(
                move |c| {
                    let mut stmt = c.prepare_cached("SELECT body FROM versions WHERE product = ?1 ORDER BY number")?;
                    let rows = stmt.query_map([key], |r| r.get(0))?;
                    rows.collect()
                },
                "version-history",
                product,
            )
            .await?;
        bodies.iter().map(|b| decode(b, product)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_state_file_from_before_the_expiry_column_is_migrated() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.sqlite");
        {
            let c = Connection::open(&path).unwrap();
            c.execute_batch(
                "CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL); INSERT INTO kv VALUES ('a', '1');
                 CREATE TABLE queue (id INTEGER PRIMARY KEY AUTOINCREMENT, queue TEXT NOT NULL, body TEXT NOT NULL,
                   visible_at INTEGER NOT NULL, receive_count INTEGER NOT NULL DEFAULT 0, receipt TEXT);
                 INSERT INTO queue (queue, body, visible_at) VALUES ('import-web', 'old', 0);",
            )
            .unwrap();
        }
        let st = SqliteState::open(&path).unwrap();
        assert_eq!(KeyValue::get(&st, "a").await.unwrap(), Some(serde_json::json!(1)), "old records are kept");
        let now = Utc::now();
        assert!(st.insert_unless_live("b", &serde_json::json!(2), now, now + chrono::Duration::days(7)).await.unwrap());
        st.send_in_group("webhooks", "order:1", "d1", "new").await.unwrap();
        assert_eq!(st.receive("import-web", 10, 30).await.unwrap()[0].body, "old", "queued messages are kept");
        assert_eq!(st.receive("webhooks", 10, 30).await.unwrap()[0].body, "new");
        drop(st);
        SqliteState::open(&path).unwrap();
    }

    #[tokio::test]
    async fn a_message_out_of_receives_is_dead_lettered_as_it_comes_up_and_the_rest_still_flow() {
        let dir = tempfile::tempdir().unwrap();
        let st = SqliteState::open(&dir.path().join("state.sqlite")).unwrap();
        let q = "import-web";
        st.send(q, "poison").await.unwrap();
        for i in 0..30 {
            st.send(q, &format!("m{i}")).await.unwrap();
        }
        // The poison message is received and never acknowledged until its receives run out.
        for _ in 0..max_receives(q) {
            let got = st.receive(q, 1, 0).await.unwrap();
            assert_eq!(got[0].body, "poison");
        }
        let got = st.receive(q, 10, 30).await.unwrap();
        let bodies: Vec<&str> = got.iter().map(|d| d.body.as_str()).collect();
        assert_eq!(bodies, (0..10).map(|i| format!("m{i}")).collect::<Vec<_>>(), "a full batch behind it");
        assert_eq!(st.dead_letters().await.unwrap(), vec![(q.to_string(), "poison".to_string(), max_receives(q))]);
        // Receipts find their message: acknowledged ones are gone, a retried one comes back later.
        for d in &got[1..] {
            st.ack(q, &d.receipt).await.unwrap();
        }
        st.retry_later(q, &got[0].receipt, 0).await.unwrap();
        st.ack(q, "999999:1").await.unwrap();
        let next = st.receive(q, 30, 30).await.unwrap();
        assert_eq!(next.len(), 21);
        assert_eq!(next[0].body, "m0");
        assert_eq!(st.depth(q).await.unwrap().not_visible, 21);
    }
}
