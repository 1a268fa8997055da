-- name: age_distribution
-- description: Patient age at imaging in ten-year bands by dataset, counted per breast (unknown where the dataset publishes no age).
SELECT
  dataset,
  age_band,
  COUNT(*) AS breasts,
  ROUND(100.0 * COUNT(*) / SUM(COUNT(*)) OVER (PARTITION BY dataset), 1) AS percent
FROM (
  SELECT
    dataset,
    CASE
      WHEN age IS NULL THEN 'unknown'
      WHEN age < 40 THEN '<40'
      WHEN age < 50 THEN '40-49'
      WHEN age < 60 THEN '50-59'
      WHEN age < 70 THEN '60-69'
      ELSE '70+'
    END AS age_band,
    CASE
      WHEN age IS NULL THEN 6
      WHEN age < 40 THEN 1
      WHEN age < 50 THEN 2
      WHEN age < 60 THEN 3
      WHEN age < 70 THEN 4
      ELSE 5
    END AS band_order
  FROM exams
) banded
GROUP BY dataset, band_order, age_band
ORDER BY dataset, band_order
