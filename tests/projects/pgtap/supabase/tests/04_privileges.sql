begin;
select plan(5);

select schema_privs_are('public', 'anon', array['USAGE']);
select table_privs_are('public', 'todos', 'anon', array['REFERENCES', 'TRIGGER', 'TRUNCATE']);
select table_privs_are('public', 'teams', 'anon', array['SELECT', 'REFERENCES', 'TRIGGER', 'TRUNCATE']);
select table_privs_are('public', 'todos', 'authenticated', array['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'REFERENCES', 'TRIGGER', 'TRUNCATE']);
select ok(not has_table_privilege('anon', 'public.memberships', 'SELECT'),
  'anon cannot read memberships');

select * from finish();
rollback;
