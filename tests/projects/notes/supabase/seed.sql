insert into auth.users (instance_id, id, aud, role, email, encrypted_password, email_confirmed_at,
                        raw_app_meta_data, raw_user_meta_data, created_at, updated_at)
values
  ('00000000-0000-0000-0000-000000000000', '11111111-1111-1111-1111-111111111111', 'authenticated',
   'authenticated', 'alice@notes.test', '', now(),
   '{"provider": "email", "providers": ["email"], "plan": "pro"}', '{"name": "Alice"}', now(), now()),
  ('00000000-0000-0000-0000-000000000000', '22222222-2222-2222-2222-222222222222', 'authenticated',
   'authenticated', 'bob@notes.test', '', now(),
   '{"provider": "email", "providers": ["email"]}', '{"name": "Bob"}', now(), now());

insert into public.notes (owner_id, body) values
  ('11111111-1111-1111-1111-111111111111', 'alice 1'),
  ('11111111-1111-1111-1111-111111111111', 'alice 2'),
  ('22222222-2222-2222-2222-222222222222', 'bob 1');
