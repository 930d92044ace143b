create table public.legacy_init (id int);
