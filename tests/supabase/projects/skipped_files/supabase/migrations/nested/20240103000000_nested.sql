create table public.nested (id int);
