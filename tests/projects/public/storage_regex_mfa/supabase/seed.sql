insert into auth.users (instance_id, id, aud, role, email, raw_app_meta_data,
                        raw_user_meta_data, created_at, updated_at)
values
  ('00000000-0000-0000-0000-000000000000', 'c1000000-0000-0000-0000-000000000001', 'authenticated',
   'authenticated', 'cy@files.test', '{"provider": "email"}', '{}', now(), now()),
  ('00000000-0000-0000-0000-000000000000', 'c1000000-0000-0000-0000-000000000002', 'authenticated',
   'authenticated', 'dee@files.test', '{"provider": "email"}', '{}', now(), now());
-- Dee enrolled a TOTP factor: her aal1 sessions are not enough.
insert into auth.mfa_factors (id, user_id, friendly_name, factor_type, status, created_at,
                              updated_at)
values ('c3000000-0000-0000-0000-000000000001', 'c1000000-0000-0000-0000-000000000002', 'phone',
        'totp', 'verified', now(), now());
insert into storage.objects (bucket_id, name, owner_id)
values ('files', 'c1000000-0000-0000-0000-000000000001/cv.pdf', 'c1000000-0000-0000-0000-000000000001'),
       ('files', 'c1000000-0000-0000-0000-000000000002/id.png', 'c1000000-0000-0000-0000-000000000002');
insert into public.todos (owner, title)
values ('c1000000-0000-0000-0000-000000000001', 'renew passport'),
       ('c1000000-0000-0000-0000-000000000002', 'file taxes');
