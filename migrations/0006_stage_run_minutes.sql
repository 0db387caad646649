-- Stage runs and cold starts per workflow and minute, for
-- GET /v1/reports/series: a day's cold-start rate at a million
-- invocations read 2 million stage_runs index entries (a third of a
-- second); from this rollup it reads 1,440 rows. Triggers keep it exact
-- in the transaction that changes stage_runs, whatever writes them (a
-- history writer of any version, a restore, a hand-made DELETE): rows
-- an INSERT ... ON CONFLICT DO NOTHING skips are not counted. A minute
-- starts on a whole minute since the Unix epoch, whatever the session's
-- time zone.
CREATE TABLE IF NOT EXISTS stage_run_minutes (
    tenant          text NOT NULL,
    workflow        text NOT NULL,
    minute          timestamptz NOT NULL,
    runs            bigint NOT NULL,
    cold            bigint NOT NULL,
    PRIMARY KEY (tenant, workflow, minute)
);

CREATE OR REPLACE FUNCTION stage_run_minutes_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO stage_run_minutes AS m (tenant, workflow, minute, runs, cold)
    SELECT tenant, workflow, date_bin('1 minute', started_at, timestamptz '1970-01-01 00:00:00+00'), count(*), count(*) FILTER (WHERE cold)
    FROM new_rows GROUP BY 1, 2, 3
    ON CONFLICT (tenant, workflow, minute) DO UPDATE SET runs = m.runs + excluded.runs, cold = m.cold + excluded.cold;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION stage_run_minutes_subtract() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE stage_run_minutes AS m SET runs = m.runs - gone.runs, cold = m.cold - gone.cold
    FROM (SELECT tenant, workflow, date_bin('1 minute', started_at, timestamptz '1970-01-01 00:00:00+00') AS minute,
                 count(*) AS runs, count(*) FILTER (WHERE cold) AS cold
          FROM old_rows GROUP BY 1, 2, 3) AS gone
    WHERE m.tenant = gone.tenant AND m.workflow = gone.workflow AND m.minute = gone.minute;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION stage_run_minutes_clear() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE stage_run_minutes;
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS stage_run_minutes_insert ON stage_runs;
CREATE TRIGGER stage_run_minutes_insert AFTER INSERT ON stage_runs
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION stage_run_minutes_add();
-- An UPDATE moves rows: out of their old minutes, into their new ones.
DROP TRIGGER IF EXISTS stage_run_minutes_update_old ON stage_runs;
CREATE TRIGGER stage_run_minutes_update_old AFTER UPDATE ON stage_runs
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION stage_run_minutes_subtract();
DROP TRIGGER IF EXISTS stage_run_minutes_update_new ON stage_runs;
CREATE TRIGGER stage_run_minutes_update_new AFTER UPDATE ON stage_runs
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION stage_run_minutes_add();
DROP TRIGGER IF EXISTS stage_run_minutes_delete ON stage_runs;
CREATE TRIGGER stage_run_minutes_delete AFTER DELETE ON stage_runs
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION stage_run_minutes_subtract();
DROP TRIGGER IF EXISTS stage_run_minutes_truncate ON stage_runs;
CREATE TRIGGER stage_run_minutes_truncate AFTER TRUNCATE ON stage_runs
    FOR EACH STATEMENT EXECUTE FUNCTION stage_run_minutes_clear();

-- The stage runs already written (the triggers' lock on stage_runs holds
-- writers off until this transaction commits).
LOCK TABLE stage_runs IN SHARE ROW EXCLUSIVE MODE;
TRUNCATE stage_run_minutes;
INSERT INTO stage_run_minutes (tenant, workflow, minute, runs, cold)
SELECT tenant, workflow, date_bin('1 minute', started_at, timestamptz '1970-01-01 00:00:00+00'), count(*), count(*) FILTER (WHERE cold)
FROM stage_runs GROUP BY 1, 2, 3;
