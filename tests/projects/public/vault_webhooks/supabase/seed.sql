select vault.create_secret('http://127.0.0.1:54321', 'project_url', 'Where edge functions live');
select vault.create_secret('service-role-key-for-tests', 'service_role_key');

insert into auth.users (instance_id, id, aud, role, email, encrypted_password, email_confirmed_at,
                        raw_app_meta_data, raw_user_meta_data, created_at, updated_at)
values ('00000000-0000-0000-0000-000000000000', 'e5000000-0000-0000-0000-000000000001',
        'authenticated', 'authenticated', 'gus@shop.test', crypt('pw', gen_salt('bf')), now(),
        '{"provider": "email", "providers": ["email"]}', '{}', now(), now());
insert into public.orders (customer_id, total_cents) values ('e5000000-0000-0000-0000-000000000001', 4200);

select vault.update_secret(id, new_description => 'rotated in seed')
from vault.secrets where name = 'service_role_key';
