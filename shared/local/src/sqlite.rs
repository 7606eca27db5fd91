//! SQLite as the state store: the status log, key-value records, queues and the audit log.

use std::path::Path;
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use storesync_core::domain::SessionId;
use storesync_core::ports::{
    AuditEntry, AuditLog, Delivery, KeyValue, PortError, Queue, QueueDepth, StatusEntry, StatusLog, StepStatus,
};

/// After this many receives a message moves to the dead-letter table (as SQS's redrive does).
pub const MAX_RECEIVES: u32 = 5;

pub struct SqliteState {
    conn: Mutex<Connection>,
}

const SCHEMA: &str = "
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
PRAGMA busy_timeout = 5000;
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
CREATE INDEX IF NOT EXISTS queue_visible ON queue (queue, visible_at, id);
CREATE TABLE IF NOT EXISTS queue_dedupe (
    queue TEXT NOT NULL, dedupe_id TEXT NOT NULL, sent_at INTEGER NOT NULL, PRIMARY KEY (queue, dedupe_id));
CREATE TABLE IF NOT EXISTS dead_letter (
    id INTEGER PRIMARY KEY AUTOINCREMENT, queue TEXT NOT NULL, body TEXT NOT NULL,
    receive_count INTEGER NOT NULL, at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, who TEXT NOT NULL, action TEXT NOT NULL,
    target TEXT NOT NULL, before TEXT NOT NULL, after TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS audit_target ON audit (target, id);
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
        conn.execute_batch("CREATE INDEX IF NOT EXISTS queue_group ON queue (queue, grp, id)")
            .map_err(|e| db("migrate", &target, e))?;
        Ok(Self { conn: Mutex::new(conn) })
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
        op: &'static str,
        target: &str,
    ) -> Result<T, PortError> {
        let mut conn = self.conn.lock().map_err(|_| PortError::backend(op, target, "the state lock is poisoned"))?;
        f(&mut conn).map_err(|e| db(op, target, e))
    }

    /// Messages that exhausted their receives, newest last: `(queue, body, receive_count)`.
    pub fn dead_letters(&self) -> Result<Vec<(String, String, u32)>, PortError> {
        self.with(
            |c| {
                let mut st = c.prepare("SELECT queue, body, receive_count FROM dead_letter ORDER BY id")?;
                let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
                rows.collect()
            },
            "dead-letters",
            "dead_letter",
        )
    }
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
        self.with(
            |c| {
                c.execute(
                    "INSERT INTO status (session, step, name, status, message, details, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![e.session.as_str(), e.step, e.name, e.status.as_str(), e.message, json_col(&e.details), e.at.to_rfc3339()],
                )
                .map(|_| ())
            },
            "append",
            e.session.as_str(),
        )
    }

    async fn read(&self, session: &SessionId) -> Result<Vec<StatusEntry>, PortError> {
        let rows: Vec<(u8, String, String, String, String, String)> = self.with(
            |c| {
                let mut st = c.prepare_cached(
                    "SELECT step, name, status, message, details, at FROM status WHERE session = ?1 ORDER BY at, id",
                )?;
                let rows = st.query_map([session.as_str()], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
                })?;
                rows.collect()
            },
            "read",
            session.as_str(),
        )?;
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
        let v: Option<String> = self.with(
            |c| c.query_row("SELECT value FROM kv WHERE key = ?1", [key], |r| r.get(0)).optional(),
            "get",
            key,
        )?;
        Ok(v.map(|s| parse_json(&s)))
    }

    async fn insert_unless_live(
        &self,
        key: &str,
        value: &serde_json::Value,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<bool, PortError> {
        self.with(
            |c| {
                c.execute(
                    "INSERT INTO kv (key, value, expires_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT(key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at
                     WHERE kv.expires_at IS NOT NULL AND kv.expires_at <= ?4",
                    params![key, json_col(value), expires_at.timestamp(), now.timestamp()],
                )
                .map(|n| n == 1)
            },
            "insert-unless-live",
            key,
        )
    }

    async fn put(&self, key: &str, value: &serde_json::Value) -> Result<(), PortError> {
        self.with(
            |c| {
                c.execute("INSERT OR REPLACE INTO kv (key, value) VALUES (?1, ?2)", params![key, json_col(value)])
                    .map(|_| ())
            },
            "put",
            key,
        )
    }

    async fn put_if_absent(&self, key: &str, value: &serde_json::Value) -> Result<bool, PortError> {
        self.with(
            |c| {
                c.execute("INSERT OR IGNORE INTO kv (key, value) VALUES (?1, ?2)", params![key, json_col(value)])
                    .map(|n| n == 1)
            },
            "put-if-absent",
            key,
        )
    }

    async fn delete(&self, key: &str) -> Result<(), PortError> {
        self.with(|c| c.execute("DELETE FROM kv WHERE key = ?1", [key]).map(|_| ()), "delete", key)
    }

    async fn delete_if(&self, key: &str, expected: &serde_json::Value) -> Result<bool, PortError> {
        self.with(
            |c| {
                c.execute("DELETE FROM kv WHERE key = ?1 AND value = ?2", params![key, json_col(expected)])
                    .map(|n| n == 1)
            },
            "delete-if",
            key,
        )
    }
}

