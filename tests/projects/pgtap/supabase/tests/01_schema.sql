begin;
select plan(9);

select has_table('public'::name, 'teams'::name);
select has_table('public'::name, 'memberships'::name);
select has_table('public'::name, 'todos'::name);
select has_column('public', 'todos', 'locked_at', 'todos can be locked');
select col_type_is('public', 'todos', 'team_id', 'uuid', 'todos.team_id is a uuid');
select tables_are('public', array['teams', 'memberships', 'todos']);
select has_function('public', 'is_member', array['uuid']);
select function_returns('public', 'is_member', array['uuid'], 'boolean');
select is_definer('public', 'is_owner', array['uuid']);

select * from finish();
rollback;
