//! AWS adapters of storesync's ports, and the Lambda edge that maps triggers to the workflow.

pub mod adapters;
pub mod env;
pub mod http;
pub mod lambda;
pub mod stores;
pub mod supplier;
pub mod webhooks;
