begin;
create extension supabase_test_helpers;
select plan(4);

select tests.create_supabase_user('alice');
select tests.create_supabase_user('bob');
insert into public.teams (id, name) values
  ('11111111-1111-1111-1111-111111111111', 'red'),
  ('22222222-2222-2222-2222-222222222222', 'blue');
insert into public.memberships (team_id, user_id, role) values
  ('11111111-1111-1111-1111-111111111111', tests.get_supabase_uid('alice'), 'member'),
  ('22222222-2222-2222-2222-222222222222', tests.get_supabase_uid('bob'), 'owner');

select tests.authenticate_as('alice');

select throws_ok(
  $$insert into public.todos (team_id, title) values ('22222222-2222-2222-2222-222222222222', 'spam')$$,
  '42501',
  'new row violates row-level security policy for table "todos"',
  'alice cannot add todos to the blue team'
);
select throws_like(
  $$insert into public.memberships (team_id, user_id) values
    ('11111111-1111-1111-1111-111111111111', auth.uid())$$,
  '%row-level security%',
  'a member cannot add members'
);
select lives_ok(
  $$insert into public.todos (team_id, title) values ('11111111-1111-1111-1111-111111111111', 'ok')$$,
  'alice adds a todo to her own team'
);
select throws_ok(
  $$insert into public.todos (team_id, title, created_by) values
    ('11111111-1111-1111-1111-111111111111', 'forged', tests.get_supabase_uid('bob'))$$,
  '42501'
);

select * from finish();
rollback;
