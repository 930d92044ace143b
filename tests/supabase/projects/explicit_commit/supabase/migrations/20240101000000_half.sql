create table public.before_commit (id int);
commit;
create table public.after_commit (id int);
select 1 / 0;
