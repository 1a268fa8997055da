-- name: shared_images
-- description: Images whose stored pixel data are byte-identical across datasets (same pixel_data_sha256), e.g. CMMD images inside TOMPEI-CMMD: count per pair of datasets.
SELECT
  a.dataset AS dataset_a,
  b.dataset AS dataset_b,
  COUNT(*) AS shared_images
FROM images a
JOIN images b ON a.pixel_data_sha256 = b.pixel_data_sha256 AND a.dataset < b.dataset
GROUP BY a.dataset, b.dataset
ORDER BY a.dataset, b.dataset
