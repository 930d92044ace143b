-- An edge-function webhook: the project URL and service key live in Vault (Supabase creates
-- the vault schema by default; the seed stores the secrets), a trigger posts new orders with
-- pg_net.
create extension if not exists pg_net with schema extensions;

create table public.orders (
  id bigint generated always as identity primary key,
  customer_id uuid not null references auth.users (id),
  total_cents integer not null check (total_cents >= 0),
  created_at timestamptz not null default now()
);
alter table public.orders enable row level security;
create policy "customers read their orders" on public.orders
  for select to authenticated using (customer_id = (select auth.uid()));

create or replace function private_secret(secret_name text) returns text
language sql stable security definer set search_path = ''
as $$ select decrypted_secret from vault.decrypted_secrets where name = secret_name $$;
revoke all on function private_secret(text) from public, anon, authenticated;

create or replace function public.notify_order() returns trigger
language plpgsql security definer set search_path = ''
as $$
begin
  perform net.http_post(
    url := public.private_secret('project_url') || '/functions/v1/order-created',
    headers := jsonb_build_object(
      'Content-Type', 'application/json',
      'Authorization', 'Bearer ' || public.private_secret('service_role_key')
    ),
    body := jsonb_build_object('order_id', new.id)
  );
  return new;
end;
$$;

create trigger orders_created after insert on public.orders
  for each row execute function public.notify_order();
