insert into public.role_permissions (role, permission)
values ('admin', 'channels.delete'), ('admin', 'messages.delete'), ('moderator', 'messages.delete');

insert into auth.users (instance_id, id, aud, role, email, encrypted_password, email_confirmed_at,
                        raw_app_meta_data, raw_user_meta_data, created_at, updated_at)
values
  ('00000000-0000-0000-0000-000000000000', '07000000-0000-0000-0000-000000000001', 'authenticated',
   'authenticated', 'ivy@rbac.test', crypt('pw', gen_salt('bf')), now(),
   '{"provider": "email", "providers": ["email"], "user_role": "admin"}', '{}', now(), now()),
  ('00000000-0000-0000-0000-000000000000', '07000000-0000-0000-0000-000000000002', 'authenticated',
   'authenticated', 'jon@rbac.test', crypt('pw', gen_salt('bf')), now(),
   '{"provider": "email", "providers": ["email"], "user_role": "moderator"}', '{}', now(), now());

insert into public.channels (slug, created_by)
values ('general', '07000000-0000-0000-0000-000000000001'), ('random', '07000000-0000-0000-0000-000000000002');
insert into public.banned_users (user_id) values ('07000000-0000-0000-0000-000000000002');
