//! `_mcq/manifest.json`: the single source of truth for which files make up
//! the lake. Readers trust only the files it lists; writers replace it by
//! rename, last, so a reader always sees one consistent version.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::Digest;

use crate::error::{Error, Result};
use crate::lake::schema::Table;

/// The version of the lake layout this build writes and reads.
pub const LAKE_VERSION: u32 = 1;

/// The default tensor size (rows × columns) of a new lake.
pub const DEFAULT_TENSOR_SHAPE: (usize, usize) = (1024, 512);

/// The manifest of a lake.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub lake_version: u32,
    /// Increases by one with every commit.
    pub generation: u64,
    /// The id of the commit that wrote this manifest.
    pub commit_id: String,
    /// Schema version of each table, from `schemas/*.json`.
    pub schema_versions: BTreeMap<String, u32>,
    /// Tensor size `[H, W]` of `images.tensor`, fixed by the first ingest.
    pub tensor_shape: [usize; 2],
    /// Per table, the data files that make it up.
    pub tables: BTreeMap<String, Vec<FileEntry>>,
    /// Per dataset, where it comes from.
    pub datasets: BTreeMap<String, DatasetInfo>,
    /// Every ingest run that shaped the current lake, oldest first.
    pub runs: Vec<IngestRun>,
}

/// One Parquet data file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FileEntry {
    /// Path relative to the lake root, `/`-separated.
    pub path: String,
    pub dataset: String,
    pub rows: u64,
    pub bytes: u64,
    pub sha256: String,
}

/// Provenance of a dataset in the lake.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct DatasetInfo {
    pub source_doi: Option<String>,
    pub license: Option<String>,
    pub version: Option<String>,
    /// Made by `mcq synth`, not a real download.
    pub synthetic: bool,
}

/// One ingest run (or merge) that wrote a dataset's partition.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct IngestRun {
    pub dataset: String,
    pub command: String,
    pub tool_version: String,
    pub started_at: String,
    pub finished_at: String,
    /// The options in force (every QC choice included).
    pub options: serde_json::Value,
    /// A fingerprint of the inputs (metadata files' names, sizes, hashes).
    pub input_fingerprint: Option<String>,
    /// Milliseconds per stage.
    pub timings_ms: BTreeMap<String, u64>,
    /// Rows written per table.
    pub rows: BTreeMap<String, u64>,
    pub synthetic: bool,
    /// Set on a shard lake's run (`mcq ingest --shard K/N`): the run holds
    /// only the patients of shard K of N.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<Shard>,
    /// Set on a run made by `mcq lake merge`: the number of shards merged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_shards: Option<u32>,
}

/// Shard `index` of `count` (1-based) of a dataset's ingest. Records go to
/// shards by a SHA-256 of their key (the patient), so the assignment is the
/// same on every machine and every run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// A shard, when `1 <= index <= count`.
    pub fn new(index: u32, count: u32) -> Result<Shard> {
        if index == 0 || index > count {
            return Err(Error::Usage(format!(
                "shard {index}/{count}: K/N needs 1 <= K <= N (e.g. --shard 1/4)"
            )));
        }
        Ok(Shard { index, count })
    }

    /// The shard (1-based) of `count` that a key belongs to.
    pub fn of_key(count: u32, key: &[u8]) -> u32 {
        let digest = sha2::Sha256::digest(key);
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        (u64::from_be_bytes(first) % u64::from(count.max(1))) as u32 + 1
    }

    /// Whether a key belongs to this shard.
    pub fn holds(&self, key: &[u8]) -> bool {
        Shard::of_key(self.count, key) == self.index
    }
}

