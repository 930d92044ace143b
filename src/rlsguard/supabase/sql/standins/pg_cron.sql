-- Stand-in for pg_cron: the "cron" schema, cron.job, and schedule/unschedule that record jobs
-- exactly as asked. No job ever runs (there is no background worker), so cron.job_run_details
-- stays empty. On Supabase postgres may read cron.job but not write it directly.
CREATE SCHEMA IF NOT EXISTS cron;
CREATE TABLE cron.job (
  jobid bigserial PRIMARY KEY,
  schedule text NOT NULL,
  command text NOT NULL,
  nodename text NOT NULL DEFAULT 'localhost',
  nodeport integer NOT NULL DEFAULT 5432,
  database text NOT NULL DEFAULT current_database(),
  username text NOT NULL DEFAULT current_user,
  active boolean NOT NULL DEFAULT true,
  jobname text,
  UNIQUE (jobname, username)
);
CREATE TABLE cron.job_run_details (
  jobid bigint, runid bigserial PRIMARY KEY, job_pid integer, database text, username text,
  command text, status text, return_message text, start_time timestamptz, end_time timestamptz
);
CREATE FUNCTION cron.schedule(job_name text, schedule text, command text) RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $fn$
DECLARE
  id bigint;
BEGIN
  INSERT INTO cron.job (schedule, command, jobname, username)
  VALUES (schedule, command, job_name, session_user)
  ON CONFLICT (jobname, username) DO UPDATE SET schedule = EXCLUDED.schedule, command = EXCLUDED.command
  RETURNING jobid INTO id;
  RAISE NOTICE 'pg_cron stand-in: job % (%) recorded, it never runs here', id, coalesce(job_name, command);
  RETURN id;
END
$fn$;
CREATE FUNCTION cron.schedule(schedule text, command text) RETURNS bigint
LANGUAGE sql VOLATILE AS $fn$ SELECT cron.schedule(NULL::text, schedule, command) $fn$;
CREATE FUNCTION cron.unschedule(job_name text) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $fn$
BEGIN
  DELETE FROM cron.job WHERE jobname = job_name AND username = session_user;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'could not find valid entry for job ''%''', job_name;
  END IF;
  RETURN true;
END
$fn$;
CREATE FUNCTION cron.unschedule(job_id bigint) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $fn$
BEGIN
  DELETE FROM cron.job WHERE jobid = job_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'could not find valid entry for job %', job_id;
  END IF;
  RETURN true;
END
$fn$;
GRANT USAGE ON SCHEMA cron TO postgres WITH GRANT OPTION;
GRANT SELECT ON cron.job, cron.job_run_details TO postgres WITH GRANT OPTION;
COMMENT ON SCHEMA cron IS 'rlsguard stand-in for pg_cron: jobs are recorded, never run';
