-- The publication Realtime listens to, owned by postgres so migrations may drop and re-create it.
SET ROLE postgres;
CREATE PUBLICATION supabase_realtime;
RESET ROLE;
