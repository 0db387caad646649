-- History of invocations, stage runs and sandboxes, written off the
-- invocation path by the orchestrator's history writer. Rows carry their
-- tenant so every query can be scoped to one.

CREATE TABLE invocations (
    id              text PRIMARY KEY,
    tenant          text NOT NULL,
    workflow        text NOT NULL,
    revision        bigint NOT NULL,
    async           boolean NOT NULL,
    status          text NOT NULL,
    error           text NOT NULL DEFAULT '',
    failed_stage    text NOT NULL DEFAULT '',
    started_at      timestamptz NOT NULL,
    ended_at        timestamptz NOT NULL,
    latency_ms      double precision NOT NULL,
    qos_latency_ms  double precision,          -- NULL: the workflow has no QoS
    qos_percentile  double precision,
    cold_starts     integer NOT NULL,
    cost            double precision NOT NULL  -- execution cost, dollars
);
CREATE INDEX invocations_by_workflow ON invocations (tenant, workflow, started_at);

CREATE TABLE stage_runs (
    invocation_id   text NOT NULL,
    stage           text NOT NULL,
    tenant          text NOT NULL,
    workflow        text NOT NULL,
    function        text NOT NULL,
    sandbox         text NOT NULL DEFAULT '',
    worker          text NOT NULL DEFAULT '',
    started_at      timestamptz NOT NULL,
    ended_at        timestamptz NOT NULL,
    calls           integer NOT NULL,
    attempts        integer NOT NULL,
    queued_ms       double precision NOT NULL,
    exec_ms         double precision NOT NULL,
    cold            boolean NOT NULL,
    cpu_milli       bigint NOT NULL,
    memory_bytes    bigint NOT NULL,
    cost            double precision NOT NULL,
    error           text NOT NULL DEFAULT '',
    PRIMARY KEY (invocation_id, stage)
);
CREATE INDEX stage_runs_by_workflow ON stage_runs (tenant, workflow, started_at);

CREATE TABLE sandbox_events (
    id              text PRIMARY KEY,
    sandbox         text NOT NULL,
    event           text NOT NULL,             -- ready, deleted, failed
    at              timestamptz NOT NULL,
    tenant          text NOT NULL,
    workflow        text NOT NULL,
    function        text NOT NULL,
    worker          text NOT NULL DEFAULT '',
    cpu_milli       bigint NOT NULL,
    memory_bytes    bigint NOT NULL,
    image_ms        double precision,          -- cold-start breakdown (ready)
    create_ms       double precision,
    network_ms      double precision,
    start_ms        double precision,
    healthy_ms      double precision,
    total_ms        double precision,
    error           text NOT NULL DEFAULT ''
);
CREATE INDEX sandbox_events_by_workflow ON sandbox_events (tenant, workflow, at);
CREATE INDEX sandbox_events_by_sandbox ON sandbox_events (sandbox);

-- The scheduler's decisions (a configuration chosen, and why) and the
-- samples it learnt from.
CREATE TABLE scheduler_decisions (
    id              text PRIMARY KEY,
    tenant          text NOT NULL,
    workflow        text NOT NULL,
    at              timestamptz NOT NULL,
    policy          text NOT NULL,
    config          jsonb NOT NULL,
    reason          text NOT NULL
);
CREATE INDEX scheduler_decisions_by_workflow ON scheduler_decisions (tenant, workflow, at);

CREATE TABLE scheduler_samples (
    id              text PRIMARY KEY,
    tenant          text NOT NULL,
    workflow        text NOT NULL,
    at              timestamptz NOT NULL,
    config          jsonb NOT NULL,
    latency_ms      double precision NOT NULL,
    cost            double precision NOT NULL
);
CREATE INDEX scheduler_samples_by_workflow ON scheduler_samples (tenant, workflow, at);
