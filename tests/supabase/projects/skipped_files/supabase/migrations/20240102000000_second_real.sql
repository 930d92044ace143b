create table public.second_real (id int);
