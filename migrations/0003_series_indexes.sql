-- GET /v1/reports/series reads a workflow's window of invocations and
-- stage runs: the (tenant, workflow, time) indexes carry the columns it
-- reads, so that it is an index-only scan over the window (the heap is
-- read only for pages not yet marked all-visible by vacuum). They replace
-- the indexes on the same keys.
CREATE INDEX IF NOT EXISTS invocations_by_workflow_covering
    ON invocations (tenant, workflow, started_at) INCLUDE (status, latency_ms, cost);
DROP INDEX IF EXISTS invocations_by_workflow;
CREATE INDEX IF NOT EXISTS stage_runs_by_workflow_covering
    ON stage_runs (tenant, workflow, started_at) INCLUDE (cold);
DROP INDEX IF EXISTS stage_runs_by_workflow;