#[async_trait]
impl Queue for SqliteState {
    async fn send(&self, queue: &str, body: &str) -> Result<(), PortError> {
        self.with(
            |c| {
                c.execute("INSERT INTO queue (queue, body, visible_at) VALUES (?1, ?2, 0)", params![queue, body])
                    .map(|_| ())
            },
            "send",
            queue,
        )
    }

    async fn send_in_group(&self, queue: &str, group: &str, dedupe_id: &str, body: &str) -> Result<(), PortError> {
        const WINDOW_MS: i64 = 5 * 60 * 1000;
        self.with(
            |c| {
                let now = now_ms();
                let tx = c.transaction()?;
                // The dedupe window outlives the message, as on SQS: it is kept apart.
                let fresh = tx.execute(
                    "INSERT INTO queue_dedupe (queue, dedupe_id, sent_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT(queue, dedupe_id) DO UPDATE SET sent_at = excluded.sent_at
                     WHERE queue_dedupe.sent_at <= ?3 - ?4",
                    params![queue, dedupe_id, now, WINDOW_MS],
                )? == 1;
                if fresh {
                    tx.execute(
                        "INSERT INTO queue (queue, body, visible_at, grp, dedupe_id, sent_at) VALUES (?1, ?2, 0, ?3, ?4, ?5)",
                        params![queue, body, group, dedupe_id, now],
                    )?;
                }
                tx.commit()
            },
            "send",
            queue,
        )
    }

