-- Each change of a workflow's configuration: a deploy (new or a new
-- revision), a configuration the tuner explored or chose, a re-tuning, a
-- choice made by hand. before and after map each function to its
-- resources ({"f": {"cpuMilli": 500, "memoryBytes": 134217728}}); before
-- is NULL for a workflow's first deploy. Written off the invocation path
-- by the history writer, like the rest of history.
CREATE TABLE IF NOT EXISTS configuration_changes (
    id              text PRIMARY KEY,
    tenant          text NOT NULL,
    workflow        text NOT NULL,
    at              timestamptz NOT NULL,
    kind            text NOT NULL,             -- deploy, tune, re-tune, explore, validate, manual
    revision        bigint NOT NULL,
    policy          text NOT NULL DEFAULT '',
    reason          text NOT NULL DEFAULT '',
    before          jsonb,
    after           jsonb NOT NULL
);
CREATE INDEX IF NOT EXISTS configuration_changes_by_workflow ON configuration_changes (tenant, workflow, at);
