insert into auth.users (instance_id, id, aud, role, email, encrypted_password, email_confirmed_at,
                        raw_app_meta_data, raw_user_meta_data, created_at, updated_at)
values
  ('00000000-0000-0000-0000-000000000000', 'aaaaaaaa-0000-0000-0000-000000000001', 'authenticated',
   'authenticated', 'customer@shop.test', '', now(),
   '{"provider": "email", "shop_id": 1, "role": "customer"}', '{}', now(), now()),
  ('00000000-0000-0000-0000-000000000000', 'aaaaaaaa-0000-0000-0000-000000000002', 'authenticated',
   'authenticated', 'staff@shop.test', '', now(),
   '{"provider": "email", "shop_id": 1, "role": "staff"}', '{}', now(), now()),
  ('00000000-0000-0000-0000-000000000000', 'aaaaaaaa-0000-0000-0000-000000000003', 'authenticated',
   'authenticated', 'staff2@shop.test', '', now(),
   '{"provider": "email", "shop_id": 2, "role": "staff"}', '{}', now(), now());

insert into public.shops (id, name) values (1, 'North Shop'), (2, 'South Shop');

insert into public.products (shop_id, title, price) values
  (1, 'Kettle', 30), (1, 'Teapot', 25), (1, 'Mug', 8),
  (2, 'Bike', 400), (2, 'Helmet', 60);

insert into public.orders (id, shop_id, customer_id, note) values
  (10, 1, 'aaaaaaaa-0000-0000-0000-000000000001', 'kettle and mugs'),
  (11, 1, 'aaaaaaaa-0000-0000-0000-000000000001', 'empty basket'),
  (12, 2, 'aaaaaaaa-0000-0000-0000-000000000003', 'a helmet');

insert into public.order_items (order_id, line, product_id, qty) values
  (10, 1, 1, 1), (10, 2, 3, 4), (12, 1, 5, 1);

insert into public.audit_log (actor, event) values
  ('aaaaaaaa-0000-0000-0000-000000000001', 'signed in'),
  ('aaaaaaaa-0000-0000-0000-000000000001', 'ordered'),
  ('aaaaaaaa-0000-0000-0000-000000000002', 'restocked');