    async fn receive(&self, queue: &str, max: usize, visibility_secs: u32) -> Result<Vec<Delivery>, PortError> {
        self.with(
            |c| {
                let tx = c.transaction()?;
                let now = now_ms();
                tx.execute(
                    "INSERT INTO dead_letter (queue, body, receive_count, at)
                     SELECT queue, body, receive_count, ?3 FROM queue WHERE queue = ?1 AND visible_at <= ?2 AND receive_count >= ?4",
                    params![queue, now, Utc::now().to_rfc3339(), MAX_RECEIVES],
                )?;
                tx.execute("DELETE FROM queue WHERE queue = ?1 AND visible_at <= ?2 AND receive_count >= ?3", params![queue, now, MAX_RECEIVES])?;
                let picked: Vec<(i64, String, u32)> = {
                    // A group with a message in flight delivers nothing until it is acknowledged.
                    let mut st = tx.prepare_cached(
                        "SELECT id, body, receive_count FROM queue q WHERE queue = ?1 AND visible_at <= ?2
                           AND (grp IS NULL OR NOT EXISTS (
                                SELECT 1 FROM queue f WHERE f.queue = q.queue AND f.grp = q.grp AND f.visible_at > ?2))
                         ORDER BY id LIMIT ?3",
                    )?;
                    let rows = st.query_map(params![queue, now, max as i64], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
                    rows.collect::<rusqlite::Result<_>>()?
                };
                let mut out = Vec::with_capacity(picked.len());
                for (id, body, count) in picked {
                    let receipt = format!("{id}:{}", count + 1);
                    tx.execute(
                        "UPDATE queue SET visible_at = ?2, receive_count = receive_count + 1, receipt = ?3 WHERE id = ?1",
                        params![id, now + i64::from(visibility_secs) * 1000, receipt],
                    )?;
                    out.push(Delivery { receipt, body, receive_count: count + 1 });
                }
                tx.commit()?;
                Ok(out)
            },
            "receive",
            queue,
        )
    }

    async fn ack(&self, queue: &str, receipt: &str) -> Result<(), PortError> {
        self.with(
            |c| c.execute("DELETE FROM queue WHERE queue = ?1 AND receipt = ?2", params![queue, receipt]).map(|_| ()),
            "ack",
            queue,
        )
    }

    async fn send_delayed(&self, queue: &str, body: &str, delay_secs: u32) -> Result<(), PortError> {
        let at = now_ms() + i64::from(delay_secs.min(900)) * 1000;
        self.with(
            |c| {
                c.execute("INSERT INTO queue (queue, body, visible_at) VALUES (?1, ?2, ?3)", params![queue, body, at])
                    .map(|_| ())
            },
            "send",
            queue,
        )
    }

    async fn retry_later(&self, queue: &str, receipt: &str, delay_secs: u32) -> Result<(), PortError> {
        let at = now_ms() + i64::from(delay_secs.min(12 * 3600)) * 1000;
        self.with(
            |c| {
                c.execute(
                    "UPDATE queue SET visible_at = ?3 WHERE queue = ?1 AND receipt = ?2",
                    params![queue, receipt, at],
                )
                .map(|_| ())
            },
            "retry",
            queue,
        )
    }

    async fn depth(&self, queue: &str) -> Result<QueueDepth, PortError> {
        self.with(
            |c| {
                c.query_row(
                    "SELECT COUNT(*) FILTER (WHERE visible_at <= ?2), COUNT(*) FILTER (WHERE visible_at > ?2)
                     FROM queue WHERE queue = ?1",
                    params![queue, now_ms()],
                    |r| Ok(QueueDepth { visible: r.get::<_, i64>(0)? as u64, not_visible: r.get::<_, i64>(1)? as u64 }),
                )
            },
            "depth",
            queue,
        )
    }
}

#[async_trait]
impl AuditLog for SqliteState {
    async fn record(&self, e: &AuditEntry) -> Result<(), PortError> {
        self.with(
            |c| {
                c.execute(
                    "INSERT INTO audit (at, who, action, target, before, after) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![e.at.to_rfc3339(), e.who, e.action, e.target, json_col(&e.before), json_col(&e.after)],
                )
                .map(|_| ())
            },
            "audit",
            &e.target,
        )
    }

    async fn list(&self, target: &str) -> Result<Vec<AuditEntry>, PortError> {
        let rows: Vec<(String, String, String, String, String)> = self.with(
            |c| {
                let mut st =
                    c.prepare_cached("SELECT at, who, action, before, after FROM audit WHERE target = ?1 ORDER BY id")?;
                let rows = st.query_map([target], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))?;
                rows.collect()
            },
            "audit-list",
            target,
        )?;
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
        assert_eq!(st.get("a").await.unwrap(), Some(serde_json::json!(1)), "old records are kept");
        let now = Utc::now();
        assert!(st.insert_unless_live("b", &serde_json::json!(2), now, now + chrono::Duration::days(7)).await.unwrap());
        st.send_in_group("webhooks", "order:1", "d1", "new").await.unwrap();
        assert_eq!(st.receive("import-web", 10, 30).await.unwrap()[0].body, "old", "queued messages are kept");
        assert_eq!(st.receive("webhooks", 10, 30).await.unwrap()[0].body, "new");
        drop(st);
        SqliteState::open(&path).unwrap();
    }
}
