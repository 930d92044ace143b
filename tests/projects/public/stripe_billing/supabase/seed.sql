insert into auth.users (instance_id, id, aud, role, email, encrypted_password, email_confirmed_at,
                        raw_app_meta_data, raw_user_meta_data, created_at, updated_at)
values
  ('00000000-0000-0000-0000-000000000000', '08000000-0000-0000-0000-000000000001', 'authenticated',
   'authenticated', 'kim@billing.test', crypt('pw', gen_salt('bf')), now(),
   '{"provider": "email", "providers": ["email"]}', '{}', now(), now()),
  ('00000000-0000-0000-0000-000000000000', '08000000-0000-0000-0000-000000000002', 'authenticated',
   'authenticated', 'lou@billing.test', crypt('pw', gen_salt('bf')), now(),
   '{"provider": "email", "providers": ["email"]}', '{}', now(), now());

insert into stripe.products (id, name) values ('prod_pro', 'Pro');
insert into stripe.prices (id, product, currency, unit_amount, recurring)
values ('price_pro_month', 'prod_pro', 'usd', 1500, '{"interval": "month"}');
insert into stripe.customers (id, email, created)
values ('cus_kim', 'kim@billing.test', 1700000000), ('cus_lou', 'lou@billing.test', 1700000000);
insert into public.billing_customers (user_id, stripe_customer_id)
values ('08000000-0000-0000-0000-000000000001', 'cus_kim'),
       ('08000000-0000-0000-0000-000000000002', 'cus_lou');
insert into stripe.subscriptions (id, customer, status, price, current_period_end)
values ('sub_kim', 'cus_kim', 'active', 'price_pro_month', now() + interval '20 days'),
       ('sub_lou', 'cus_lou', 'trialing', 'price_pro_month', now() + interval '3 days');
