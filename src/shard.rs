//! Scale-out of an ingest (`mcq ingest --shard K/N`): the ingest stage keeps
//! the harmonized rows of one shard, after case selection and the optional
//! split and before the pixel stage, so N machines each decode 1/N of the
//! images. Rows go to shards by a SHA-256 of their patient id, so every exam
//! of a patient — its images, findings and exclusions — lands in one shard,
//! and selection, splits and leakage read the same as in a single ingest.
//! Rows with no patient (exclusions of records that could not be parsed) go
//! by their `(source_file, source_row)`. `lake::merge` puts shards together.

use crate::dataset::Harmonized;
use crate::lake::Shard;

/// The key a patient's rows are assigned by.
pub fn patient_key(patient_id: &str) -> Vec<u8> {
    let mut key = b"patient\0".to_vec();
    key.extend_from_slice(patient_id.as_bytes());
    key
}

/// The key of a row with no patient: where its raw record is.
pub fn record_key(source_file: &str, source_row: Option<i64>) -> Vec<u8> {
    let mut key = b"record\0".to_vec();
    key.extend_from_slice(source_file.as_bytes());
    key.push(0);
    if let Some(row) = source_row {
        key.extend_from_slice(row.to_string().as_bytes());
    }
    key
}

/// What a shard kept of the dataset.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ShardCounts {
    pub patients_kept: usize,
    pub patients: usize,
}

/// Keeps only the rows of `shard`: metadata and findings by patient,
/// exclusions by patient or, lacking one, by their raw record.
pub fn keep_shard(h: &mut Harmonized, shard: Shard) -> ShardCounts {
    let mut patients = std::collections::BTreeMap::<String, bool>::new();
    let mut holds = |patient: &str| {
        *patients
            .entry(patient.to_string())
            .or_insert_with(|| shard.holds(&patient_key(patient)))
    };
    h.metadata.retain(|m| holds(&m.patient_id));
    h.findings.retain(|f| holds(&f.patient_id));
    h.exclusions.retain(|e| match &e.patient_id {
        Some(p) => holds(p),
        None => shard.holds(&record_key(&e.source_file, e.source_row)),
    });
    ShardCounts {
        patients_kept: patients.values().filter(|&&kept| kept).count(),
        patients: patients.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{ExclusionRow, FindingRow, MetadataRow};

    fn harmonized() -> Harmonized {
        let mut h = Harmonized::default();
        for p in 0..40 {
            let patient = format!("P{p:03}");
            for view in ["CC", "MLO"] {
                h.metadata.push(MetadataRow {
                    patient_id: patient.clone(),
                    image_id: format!("{patient}_L_{view}"),
                    ..Default::default()
                });
            }
            h.findings.push(FindingRow {
                patient_id: patient.clone(),
                image_id: format!("{patient}_L_CC"),
                ..Default::default()
            });
            h.exclusions.push(ExclusionRow {
                patient_id: Some(patient.clone()),
                source_file: "a.csv".into(),
                source_row: Some(p),
                ..Default::default()
            });
            h.exclusions.push(ExclusionRow {
                patient_id: None,
                source_file: "b.csv".into(),
                source_row: Some(p),
                ..Default::default()
            });
        }
        h
    }

    #[test]
    fn shards_partition_the_rows_and_keep_patients_whole() {
        let all = harmonized();
        let n = 3;
        let mut union = (0, 0, 0);
        for k in 1..=n {
            let mut h = harmonized();
            let counts = keep_shard(&mut h, Shard::new(k, n).unwrap());
            assert_eq!(counts.patients, 40);
            assert!(counts.patients_kept > 0 && counts.patients_kept < 40);
            union.0 += h.metadata.len();
            union.1 += h.findings.len();
            union.2 += h.exclusions.len();
            let shard = Shard::new(k, n).unwrap();
            for m in &h.metadata {
                assert!(shard.holds(&patient_key(&m.patient_id)));
            }
            // Every row of a kept patient is here.
            for f in &h.findings {
                assert_eq!(
                    h.metadata
                        .iter()
                        .filter(|m| m.patient_id == f.patient_id)
                        .count(),
                    2
                );
            }
        }
        assert_eq!(
            union,
            (all.metadata.len(), all.findings.len(), all.exclusions.len())
        );
    }

    #[test]
    fn one_shard_keeps_everything() {
        let mut h = harmonized();
        let counts = keep_shard(&mut h, Shard::new(1, 1).unwrap());
        assert_eq!(counts.patients_kept, 40);
        assert_eq!(h.exclusions.len(), 80);
    }
}
