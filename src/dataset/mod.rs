//! Dataset adapters: one file per public dataset, each reading that dataset's
//! own metadata files into `record` rows for the ingest stage. This module also
//! holds what the adapters share, such as `vocab`, the tables that map each
//! dataset's raw labels (density, BI-RADS, views, lesion descriptors) onto the
//! lake's harmonized vocabularies.

pub mod vocab;
