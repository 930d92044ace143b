begin;
create extension "basejump-supabase_test_helpers";
select plan(6);

select tests.create_supabase_user('carol', 'carol@team.test', '555-0100', '{"plan": "pro"}'::jsonb);
select tests.authenticate_as('carol');

select is(auth.uid(), tests.get_supabase_uid('carol'), 'auth.uid() is carol');
select is(auth.jwt() ->> 'email', 'carol@team.test', 'the email claim');
select is(auth.jwt() -> 'user_metadata' ->> 'plan', 'pro', 'the metadata claim');
select is(auth.role(), 'authenticated', 'auth.role()');
select is(current_user::text, 'authenticated', 'the database role');
select skip('MFA is not enabled in this project', 1);

select * from finish();
rollback;
