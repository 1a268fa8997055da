//! The library's one error type. Every variant carries what a person needs to
//! act: the path, the table or column, the offending value and the row.

use std::path::PathBuf;

/// Result alias used across the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in mcq's library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A filesystem operation failed.
    #[error("{action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// There is no lake where one was expected.
    #[error("no lake at {}: run `mcq ingest <DATASET> <ROOT>` or `mcq demo`", path.display())]
    NoLake { path: PathBuf },

    /// Another process holds the writer lock.
    #[error(
        "the lake at {} is being written by another mcq process ({holder}); wait for it to finish — the lock is {}",
        lake.display(),
        lock.display()
    )]
    Locked {
        lake: PathBuf,
        lock: PathBuf,
        holder: String,
    },

    /// The manifest could not be read or is inconsistent.
    #[error("manifest {}: {message}", path.display())]
    Manifest { path: PathBuf, message: String },

    /// The lake on disk does not match its manifest.
    #[error("the lake at {} is damaged:\n{}\nrun `mcq check` for the full report", lake.display(), problems.join("\n"))]
    Damaged {
        lake: PathBuf,
        problems: Vec<String>,
    },

    /// A schema file embedded in the binary is invalid (a build defect).
    #[error("schema {table}: {message}")]
    Schema { table: String, message: String },

    /// A batch handed to the lake writer breaks its table's schema.
    #[error("{table}: column `{column}`: {message} (value {value:?}{})", row.map(|r| format!(", source row {r}")).unwrap_or_default())]
    InvalidValue {
        table: String,
        column: String,
        value: String,
        row: Option<i64>,
        message: String,
    },

    /// The lake was built with another tensor size.
    #[error(
        "the lake at {} holds {lake_h}x{lake_w} tensors; this ingest asked for {req_h}x{req_w}. Use --size {lake_h}x{lake_w} or another --lake",
        lake.display()
    )]
    TensorSize {
        lake: PathBuf,
        lake_h: usize,
        lake_w: usize,
        req_h: usize,
        req_w: usize,
    },

    /// SQL that would change the lake.
    #[error(
        "{statement} is refused: the lake is read-only to SQL and written only by `mcq ingest`"
    )]
    ReadOnly { statement: String },

    /// A `--where` predicate that does not parse, plan or run.
    #[error("cannot select images with --where \"{predicate}\": {message}")]
    Predicate { predicate: String, message: String },

    /// Shard lakes that do not add up to one ingest (`mcq lake merge`).
    #[error("cannot merge: {0}")]
    Merge(String),

    /// A usage error in a command's arguments (exit code 2).
    #[error("{0}")]
    Usage(String),

    /// An error from the query engine.
    #[error(transparent)]
    DataFusion(#[from] datafusion::error::DataFusionError),

    /// An Arrow error.
    #[error(transparent)]
    Arrow(#[from] arrow::error::ArrowError),

    /// A Parquet error, with the file it concerns.
    #[error("parquet file {}: {source}", path.display())]
    Parquet {
        path: PathBuf,
        #[source]
        source: parquet::errors::ParquetError,
    },

    /// A JSON (de)serialization error.
    #[error("{context}: {source}")]
    Json {
        context: String,
        #[source]
        source: serde_json::Error,
    },

    /// An image file that cannot be decoded (or whose header is refused).
    #[error("{}: {message}", path.display())]
    Decode { path: PathBuf, message: String },

    /// Anything else, with a complete message.
    #[error("{0}")]
    Other(String),
}

impl Error {
    /// Wraps an I/O error with the action and path it concerns.
    pub fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io {
            action,
            path,
            source,
        }
    }

    /// A `map_err` closure for a Parquet error about `path`.
    pub fn parquet(path: &std::path::Path) -> impl Fn(parquet::errors::ParquetError) -> Error + '_ {
        move |source| Error::Parquet {
            path: path.to_path_buf(),
            source,
        }
    }

    /// Whether this is a usage error (exit code 2) rather than a failure.
    pub fn is_usage(&self) -> bool {
        matches!(self, Error::Usage(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync + 'static>() {}
        assert_send_sync::<Error>();
    }

    #[test]
    fn invalid_value_names_column_value_and_row() {
        let e = Error::InvalidValue {
            table: "metadata".into(),
            column: "density".into(),
            value: "E".into(),
            row: Some(17),
            message: "not one of A, B, C, D".into(),
        };
        assert_eq!(
            e.to_string(),
            "metadata: column `density`: not one of A, B, C, D (value \"E\", source row 17)"
        );
    }
}
