insert into auth.users (instance_id, id, aud, role, email, encrypted_password, email_confirmed_at,
                        raw_app_meta_data, raw_user_meta_data, created_at, updated_at)
values ('00000000-0000-0000-0000-000000000000', 'b2000000-0000-0000-0000-000000000001',
        'authenticated', 'authenticated', 'cleo@storage.test', crypt('secret', gen_salt('bf')),
        now(), '{"provider": "email", "providers": ["email"]}', '{}', now(), now());
insert into public.profiles (id, avatar_path)
values ('b2000000-0000-0000-0000-000000000001', 'b2000000-0000-0000-0000-000000000001/me.png');
