-- Accounts (personal or team), memberships with a role, and a signup trigger that gives each
-- new user a personal account. Written for rlsguard's corpus.
create type public.account_role as enum ('owner', 'member');

create table public.accounts (
  id uuid primary key default gen_random_uuid(),
  name text not null,
  slug text unique,
  personal boolean not null default false,
  primary_owner uuid not null references auth.users (id) on delete cascade,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create table public.account_members (
  account_id uuid not null references public.accounts (id) on delete cascade,
  user_id uuid not null references auth.users (id) on delete cascade,
  role public.account_role not null default 'member',
  primary key (account_id, user_id)
);

alter table public.accounts enable row level security;
alter table public.account_members enable row level security;

-- Security definer so policies on account_members do not recurse into themselves.
create or replace function public.has_role_on_account(account uuid, wanted public.account_role default null)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select exists (
    select 1 from public.account_members m
    where m.account_id = account
      and m.user_id = auth.uid()
      and (wanted is null or m.role = wanted)
  );
$$;
grant execute on function public.has_role_on_account(uuid, public.account_role) to authenticated;

create policy "members read their accounts" on public.accounts
  for select to authenticated using (public.has_role_on_account(id));
create policy "owners update their accounts" on public.accounts
  for update to authenticated
  using (public.has_role_on_account(id, 'owner'))
  with check (public.has_role_on_account(id, 'owner'));
create policy "members see each other" on public.account_members
  for select to authenticated using (public.has_role_on_account(account_id));

grant select, update on public.accounts to authenticated;
grant select on public.account_members to authenticated;
