-- Tenancy comes from the token: app_metadata.shop_id and app_metadata.role (set by the
-- service, never by the user).
create function public.my_shop() returns int
language sql stable
as $$ select nullif(auth.jwt() -> 'app_metadata' ->> 'shop_id', '')::int $$;

create function public.is_staff() returns boolean
language sql stable
as $$ select coalesce(auth.jwt() -> 'app_metadata' ->> 'role', '') = 'staff' $$;

create table public.shops (
  id int primary key,
  name text not null
);

create table public.products (
  id bigint generated always as identity primary key,
  shop_id int not null references public.shops (id),
  title text not null,
  price numeric not null
);

create table public.orders (
  id int primary key,
  shop_id int not null references public.shops (id),
  customer_id uuid not null references auth.users (id),
  note text
);

create table public.order_items (
  order_id int not null references public.orders (id) on delete restrict,
  line int not null,
  product_id bigint not null references public.products (id),
  qty int not null check (qty > 0),
  primary key (order_id, line)
);

-- No primary key: the matrix names its key columns.
create table public.audit_log (
  actor uuid not null,
  event text not null,
  at timestamptz not null default now()
);

alter table public.shops enable row level security;
alter table public.products enable row level security;
alter table public.orders enable row level security;
alter table public.order_items enable row level security;
alter table public.audit_log enable row level security;

grant select on public.shops to anon, authenticated;
grant select on public.products to anon, authenticated;
grant insert, delete on public.products to authenticated;
grant update (title, price) on public.products to authenticated;  -- not id, not shop_id
grant select, insert, delete on public.orders to authenticated;    -- no UPDATE grant
grant select, insert, update, delete on public.order_items to authenticated;
grant select, insert on public.audit_log to authenticated;
grant all on all tables in schema public to service_role;

create policy "anyone reads shops" on public.shops
  for select to anon, authenticated using (true);

create policy "anyone reads products" on public.products
  for select to anon, authenticated using (true);
create policy "staff add products" on public.products
  for insert to authenticated
  with check (public.is_staff() and shop_id = (select public.my_shop()));
create policy "staff edit products" on public.products
  for update to authenticated
  using (public.is_staff() and shop_id = (select public.my_shop()))
  with check (public.is_staff() and shop_id = (select public.my_shop()));
create policy "staff remove products" on public.products
  for delete to authenticated
  using (public.is_staff() and shop_id = (select public.my_shop()));

create policy "customers and staff read orders" on public.orders
  for select to authenticated
  using (customer_id = (select auth.uid())
         or (public.is_staff() and shop_id = (select public.my_shop())));
create policy "customers place orders" on public.orders
  for insert to authenticated
  with check (customer_id = (select auth.uid()) and shop_id = (select public.my_shop()));
create policy "customers cancel orders" on public.orders
  for delete to authenticated
  using (customer_id = (select auth.uid()));

create policy "items of visible orders" on public.order_items
  for select to authenticated
  using (exists (select 1 from public.orders o where o.id = order_id));
create policy "customers change their items" on public.order_items
  for update to authenticated
  using (exists (select 1 from public.orders o
                 where o.id = order_id and o.customer_id = (select auth.uid())))
  with check (exists (select 1 from public.orders o
                      where o.id = order_id and o.customer_id = (select auth.uid())));

create policy "own audit entries" on public.audit_log
  for select to authenticated using (actor = (select auth.uid()));
create policy "write own audit entries" on public.audit_log
  for insert to authenticated with check (actor = (select auth.uid()));
