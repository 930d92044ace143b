begin;
create extension "basejump-supabase_test_helpers";
select plan(5);

select tests.rls_enabled('public');
select tests.rls_enabled('public', 'todos');
select policies_are('public', 'teams', array['members read teams']);
select policies_are('public', 'memberships', array['members read memberships', 'owners add members']);
select policies_are(
  'public', 'todos',
  array['members read todos', 'members add todos', 'members edit open todos', 'owners delete todos']
);

select * from finish();
rollback;
