-- Example queries for the sqlite3 CLI:  sqlite3 blobs/metadata.sqlite3
-- (PostgreSQL: example_queries.postgresql.sql, the same queries in its dialect.)
-- Times are UTC text like '2026-11-26 07:00:00.000000', so plain string comparison works.
-- Each query starts with a "-- name:" line; tests/store/test_example_queries.py runs them all.

-- name: Which version was active at a given time
-- Replace the timestamp; the latest activation or rollback at or before it wins. "Latest" is the
-- highest id (assigned by the database), not created_at: another host's clock may be skewed.
SELECT v.tag, v.model_type, e.kind, e.created_at AS since
FROM model_events AS e
JOIN model_versions AS v ON v.id = e.version_id
WHERE e.kind IN ('activated', 'rolled_back', 'promoted')
  AND e.created_at <= '2026-11-26 12:00:00'
ORDER BY e.id DESC
LIMIT 1;

-- name: F1 trend of the last 10 versions
SELECT v.tag, v.model_type, round(m.f1_score, 4) AS f1, round(m.pr_auc, 4) AS pr_auc,
       v.created_at, v.pruned_at IS NOT NULL AS pruned
FROM model_versions AS v
JOIN version_metrics AS m ON m.version_id = v.id
ORDER BY v.created_at DESC, v.id DESC
LIMIT 10;

-- name: Phase durations of the last 5 runs
SELECT r.id AS run, r.status, r.model_type, p.name AS phase, round(p.duration_s, 2) AS seconds
FROM training_runs AS r
JOIN run_phases AS p ON p.run_id = r.id
WHERE r.id IN (SELECT id FROM training_runs ORDER BY started_at DESC, id DESC LIMIT 5)
ORDER BY r.id DESC, p.started_at;

-- name: Rollbacks with from and to tags
SELECT e.created_at, f.tag AS from_tag, t.tag AS to_tag, e.actor, e.reason
FROM model_events AS e
JOIN model_versions AS t ON t.id = e.version_id
LEFT JOIN model_versions AS f ON f.id = e.from_version_id
WHERE e.kind = 'rolled_back'
ORDER BY e.id DESC;

-- name: Failed or interrupted runs and why
SELECT id, status, trigger, started_at, round(duration_s, 1) AS seconds, error
FROM training_runs
WHERE status IN ('failed', 'interrupted')
ORDER BY started_at DESC
LIMIT 20;
