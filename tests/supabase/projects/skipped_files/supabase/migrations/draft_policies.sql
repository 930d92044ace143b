create table public.draft (id int);
