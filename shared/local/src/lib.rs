//! Local adapters (a folder as the bucket, SQLite as the tables) and the in-process runtime.

pub mod blob;
pub mod daily;
pub mod diff;
pub mod runtime;
pub mod simulate;
pub mod sqlite;
pub mod stores;
pub mod supplier;
pub mod webhooks;

pub use runtime::Local;
