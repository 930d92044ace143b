insert into auth.users (instance_id, id, aud, role, email, encrypted_password, email_confirmed_at,
                        raw_app_meta_data, raw_user_meta_data, created_at, updated_at)
values ('00000000-0000-0000-0000-000000000000', 'd4000000-0000-0000-0000-000000000001',
        'authenticated', 'authenticated', 'fay@hooks.test', crypt('pw', gen_salt('bf')), now(),
        '{"provider": "email", "providers": ["email"]}', '{}', now(), now());
insert into public.user_roles (user_id, role) values ('d4000000-0000-0000-0000-000000000001', 'admin');
