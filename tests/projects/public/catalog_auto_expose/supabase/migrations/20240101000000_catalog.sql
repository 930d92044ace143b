-- A subscription store: a catalog everyone reads, subscriptions their user reads, a
-- customers table only the server touches (RLS, no policy). Grants come from the default
-- privileges ([api] auto_expose_new_tables = true). Written for rlsguard's corpus.
create table public.products (
  id text primary key,
  name text not null,
  active boolean not null default true
);
create table public.prices (
  id text primary key,
  product_id text not null references public.products,
  unit_amount bigint not null
);
create table public.customers (
  id uuid primary key references auth.users on delete cascade,
  stripe_customer_id text
);
create table public.subscriptions (
  id text primary key,
  user_id uuid not null references auth.users on delete cascade,
  price_id text references public.prices,
  status text not null
);
alter table public.products enable row level security;
alter table public.prices enable row level security;
alter table public.customers enable row level security;
alter table public.subscriptions enable row level security;

create policy "catalog is public" on public.products for select using (true);
create policy "prices are public" on public.prices for select using (true);
create policy "own subscriptions" on public.subscriptions for select to authenticated
  using (user_id = (select auth.uid()));
