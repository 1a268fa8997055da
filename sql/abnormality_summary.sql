-- name: abnormality_summary
-- description: Breasts with each abnormality (mass, calcification, asymmetry, distortion; a breast counts once per abnormality it has) by BI-RADS and by diagnosis, per dataset, with an all-breasts total row: the summary table of a harmonization paper.
WITH flagged AS (
  SELECT dataset, 1 AS sort_key, 'mass' AS abnormality, birads, diagnosis FROM exams WHERE mass
  UNION ALL
  SELECT dataset, 2 AS sort_key, 'calcification' AS abnormality, birads, diagnosis FROM exams WHERE calcification
  UNION ALL
  SELECT dataset, 3 AS sort_key, 'asymmetry' AS abnormality, birads, diagnosis FROM exams WHERE asymmetry
  UNION ALL
  SELECT dataset, 4 AS sort_key, 'distortion' AS abnormality, birads, diagnosis FROM exams WHERE distortion
  UNION ALL
  SELECT dataset, 5 AS sort_key, 'all breasts' AS abnormality, birads, diagnosis FROM exams
)
SELECT
  dataset,
  abnormality,
  SUM(CASE WHEN birads = 0 THEN 1 ELSE 0 END) AS birads_0,
  SUM(CASE WHEN birads = 1 THEN 1 ELSE 0 END) AS birads_1,
  SUM(CASE WHEN birads = 2 THEN 1 ELSE 0 END) AS birads_2,
  SUM(CASE WHEN birads = 3 THEN 1 ELSE 0 END) AS birads_3,
  SUM(CASE WHEN birads = 4 THEN 1 ELSE 0 END) AS birads_4,
  SUM(CASE WHEN birads = 5 THEN 1 ELSE 0 END) AS birads_5,
  SUM(CASE WHEN birads = 6 THEN 1 ELSE 0 END) AS birads_6,
  SUM(CASE WHEN birads IS NULL THEN 1 ELSE 0 END) AS birads_unknown,
  SUM(CASE WHEN diagnosis = 'Normal' THEN 1 ELSE 0 END) AS normal,
  SUM(CASE WHEN diagnosis = 'Benign' THEN 1 ELSE 0 END) AS benign,
  SUM(CASE WHEN diagnosis = 'Malignant' THEN 1 ELSE 0 END) AS malignant,
  SUM(CASE WHEN diagnosis IS NULL THEN 1 ELSE 0 END) AS diagnosis_unknown,
  COUNT(*) AS breasts
FROM flagged
GROUP BY dataset, sort_key, abnormality
ORDER BY dataset, sort_key
