-- name: birads_by_diagnosis
-- description: Co-occurrence of BI-RADS and diagnosis per dataset, counted per breast (the heatmap of how assessment relates to outcome).
SELECT
  dataset,
  COALESCE(CAST(birads AS STRING), 'unknown') AS birads,
  SUM(CASE WHEN diagnosis = 'Normal' THEN 1 ELSE 0 END) AS normal,
  SUM(CASE WHEN diagnosis = 'Benign' THEN 1 ELSE 0 END) AS benign,
  SUM(CASE WHEN diagnosis = 'Malignant' THEN 1 ELSE 0 END) AS malignant,
  SUM(CASE WHEN diagnosis IS NULL THEN 1 ELSE 0 END) AS unknown,
  COUNT(*) AS breasts
FROM exams
GROUP BY dataset, COALESCE(CAST(birads AS STRING), 'unknown')
ORDER BY dataset, birads
