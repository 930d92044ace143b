create table public.teams (
  id uuid primary key default gen_random_uuid(),
  name text not null,
  created_at timestamptz not null default now()
);

create table public.memberships (
  team_id uuid not null references public.teams (id) on delete cascade,
  user_id uuid not null references auth.users (id) on delete cascade,
  role text not null default 'member' check (role in ('owner', 'member')),
  primary key (team_id, user_id)
);

create table public.todos (
  id bigint generated always as identity primary key,
  team_id uuid not null references public.teams (id) on delete cascade,
  title text not null,
  done boolean not null default false,
  created_by uuid not null default auth.uid() references auth.users (id),
  locked_at timestamptz
);

alter table public.teams enable row level security;
alter table public.memberships enable row level security;
alter table public.todos enable row level security;

create function public.is_member(team uuid) returns boolean
language sql stable security definer set search_path = ''
as $$
  select exists (
    select 1 from public.memberships m
    where m.team_id = team and m.user_id = (select auth.uid())
  )
$$;

create function public.is_owner(team uuid) returns boolean
language sql stable security definer set search_path = ''
as $$
  select exists (
    select 1 from public.memberships m
    where m.team_id = team and m.user_id = (select auth.uid()) and m.role = 'owner'
  )
$$;

grant select, insert, update, delete on public.teams, public.memberships, public.todos
  to authenticated;
grant select on public.teams to anon;
grant all on public.teams, public.memberships, public.todos to service_role;
grant execute on function public.is_member(uuid), public.is_owner(uuid) to authenticated;

create policy "members read teams" on public.teams
  for select to authenticated using (public.is_member(id));

create policy "members read memberships" on public.memberships
  for select to authenticated using (public.is_member(team_id));

create policy "owners add members" on public.memberships
  for insert to authenticated with check (public.is_owner(team_id));

create policy "members read todos" on public.todos
  for select to authenticated using (public.is_member(team_id));

create policy "members add todos" on public.todos
  for insert to authenticated
  with check (public.is_member(team_id) and created_by = (select auth.uid()));

create policy "members edit open todos" on public.todos
  for update to authenticated
  using (public.is_member(team_id) and (locked_at is null or locked_at > now()))
  with check (public.is_member(team_id));

create policy "owners delete todos" on public.todos
  for delete to authenticated using (public.is_owner(team_id));
