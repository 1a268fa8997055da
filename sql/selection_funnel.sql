-- name: selection_funnel
-- description: The case-selection funnel: raw records dropped per dataset and reason (record-level exclusions), with the records that made it into the lake.
SELECT dataset, 'kept' AS reason, COUNT(*) AS records
FROM (
  SELECT dataset, source_file, source_row FROM metadata
  UNION
  SELECT dataset, source_file, source_row FROM findings
) kept
GROUP BY dataset
UNION ALL
SELECT dataset, reason, COUNT(*) AS records
FROM exclusions
WHERE level = 'record'
GROUP BY dataset, reason
ORDER BY dataset, records DESC, reason
