begin;
select plan(6);

select policy_cmd_is('public', 'todos', 'members read todos'::name, 'select');
select policy_cmd_is('public', 'todos', 'members add todos'::name, 'insert');
select policy_cmd_is('public', 'todos', 'members edit open todos'::name, 'update');
select policy_cmd_is('public', 'todos', 'owners delete todos'::name, 'delete');
select policy_roles_are('public', 'todos', 'members read todos', array['authenticated']);
select policy_roles_are('public', 'memberships', 'owners add members', array['authenticated'],
  'only signed-in users may add members');

select * from finish();
rollback;
