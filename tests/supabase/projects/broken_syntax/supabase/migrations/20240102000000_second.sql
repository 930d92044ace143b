-- The second migration creates a table, then has a typo three lines down.
create table public.second (id int primary key);

insert into public.second (id)
  selec 1;

create table public.third (id int primary key);
