-- A cold start's image pull, for images workers pull from registries
-- (zero when the worker had the image).
ALTER TABLE sandbox_events ADD COLUMN IF NOT EXISTS pull_ms double precision;
