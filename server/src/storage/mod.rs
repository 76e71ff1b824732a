//! Storage of recordings and snapshots: encryption at rest ([`crypto`]) and, in the recording
//! milestone, the object stores (local directory, S3) it writes to.

pub mod crypto;
pub mod objects;
pub mod s3;
