-- name: birads_by_dataset
-- description: BI-RADS assessment (0-6; unknown when absent) by dataset, counted per breast, with percent.
SELECT
  dataset,
  COALESCE(CAST(birads AS STRING), 'unknown') AS birads,
  COUNT(*) AS breasts,
  ROUND(100.0 * COUNT(*) / SUM(COUNT(*)) OVER (PARTITION BY dataset), 1) AS percent
FROM exams
GROUP BY dataset, COALESCE(CAST(birads AS STRING), 'unknown')
ORDER BY dataset, birads
