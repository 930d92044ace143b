insert into public.seed_log (source) values ('seeds/02_more');
