-- name: diagnosis_by_dataset
-- description: Diagnosis (Normal, Benign, Malignant; unknown when the dataset gives none) by dataset, counted per breast, with percent.
SELECT
  dataset,
  COALESCE(diagnosis, 'unknown') AS diagnosis,
  COUNT(*) AS breasts,
  ROUND(100.0 * COUNT(*) / SUM(COUNT(*)) OVER (PARTITION BY dataset), 1) AS percent
FROM exams
GROUP BY dataset, COALESCE(diagnosis, 'unknown')
ORDER BY dataset, diagnosis
