//! Local adapters (a folder as the bucket, SQLite as the tables) and the in-process runtime.

pub mod blob;
pub mod daily;
pub mod diff;
pub mod runtime;
pub mod sqlite;

pub use runtime::Local;
