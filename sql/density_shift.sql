-- name: density_shift
-- description: How differently breast density is distributed between each pair of datasets: Pearson chi-square over the 2 x k table of per-breast density counts, its degrees of freedom and Cramer's V (0 = same distribution, 1 = disjoint). mcq report adds the p-value.
WITH counts AS (
  SELECT dataset, density, COUNT(*) AS n
  FROM exams
  WHERE density IS NOT NULL
  GROUP BY dataset, density
),
datasets AS (SELECT DISTINCT dataset FROM counts),
pairs AS (
  SELECT a.dataset AS dataset_a, b.dataset AS dataset_b
  FROM datasets a JOIN datasets b ON a.dataset < b.dataset
),
levels AS (
  SELECT DISTINCT p.dataset_a, p.dataset_b, c.density
  FROM pairs p JOIN counts c ON c.dataset = p.dataset_a OR c.dataset = p.dataset_b
),
observed AS (
  SELECT l.dataset_a, l.dataset_b, l.density, d.dataset, COALESCE(c.n, 0) AS n
  FROM levels l
  JOIN datasets d ON d.dataset = l.dataset_a OR d.dataset = l.dataset_b
  LEFT JOIN counts c ON c.dataset = d.dataset AND c.density = l.density
),
row_totals AS (
  SELECT dataset_a, dataset_b, dataset, SUM(n) AS row_n FROM observed GROUP BY dataset_a, dataset_b, dataset
),
column_totals AS (
  SELECT dataset_a, dataset_b, density, SUM(n) AS column_n FROM observed GROUP BY dataset_a, dataset_b, density
),
totals AS (
  SELECT dataset_a, dataset_b, SUM(n) AS total, COUNT(DISTINCT density) AS levels FROM observed GROUP BY dataset_a, dataset_b
),
terms AS (
  SELECT
    o.dataset_a,
    o.dataset_b,
    o.n,
    CAST(r.row_n AS DOUBLE) * CAST(c.column_n AS DOUBLE) / CAST(t.total AS DOUBLE) AS expected
  FROM observed o
  JOIN row_totals r ON r.dataset_a = o.dataset_a AND r.dataset_b = o.dataset_b AND r.dataset = o.dataset
  JOIN column_totals c ON c.dataset_a = o.dataset_a AND c.dataset_b = o.dataset_b AND c.density = o.density
  JOIN totals t ON t.dataset_a = o.dataset_a AND t.dataset_b = o.dataset_b
),
statistic AS (
  SELECT dataset_a, dataset_b, SUM((n - expected) * (n - expected) / expected) AS chi_square
  FROM terms
  GROUP BY dataset_a, dataset_b
)
SELECT
  s.dataset_a,
  s.dataset_b,
  t.total AS breasts,
  ROUND(s.chi_square, 3) AS chi_square,
  t.levels - 1 AS df,
  ROUND(SQRT(s.chi_square / CAST(t.total AS DOUBLE)), 4) AS cramers_v
FROM statistic s
JOIN totals t ON t.dataset_a = s.dataset_a AND t.dataset_b = s.dataset_b
WHERE t.levels > 1
ORDER BY s.dataset_a, s.dataset_b
