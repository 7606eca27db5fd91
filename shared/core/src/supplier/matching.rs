//! Matching supplier items to the store's products (below).
