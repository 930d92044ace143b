insert into public.orders (id, total) values (1, 9.5);
