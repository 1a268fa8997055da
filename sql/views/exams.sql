-- name: exams
-- description: One row per breast examination (dataset, exam_id): its patient, side, views, breast-level labels and the OR of its images' abnormality flags.
SELECT
  dataset,
  exam_id,
  MIN(patient_id) AS patient_id,
  MIN(laterality) AS laterality,
  COUNT(*) AS images,
  COUNT(DISTINCT view_position) AS views,
  MAX(CASE WHEN view_position = 'CC' THEN 1 ELSE 0 END) = 1 AS has_cc,
  MAX(CASE WHEN view_position = 'MLO' THEN 1 ELSE 0 END) = 1 AS has_mlo,
  MIN(CASE WHEN view_position = 'CC' THEN image_id END) AS cc_image_id,
  MIN(CASE WHEN view_position = 'MLO' THEN image_id END) AS mlo_image_id,
  MAX(age) AS age,
  MAX(density) AS density,
  MAX(birads) AS birads,
  CASE MAX(CASE diagnosis WHEN 'Malignant' THEN 3 WHEN 'Benign' THEN 2 WHEN 'Normal' THEN 1 END)
    WHEN 3 THEN 'Malignant' WHEN 2 THEN 'Benign' WHEN 1 THEN 'Normal'
  END AS diagnosis,
  MAX(CASE WHEN mass THEN 1 ELSE 0 END) = 1 AS mass,
  MAX(CASE WHEN calcification THEN 1 ELSE 0 END) = 1 AS calcification,
  MAX(CASE WHEN asymmetry THEN 1 ELSE 0 END) = 1 AS asymmetry,
  MAX(CASE WHEN distortion THEN 1 ELSE 0 END) = 1 AS distortion,
  MAX(split) AS split,
  MAX(source_split) AS source_split
FROM metadata
GROUP BY dataset, exam_id
