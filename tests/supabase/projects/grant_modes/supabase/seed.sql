insert into public.notes (body) values ('hello');
