begin;
create extension if not exists "basejump-supabase_test_helpers";
select plan(5);

select tests.create_supabase_user('alice');
select tests.create_supabase_user('bob');
insert into public.teams (id, name) values
  ('11111111-1111-1111-1111-111111111111', 'red'),
  ('22222222-2222-2222-2222-222222222222', 'blue');
insert into public.memberships (team_id, user_id, role) values
  ('11111111-1111-1111-1111-111111111111', tests.get_supabase_uid('alice'), 'owner'),
  ('22222222-2222-2222-2222-222222222222', tests.get_supabase_uid('bob'), 'owner');
insert into public.todos (team_id, title, created_by) values
  ('11111111-1111-1111-1111-111111111111', 'paint the fence', tests.get_supabase_uid('alice')),
  ('11111111-1111-1111-1111-111111111111', 'buy brushes', tests.get_supabase_uid('alice')),
  ('22222222-2222-2222-2222-222222222222', 'blue secret', tests.get_supabase_uid('bob'));

select tests.authenticate_as('alice');

select results_eq(
  'select title from public.todos order by title',
  array['buy brushes', 'paint the fence'],
  'alice sees her team''s todos'
);
select set_eq('select name from public.teams', array['red'], 'alice sees only her team');
select is_empty(
  $$select * from public.todos where team_id = '22222222-2222-2222-2222-222222222222'$$,
  'alice sees nothing of the blue team'
);
select isnt_empty('select * from public.memberships', 'alice sees her membership');
select results_ne(
  'select count(*)::int from public.todos', 'select 3', 'not every todo is visible to alice'
);

select * from finish();
rollback;
