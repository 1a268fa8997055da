-- name: density_by_dataset
-- description: BI-RADS breast density (A-D) by dataset, counted per breast, with the percent of each dataset's breasts of known density.
SELECT
  dataset,
  density,
  COUNT(*) AS breasts,
  ROUND(100.0 * COUNT(*) / SUM(COUNT(*)) OVER (PARTITION BY dataset), 1) AS percent
FROM exams
WHERE density IS NOT NULL
GROUP BY dataset, density
ORDER BY dataset, density
