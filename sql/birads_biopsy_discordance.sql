-- name: birads_biopsy_discordance
-- description: Breasts whose BI-RADS and biopsy disagree, per dataset: BI-RADS 4-5 but benign (false-positive suspicion) and BI-RADS 1-2 but malignant (missed by the assessment), as counts and percent of breasts with both labels.
SELECT
  dataset,
  SUM(CASE WHEN birads >= 4 AND birads <= 5 AND diagnosis = 'Benign' THEN 1 ELSE 0 END) AS suspicious_but_benign,
  SUM(CASE WHEN birads <= 2 AND birads >= 1 AND diagnosis = 'Malignant' THEN 1 ELSE 0 END) AS negative_but_malignant,
  COUNT(*) AS breasts_with_both,
  ROUND(100.0 * SUM(CASE WHEN birads >= 4 AND birads <= 5 AND diagnosis = 'Benign' THEN 1 ELSE 0 END) / COUNT(*), 1) AS suspicious_but_benign_percent,
  ROUND(100.0 * SUM(CASE WHEN birads <= 2 AND birads >= 1 AND diagnosis = 'Malignant' THEN 1 ELSE 0 END) / COUNT(*), 1) AS negative_but_malignant_percent
FROM exams
WHERE birads IS NOT NULL AND diagnosis IN ('Benign', 'Malignant')
GROUP BY dataset
ORDER BY dataset
