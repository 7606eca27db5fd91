//! storesync's core: domain types, CSV formats, the diff and validation engines, the daily-sync
//! workflow and the port traits. No AWS SDK, no SQLite and no HTTP client in here.

pub mod config;
pub mod contract;
pub mod csvio;
pub mod domain;
pub mod engine;
pub mod formats;
pub mod ports;
pub mod report;
pub mod stores;
pub mod supplier;
pub mod validate;
pub mod webhooks;
pub mod workflow;
