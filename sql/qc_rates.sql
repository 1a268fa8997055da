-- name: qc_rates
-- description: Image QC per dataset: images decoded, share with the chest wall on the wrong side for their laterality (laterality_flipped), share stored with inverted intensity, MONOCHROME1 share, bit depths and number of distinct resolutions.
SELECT
  m.dataset,
  COUNT(*) AS images,
  COUNT(i.image_id) AS decoded,
  ROUND(100.0 * SUM(CASE WHEN i.laterality_flipped THEN 1 ELSE 0 END) / NULLIF(COUNT(i.image_id), 0), 1) AS laterality_flipped_percent,
  ROUND(100.0 * SUM(CASE WHEN i.intensity_inverted THEN 1 ELSE 0 END) / NULLIF(COUNT(i.image_id), 0), 1) AS intensity_inverted_percent,
  ROUND(100.0 * SUM(CASE WHEN i.photometric = 'MONOCHROME1' THEN 1 ELSE 0 END) / NULLIF(COUNT(i.image_id), 0), 1) AS monochrome1_percent,
  MIN(i.bits_stored) AS min_bits,
  MAX(i.bits_stored) AS max_bits,
  COUNT(DISTINCT CASE WHEN i.image_id IS NOT NULL THEN CAST(i.rows AS STRING) || 'x' || CAST(i.columns AS STRING) END) AS resolutions
FROM metadata m
LEFT JOIN images i ON i.dataset = m.dataset AND i.image_id = m.image_id
GROUP BY m.dataset
ORDER BY m.dataset
