create table public.real (id int);
