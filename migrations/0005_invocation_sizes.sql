-- The size of an invocation's input (the request body) and output (the
-- workflow's response; 0 when it failed), in bytes. NULL on rows written
-- before this migration: their sizes are not known.
ALTER TABLE invocations ADD COLUMN IF NOT EXISTS input_bytes bigint;
ALTER TABLE invocations ADD COLUMN IF NOT EXISTS output_bytes bigint;
