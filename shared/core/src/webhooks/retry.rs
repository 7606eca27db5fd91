//! The retry schedule: delays per event type (default 30 s, 2 min, 5 min, 15 min, 1 h), at most
//! three retries by default, `Retry-After` honoured, and 4xx other than 408/429 never retried.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// How an attempt failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// An HTTP answer from the platform, with its `Retry-After` in seconds if any.
    Status { code: u16, retry_after_secs: Option<u64> },
    /// No answer in time, or the connection failed.
    Timeout,
}

impl Failure {
    pub fn retryable(self) -> bool {
        match self {
            Failure::Timeout => true,
            Failure::Status { code, .. } => code == 408 || code == 429 || code >= 500,
        }
    }
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    RetryInSecs(u64),
    DeadLetter(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetryPolicy {
    /// Delays in seconds before retry 1, 2, …
    pub delays_secs: Vec<u64>,
    pub max_retries: u32,
    /// Other delays for some event types (e.g. `"order.created"`).
    #[serde(default)]
    pub per_type: HashMap<String, Vec<u64>>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { delays_secs: vec![30, 120, 300, 900, 3600], max_retries: 3, per_type: HashMap::new() }
    }
}

impl RetryPolicy {
    /// After attempt number `attempt` (1 = the first delivery) of an `event_type` failed.
    pub fn next(&self, event_type: &str, attempt: u32, failure: Failure) -> Next {
        if !failure.retryable() {
            return Next::DeadLetter(format!("{}: not retryable", describe(failure)));
        }
        if attempt > self.max_retries {
            return Next::DeadLetter(format!("{} after {attempt} attempts", describe(failure)));
        }
        let delays = self.per_type.get(event_type).unwrap_or(&self.delays_secs);
        let planned = delays.get(attempt as usize - 1).or(delays.last()).copied().unwrap_or(30);
        let asked = match failure {
            Failure::Status { retry_after_secs: Some(s), .. } => s,
            _ => 0,
        };
        Next::RetryInSecs(planned.max(asked))
    }
}

fn describe(f: Failure) -> String {
    match f {
        Failure::Timeout => "timed out".into(),
        Failure::Status { code, .. } => format!("HTTP {code}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule() {
        let p = RetryPolicy::default();
        let s503 = Failure::Status { code: 503, retry_after_secs: None };
        assert_eq!(p.next("stock.updated", 1, s503), Next::RetryInSecs(30));
        assert_eq!(p.next("stock.updated", 2, Failure::Timeout), Next::RetryInSecs(120));
        assert_eq!(p.next("stock.updated", 3, s503), Next::RetryInSecs(300));
        assert_eq!(p.next("stock.updated", 4, s503), Next::DeadLetter("HTTP 503 after 4 attempts".into()));
        let limited = Failure::Status { code: 429, retry_after_secs: Some(600) };
        assert_eq!(p.next("stock.updated", 1, limited), Next::RetryInSecs(600), "Retry-After is honoured");
        assert_eq!(p.next("x", 1, Failure::Status { code: 408, retry_after_secs: None }), Next::RetryInSecs(30));
        assert_eq!(
            p.next("x", 1, Failure::Status { code: 404, retry_after_secs: None }),
            Next::DeadLetter("HTTP 404: not retryable".into())
        );
        let mut custom = RetryPolicy::default();
        custom.per_type.insert("order.created".into(), vec![5, 10]);
        custom.max_retries = 5;
        assert_eq!(custom.next("order.created", 2, s503), Next::RetryInSecs(10));
        assert_eq!(custom.next("order.created", 4, s503), Next::RetryInSecs(10), "the last delay repeats");
    }
}
