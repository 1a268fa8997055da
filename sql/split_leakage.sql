-- name: split_leakage
-- description: Patients present in both train and test, per dataset: by the dataset's own published split (source_split) and by the harmonized split.
SELECT
  dataset,
  COUNT(*) AS patients,
  SUM(CASE WHEN source_train = 1 AND source_test = 1 THEN 1 ELSE 0 END) AS in_both_source_splits,
  SUM(CASE WHEN split_train = 1 AND split_test = 1 THEN 1 ELSE 0 END) AS in_both_splits
FROM (
  SELECT
    dataset,
    patient_id,
    MAX(CASE WHEN source_split IN ('train', 'train+test') THEN 1 ELSE 0 END) AS source_train,
    MAX(CASE WHEN source_split IN ('test', 'train+test') THEN 1 ELSE 0 END) AS source_test,
    MAX(CASE WHEN split = 'train' THEN 1 ELSE 0 END) AS split_train,
    MAX(CASE WHEN split = 'test' THEN 1 ELSE 0 END) AS split_test
  FROM metadata
  GROUP BY dataset, patient_id
) per_patient
GROUP BY dataset
ORDER BY dataset
