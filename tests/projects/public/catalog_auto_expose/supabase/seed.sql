insert into public.products (id, name) values ('prod_basic', 'Basic'), ('prod_pro', 'Pro');
insert into public.prices (id, product_id, unit_amount)
values ('price_basic', 'prod_basic', 500), ('price_pro', 'prod_pro', 2000);
