insert into public.seed_log (source) values ('seeds/01_rooms');
