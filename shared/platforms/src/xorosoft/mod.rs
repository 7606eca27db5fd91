//! Xorosoft, the distributor's ERP/WMS: a simulator of its item look-up API and a client.

pub mod client;
pub mod sim;
