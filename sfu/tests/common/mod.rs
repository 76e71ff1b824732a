//! Shared harness: the crate's own test client.

pub use remote_assist_sfu::test_client::*;
