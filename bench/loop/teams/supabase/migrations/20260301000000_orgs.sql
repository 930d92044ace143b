create schema private;

create table public.orgs (
  id bigint primary key,
  name text not null
);

create table public.memberships (
  org_id bigint not null references public.orgs (id) on delete cascade,
  user_id uuid not null references auth.users (id) on delete cascade,
  role text not null check (role in ('member', 'admin')),
  primary key (org_id, user_id)
);

-- The trusted membership lookup the policies share (bypasses RLS on memberships).
create function private.my_orgs(want_admin boolean default false) returns setof bigint
language sql stable security definer set search_path = ''
as $$ select org_id from public.memberships
      where user_id = (select auth.uid()) and (not want_admin or role = 'admin') $$;
grant usage on schema private to authenticated;
grant execute on function private.my_orgs(boolean) to authenticated;

alter table public.orgs enable row level security;
alter table public.memberships enable row level security;
grant select, update, delete on public.orgs to authenticated;
grant select, update, delete on public.memberships to authenticated;

create policy "members read their orgs" on public.orgs for select to authenticated
  using (id in (select private.my_orgs()));
create policy "admins rename their orgs" on public.orgs for update to authenticated
  using (id in (select private.my_orgs(true)));
create policy "members see their colleagues" on public.memberships for select to authenticated
  using (org_id in (select private.my_orgs()));
create policy "admins remove members" on public.memberships for delete to authenticated
  using (org_id in (select private.my_orgs(true)));
