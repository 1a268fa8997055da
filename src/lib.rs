//! mcq ("MammoClean query"): harmonizes public mammography datasets into one
//! Arrow/Parquet lakehouse and answers bias questions about them in SQL.
//!
//! Stages: dataset adapters produce records (`record`), the lake writer
//! commits them as Parquet (`lake`), and a DataFusion session queries the
//! lake (`query`). `synth` writes look-alike raw dataset trees with ground
//! truth. `cli` is the command-line front end.

pub mod allocator;
pub mod cli;
pub mod dataset;
pub mod decode;
pub mod demo;
pub mod dicom;
pub mod error;
pub mod export;
pub mod ingest;
pub mod lake;
pub mod paths;
pub mod pixels;
pub mod qc;
pub mod query;
pub mod record;
pub mod shard;
pub(crate) mod simd;
pub mod synth;

pub use error::{Error, Result};
