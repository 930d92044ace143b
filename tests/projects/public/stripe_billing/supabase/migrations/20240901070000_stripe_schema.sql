-- A Stripe-sync style schema: Stripe objects mirrored into their own schema by a service-role
-- worker, exposed to customers through RLS-protected views of their own rows only.
create extension if not exists pg_cron;
create extension if not exists http with schema extensions;
create extension if not exists pg_hashids with schema extensions;

create schema if not exists stripe;
grant usage on schema stripe to service_role;

create table stripe.products (
  id text primary key,
  active boolean not null default true,
  name text not null,
  metadata jsonb not null default '{}'
);
create table stripe.prices (
  id text primary key,
  product text not null references stripe.products (id),
  currency text not null,
  unit_amount bigint,
  recurring jsonb
);
create table stripe.customers (
  id text primary key,
  email text,
  metadata jsonb not null default '{}',
  created bigint not null
);
create type stripe.subscription_status as enum
  ('trialing', 'active', 'canceled', 'incomplete', 'incomplete_expired', 'past_due', 'unpaid', 'paused');
create table stripe.subscriptions (
  id text primary key,
  customer text not null references stripe.customers (id),
  status stripe.subscription_status not null,
  price text references stripe.prices (id),
  current_period_end timestamptz,
  cancel_at_period_end boolean not null default false
);
grant all on all tables in schema stripe to service_role;

create table public.billing_customers (
  user_id uuid primary key references auth.users (id) on delete cascade,
  stripe_customer_id text unique not null references stripe.customers (id)
);
alter table public.billing_customers enable row level security;
create policy "users see their customer id" on public.billing_customers
  for select to authenticated using (user_id = (select auth.uid()));
grant select on public.billing_customers to authenticated;
grant all on public.billing_customers to service_role;

create view public.my_subscriptions with (security_invoker = true) as
  select s.id, s.status, s.current_period_end, p.unit_amount, p.currency
  from stripe.subscriptions s
  join public.billing_customers c on c.stripe_customer_id = s.customer
  left join stripe.prices p on p.id = s.price;
grant select on public.my_subscriptions to authenticated;

-- Customers read their own mirrored rows; the view runs as the caller.
alter table stripe.subscriptions enable row level security;
alter table stripe.prices enable row level security;
grant usage on schema stripe to authenticated;
grant select on stripe.subscriptions, stripe.prices to authenticated;
create policy "own subscriptions" on stripe.subscriptions for select to authenticated
  using (customer in (select stripe_customer_id from public.billing_customers
                      where user_id = (select auth.uid())));
create policy "prices are public" on stripe.prices for select to authenticated using (true);

-- Invoice numbers shown to customers, and the sync calls to Stripe's API.
create or replace function public.invoice_number(n bigint) returns text
language sql immutable as $$ select extensions.id_encode(n, 'invoices', 8) $$;

create or replace function stripe.fetch_customer(customer_id text) returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
  response extensions.http_response;
begin
  response := extensions.http_get('https://api.stripe.com/v1/customers/' || customer_id);
  return response.content::jsonb;
end;
$$;
revoke all on function stripe.fetch_customer(text) from public;
grant execute on function stripe.fetch_customer(text) to service_role;

select cron.schedule('expire-trials', '0 * * * *', $$
  update stripe.subscriptions set status = 'canceled'
  where status = 'trialing' and current_period_end < now()
$$);
select cron.schedule('nightly-sync', '30 3 * * *', 'select 1');
select cron.unschedule('nightly-sync');
