insert into auth.users (instance_id, id, aud, role, email, raw_app_meta_data,
                        raw_user_meta_data, created_at, updated_at)
values
  ('00000000-0000-0000-0000-000000000000', 'b1000000-0000-0000-0000-000000000001', 'authenticated',
   'authenticated', 'ada@private.test', '{"provider": "email"}', '{}', now(), now()),
  ('00000000-0000-0000-0000-000000000000', 'b1000000-0000-0000-0000-000000000002', 'authenticated',
   'authenticated', 'ben@private.test', '{"provider": "email"}', '{}', now(), now());

insert into app.accounts (id, name, primary_owner)
values ('b2000000-0000-0000-0000-000000000001', 'Acme', 'b1000000-0000-0000-0000-000000000001');
insert into app.account_user (account_id, user_id, role)
values
  ('b2000000-0000-0000-0000-000000000001', 'b1000000-0000-0000-0000-000000000001', 'owner'),
  ('b2000000-0000-0000-0000-000000000001', 'b1000000-0000-0000-0000-000000000002', 'member');
