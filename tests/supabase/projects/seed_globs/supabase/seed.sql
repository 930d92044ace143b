insert into public.seed_log (source) values ('seed');
