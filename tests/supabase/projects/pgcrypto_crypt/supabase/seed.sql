insert into public.local_users (email, password_hash)
values ('ada@example.com', crypt('secret', gen_salt('bf')));
