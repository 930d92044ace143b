begin;
create extension "basejump-supabase_test_helpers";
select plan(4);

select tests.create_supabase_user('owner', 'owner@team.test');
select tests.create_supabase_user('member', 'member@team.test');
insert into public.teams (id, name) values ('11111111-1111-1111-1111-111111111111', 'red');
insert into public.memberships (team_id, user_id, role) values
  ('11111111-1111-1111-1111-111111111111', tests.get_supabase_uid('owner'), 'owner'),
  ('11111111-1111-1111-1111-111111111111', tests.get_supabase_uid('member'), 'member');
insert into public.todos (team_id, title, created_by) values
  ('11111111-1111-1111-1111-111111111111', 'keep me', tests.get_supabase_uid('owner'));

select tests.authenticate_as('member');
with d as (delete from public.todos returning 1)
select is(count(*), 0::bigint, 'a member deletes nothing') from d;

select tests.authenticate_as('owner');
select row_eq(
  'select title, done from public.todos',
  row('keep me'::text, false),
  'the owner still sees the todo'
);
with d as (delete from public.todos returning 1)
select is(count(*), 1::bigint, 'the owner deletes it') from d;
select is_empty('select * from public.todos', 'gone');

select * from finish();
rollback;
