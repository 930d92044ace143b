create table public.first (id int primary key);
