create table public.notes (
  id bigint generated always as identity primary key,
  owner_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  body text not null,
  created_at timestamptz not null default now()
);

alter table public.notes enable row level security;

grant select, insert, update, delete on public.notes to authenticated;
grant select on public.notes to service_role;

create policy "owners read their notes" on public.notes
  for select to authenticated
  using ((select auth.uid()) = owner_id);

create policy "owners write their notes" on public.notes
  for insert to authenticated
  with check ((select auth.uid()) = owner_id);

create policy "owners edit their notes" on public.notes
  for update to authenticated
  using ((select auth.uid()) = owner_id)
  with check ((select auth.uid()) = owner_id);

alter database postgres set lock_timeout to '4s';
alter role authenticated set statement_timeout to '7s';

create function public.whoami() returns jsonb
language sql stable
as $$ select jsonb_build_object(
  'uid', auth.uid(), 'role', auth.role(), 'email', auth.email(),
  'current_user', current_user, 'session_user', session_user,
  'aal', auth.jwt() ->> 'aal',
  'method', current_setting('request.method', true),
  'path', current_setting('request.path', true),
  'apikey', current_setting('request.headers', true)::jsonb ->> 'apikey',
  'statement_timeout', current_setting('statement_timeout'),
  'search_path', current_setting('search_path')
) $$;
grant execute on function public.whoami() to anon, authenticated, service_role;
