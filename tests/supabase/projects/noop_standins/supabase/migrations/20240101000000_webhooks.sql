create extension if not exists pg_net;
create extension if not exists pg_graphql;
create extension if not exists http with schema extensions;

create table public.orders (id bigint primary key, total numeric not null);

create function public.notify_order() returns trigger
language plpgsql security definer set search_path = ''
as $$
begin
  perform net.http_post(url := 'https://example.com/hook', body := to_jsonb(new));
  return new;
end;
$$;

create trigger orders_webhook after insert on public.orders
  for each row execute function public.notify_order();
