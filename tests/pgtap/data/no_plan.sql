-- no_plan(): the plan comes last, from finish().
begin;
select * from no_plan();
select ok(true, 'first');
select is(2, 3, 'second');
select * from finish();
rollback;
