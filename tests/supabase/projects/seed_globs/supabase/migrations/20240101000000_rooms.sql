create table public.seed_log (n serial primary key, source text not null);
