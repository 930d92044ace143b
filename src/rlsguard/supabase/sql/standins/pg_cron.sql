-- No-op stand-in for pg_cron: the "cron" schema and scheduling functions that schedule nothing.
CREATE SCHEMA IF NOT EXISTS cron;
CREATE OR REPLACE FUNCTION cron.schedule(job_name text, schedule text, command text) RETURNS bigint
LANGUAGE sql VOLATILE
AS $fn$ SELECT 0::bigint $fn$;
CREATE OR REPLACE FUNCTION cron.schedule(schedule text, command text) RETURNS bigint
LANGUAGE sql VOLATILE
AS $fn$ SELECT 0::bigint $fn$;
CREATE OR REPLACE FUNCTION cron.unschedule(job_name text) RETURNS boolean
LANGUAGE sql VOLATILE
AS $fn$ SELECT true $fn$;
CREATE OR REPLACE FUNCTION cron.unschedule(job_id bigint) RETURNS boolean
LANGUAGE sql VOLATILE
AS $fn$ SELECT true $fn$;
COMMENT ON SCHEMA cron IS 'rlsguard no-op stand-in for pg_cron: no job ever runs';
