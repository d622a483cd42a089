//! Weir's end-to-end tests: one binary, one module per area. They drive the
//! real `weir` binary (built by `scripts/test`) against real stores and read
//! results back with real pandas and DuckDB.

mod authoring;
mod categorize;
mod extract;
mod faults;
mod layout;
mod lineage;
mod model_apply;
mod nlp_example;
mod python;
mod report;
mod run;
mod s3;
mod shard;
mod spellcheck;
mod staging;
