begin;
create extension "basejump-supabase_test_helpers";
select plan(3);

insert into public.teams (name) values ('red');
select tests.clear_authentication();

select is(current_user::text, 'anon', 'clear_authentication switches to anon');
select is_empty('select * from public.teams', 'anon sees no team: no policy lets it');
select throws_ok('select * from public.todos', '42501', 'permission denied for table todos');

select * from finish();
rollback;