impl std::str::FromStr for Shard {
    type Err = Error;
    /// Parses `K/N`.
    fn from_str(s: &str) -> Result<Shard> {
        let usage = || Error::Usage(format!("`{s}` is not K/N (e.g. --shard 1/4)"));
        let (k, n) = s.split_once('/').ok_or_else(usage)?;
        let k = k.trim().parse::<u32>().map_err(|_| usage())?;
        let n = n.trim().parse::<u32>().map_err(|_| usage())?;
        Shard::new(k, n)
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Manifest {
    /// An empty lake with the given tensor size.
    pub fn empty(tensor_shape: (usize, usize)) -> Manifest {
        Manifest {
            lake_version: LAKE_VERSION,
            generation: 0,
            commit_id: String::new(),
            schema_versions: Table::ALL
                .iter()
                .map(|t| (t.name().to_string(), t.schema().version))
                .collect(),
            tensor_shape: [tensor_shape.0, tensor_shape.1],
            tables: Table::ALL
                .iter()
                .map(|t| (t.name().to_string(), Vec::new()))
                .collect(),
            datasets: BTreeMap::new(),
            runs: Vec::new(),
        }
    }

    /// Reads and checks a manifest file.
    pub fn read(path: &Path) -> Result<Manifest> {
        let text = std::fs::read_to_string(path).map_err(Error::io("cannot read", path))?;
        let manifest: Manifest = serde_json::from_str(&text).map_err(|e| Error::Manifest {
            path: path.to_path_buf(),
            message: format!("not a valid mcq manifest: {e}"),
        })?;
        if manifest.lake_version != LAKE_VERSION {
            return Err(Error::Manifest {
                path: path.to_path_buf(),
                message: format!(
                    "lake version {} is not supported by this mcq (which reads version {LAKE_VERSION})",
                    manifest.lake_version
                ),
            });
        }
        for t in Table::ALL {
            let have = manifest.schema_versions.get(t.name()).copied();
            if have != Some(t.schema().version) {
                return Err(Error::Manifest {
                    path: path.to_path_buf(),
                    message: format!(
                        "table {t} has schema version {}, this mcq writes version {}: re-ingest into a new lake",
                        have.map_or("none".into(), |v| v.to_string()),
                        t.schema().version
                    ),
                });
            }
        }
        Ok(manifest)
    }

    /// The tensor size as (H, W).
    pub fn tensor_shape(&self) -> (usize, usize) {
        (self.tensor_shape[0], self.tensor_shape[1])
    }

    /// The files of one table.
    pub fn files(&self, table: Table) -> &[FileEntry] {
        self.tables.get(table.name()).map_or(&[], Vec::as_slice)
    }

    /// Rows of one table, over all datasets.
    pub fn row_count(&self, table: Table) -> u64 {
        self.files(table).iter().map(|f| f.rows).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_json() {
        let mut m = Manifest::empty((64, 32));
        m.datasets.insert("cmmd".into(), DatasetInfo::default());
        let text = serde_json::to_string(&m).unwrap();
        let back: Manifest = serde_json::from_str(&text).unwrap();
        assert_eq!(m, back);
        assert_eq!(back.tensor_shape(), (64, 32));
    }

    #[test]
    fn shards_parse_as_k_of_n() {
        let cases: &[(&str, Option<(u32, u32)>)] = &[
            ("1/1", Some((1, 1))),
            ("3/4", Some((3, 4))),
            (" 2 / 3 ", Some((2, 3))),
            ("0/3", None),
            ("4/3", None),
            ("1/0", None),
            ("-1/3", None),
            ("3", None),
            ("a/b", None),
            ("", None),
        ];
        for (text, want) in cases {
            let got = text.parse::<Shard>();
            match want {
                Some((k, n)) => assert_eq!(
                    got.unwrap(),
                    Shard {
                        index: *k,
                        count: *n
                    }
                ),
                None => assert!(got.unwrap_err().is_usage(), "{text:?}"),
            }
        }
        assert_eq!(Shard::new(2, 5).unwrap().to_string(), "2/5");
    }

    #[test]
    fn every_key_goes_to_exactly_one_shard_of_a_stable_spread() {
        let n = 3;
        let mut counts = [0usize; 3];
        for i in 0..300 {
            let key = format!("P_{i:05}");
            let shard = Shard::of_key(n, key.as_bytes());
            assert_eq!(shard, Shard::of_key(n, key.as_bytes()));
            let holders = (1..=n)
                .filter(|&k| Shard::new(k, n).unwrap().holds(key.as_bytes()))
                .count();
            assert_eq!(holders, 1);
            counts[shard as usize - 1] += 1;
        }
        assert!(counts.iter().all(|&c| c > 70), "{counts:?}");
        // Pinned: the assignment must not change between versions, or shards
        // made by two builds would not fit together.
        // (values from Python: int.from_bytes(sha256(key)[:8], 'big') % n + 1)
        let pinned: &[(&[u8], [u32; 4])] = &[
            (b"patient\0P_00001", [2, 3, 4, 7]),
            (b"patient\0D1-0001", [1, 2, 1, 1]),
        ];
        for (key, want) in pinned {
            let got = [2, 3, 4, 7].map(|n| Shard::of_key(n, key));
            assert_eq!(got, *want, "{key:?}");
        }
    }

    #[test]
    fn older_manifests_without_shard_fields_still_read() {
        let run: IngestRun = serde_json::from_str(
            r#"{"dataset":"cmmd","command":"x","tool_version":"0.1.0","started_at":"","finished_at":"",
               "options":{},"input_fingerprint":null,"timings_ms":{},"rows":{},"synthetic":false}"#,
        )
        .unwrap();
        assert_eq!((run.shard, run.merged_shards), (None, None));
        assert!(!serde_json::to_string(&run).unwrap().contains("shard"));
    }
}
