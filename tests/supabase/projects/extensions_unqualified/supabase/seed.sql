insert into public.invites (email) values ('ada@example.com'), ('grace@example.com');
