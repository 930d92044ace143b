begin;
create extension "basejump-supabase_test_helpers";
select plan(3);

select tests.create_supabase_user('alice');
insert into public.teams (id, name) values
  ('11111111-1111-1111-1111-111111111111', 'red'),
  ('22222222-2222-2222-2222-222222222222', 'blue');
insert into public.todos (team_id, title, created_by) values
  ('11111111-1111-1111-1111-111111111111', 'a', tests.get_supabase_uid('alice')),
  ('22222222-2222-2222-2222-222222222222', 'b', tests.get_supabase_uid('alice')),
  ('22222222-2222-2222-2222-222222222222', 'b', tests.get_supabase_uid('alice'));

select tests.authenticate_as_service_role();

select is(current_user::text, 'service_role', 'the service role');
select bag_eq('select title from public.todos', array['a', 'b', 'b'], 'the service role sees every todo');
select isnt_empty('select * from public.teams', 'and every team');

select * from finish();
rollback;
