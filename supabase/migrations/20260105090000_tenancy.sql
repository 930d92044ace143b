-- Tenancy: schools, user profiles, and the trusted membership table every policy relies on.
--
-- Trust model (docs/reference-platform.md has the full access rules):
--   * Who a requester is comes from the JWT: (select auth.uid()).
--   * Which school they belong to and whether they are a student, teacher or admin comes ONLY
--     from private.memberships, read by the SECURITY DEFINER functions below. That table lives
--     in the schema `private`, which the Data API does not expose ([api] schemas in
--     config.toml) and on which the API roles hold no table privilege, so no user can write it.
--   * public.users.role and public.users.school_id are display copies of the membership,
--     kept in sync by a trigger. Users can read them and may update their own profile, so no
--     policy ever trusts the requester's profile row; write policies only check that the copy
--     still equals the trusted value.
--   * raw_user_meta_data (signup `options.data`, user-editable) is used for the display name
--     only; a "role" or "school_id" a user puts there is ignored.
--
-- Grants are explicit and preceded by `revoke all`, so the project behaves the same whether
-- new tables are auto-exposed to the API roles (legacy) or not (the 2026 default, which
-- config.toml selects with [api] auto_expose_new_tables = false).

create schema if not exists private;
comment on schema private is
  'Trusted membership data and SECURITY DEFINER helpers for policies; not exposed by the Data API.';
revoke all on schema private from public;
-- Policies run as the requester, so the API roles must be able to call the helpers. They get no
-- privilege on the tables here.
grant usage on schema private to authenticated, service_role;

-- ---------------------------------------------------------------------------------------------
-- Schools (tenants)
-- ---------------------------------------------------------------------------------------------
create table public.schools (
  id uuid primary key default gen_random_uuid(),
  name text not null check (length(name) between 1 and 200),
  slug text not null unique check (slug ~ '^[a-z0-9-]+$'),
  city text,
  -- Listed schools appear in the public directory (anon may read them).
  listed boolean not null default false,
  created_at timestamptz not null default now()
);
comment on table public.schools is 'Tenants. Listed schools form the public directory.';

-- ---------------------------------------------------------------------------------------------
-- Trusted memberships and invitations (private)
-- ---------------------------------------------------------------------------------------------
create table private.memberships (
  user_id uuid primary key references auth.users (id) on delete cascade,
  school_id uuid not null references public.schools (id) on delete cascade,
  role text not null check (role in ('student', 'teacher', 'admin')),
  created_at timestamptz not null default now()
);
create index memberships_school_role_idx on private.memberships (school_id, role);
comment on table private.memberships is
  'The only source of a user''s school and role that policies trust. Written by the backend '
  '(service role) and by the signup trigger, never by users.';

create table private.invitations (
  email text primary key check (email = lower(email)),
  school_id uuid not null references public.schools (id) on delete cascade,
  role text not null check (role in ('student', 'teacher', 'admin')),
  invited_at timestamptz not null default now(),
  accepted_at timestamptz
);
comment on table private.invitations is
  'Schools invite people by email; the signup trigger turns an invitation into a membership.';

revoke all on private.memberships, private.invitations from public, anon, authenticated;
grant select, insert, update, delete on private.memberships, private.invitations to service_role;

-- ---------------------------------------------------------------------------------------------
-- Profiles: the app's `users` table (the runbook's name; Supabase's guides call it `profiles`)
-- ---------------------------------------------------------------------------------------------
create table public.users (
  id uuid primary key references auth.users (id) on delete cascade,
  email text,
  full_name text check (length(full_name) <= 200),
  avatar_url text,
  -- Display copies of private.memberships (NULL until the user has a membership).
  school_id uuid references public.schools (id) on delete set null,
  role text check (role in ('student', 'teacher', 'admin')),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index users_school_idx on public.users (school_id);
comment on table public.users is
  'One profile per auth user. role and school_id mirror private.memberships for display; '
  'policies never trust them.';
comment on column public.users.role is
  'Display copy of the trusted membership role. User-visible: never use it in a policy.';

-- ---------------------------------------------------------------------------------------------
-- Trusted helpers. SECURITY DEFINER (owned by postgres, which bypasses RLS), search_path
-- pinned to '' and every name schema-qualified, so a caller cannot shadow anything.
-- Policies call them as `(select private.fn())` so they run once per statement.
-- ---------------------------------------------------------------------------------------------
create function private.school_id()
returns uuid
language sql stable security definer
set search_path = ''
as $$
  select m.school_id from private.memberships m where m.user_id = (select auth.uid())
$$;
comment on function private.school_id() is 'The requester''s school, from the trusted membership.';

create function private.app_role()
returns text
language sql stable security definer
set search_path = ''
as $$
  select m.role from private.memberships m where m.user_id = (select auth.uid())
$$;
comment on function private.app_role() is
  'The requester''s role (student/teacher/admin), from the trusted membership.';

create function private.is_admin()
returns boolean
language sql stable security definer
set search_path = ''
as $$
  select coalesce(
    (select m.role = 'admin' from private.memberships m where m.user_id = (select auth.uid())),
    false)
$$;

create function private.is_staff()
returns boolean
language sql stable security definer
set search_path = ''
as $$
  select coalesce(
    (select m.role in ('teacher', 'admin')
       from private.memberships m where m.user_id = (select auth.uid())),
    false)
$$;

create function private.member_role(p_user_id uuid)
returns text
language sql stable security definer
set search_path = ''
as $$
  -- Only within the caller's own school: roles of other schools are nobody's business.
  select m.role
  from private.memberships m
  join private.memberships me on me.user_id = (select auth.uid()) and me.school_id = m.school_id
  where m.user_id = p_user_id
$$;
comment on function private.member_role(uuid) is
  'The trusted role of a user of the caller''s school (keeps users.role equal to it on admin edits).';

-- Members of the requester's own school, by trusted role.
create function private.school_member_ids(p_roles text[])
returns setof uuid
language sql stable security definer
set search_path = ''
as $$
  select m.user_id
  from private.memberships m
  join private.memberships me on me.user_id = (select auth.uid()) and me.school_id = m.school_id
  where m.role = any (p_roles)
$$;
comment on function private.school_member_ids(text[]) is
  'User ids with one of the given trusted roles in the requester''s school.';

-- ---------------------------------------------------------------------------------------------
-- Keeping the display copies in sync, and creating profiles on signup
-- ---------------------------------------------------------------------------------------------
create function private.sync_profile_membership()
returns trigger
language plpgsql security definer
set search_path = ''
as $$
begin
  if tg_op = 'DELETE' then
    update public.users set school_id = null, role = null, updated_at = now()
    where id = old.user_id;
    return old;
  end if;
  update public.users set school_id = new.school_id, role = new.role, updated_at = now()
  where id = new.user_id;
  return new;
end;
$$;

create trigger sync_profile_membership
  after insert or update or delete on private.memberships
  for each row execute function private.sync_profile_membership();

-- Supabase's documented pattern (guides/auth/managing-user-data): AFTER INSERT on auth.users,
-- SECURITY DEFINER because GoTrue inserts as supabase_auth_admin with search_path=auth.
-- If this function raises, signup fails with "Database error saving new user".
create function private.handle_new_user()
returns trigger
language plpgsql security definer
set search_path = ''
as $$
begin
  insert into public.users (id, email, full_name, avatar_url)
  values (
    new.id,
    new.email,
    new.raw_user_meta_data ->> 'full_name',
    new.raw_user_meta_data ->> 'avatar_url'
  );
  -- School and role come from a pending invitation, never from raw_user_meta_data.
  insert into private.memberships (user_id, school_id, role)
  select new.id, i.school_id, i.role
  from private.invitations i
  where i.email = lower(new.email) and i.accepted_at is null;
  update private.invitations set accepted_at = now()
  where email = lower(new.email) and accepted_at is null;
  return new;
end;
$$;

create trigger on_auth_user_created
  after insert on auth.users
  for each row execute function private.handle_new_user();

-- Keep email in the profile current when the user changes it through Auth.
create function private.handle_user_email_change()
returns trigger
language plpgsql security definer
set search_path = ''
as $$
begin
  update public.users set email = new.email, updated_at = now() where id = new.id;
  return new;
end;
$$;

create trigger on_auth_user_email_changed
  after update of email on auth.users
  for each row when (old.email is distinct from new.email)
  execute function private.handle_user_email_change();

revoke all on all functions in schema private from public, anon, authenticated, service_role;
grant execute on function
  private.school_id(), private.app_role(), private.is_admin(), private.is_staff(),
  private.member_role(uuid), private.school_member_ids(text[])
  to authenticated;

-- ---------------------------------------------------------------------------------------------
-- RLS: schools
-- ---------------------------------------------------------------------------------------------
alter table public.schools enable row level security;

create policy schools_select_directory on public.schools
  for select to anon, authenticated
  using (listed);

create policy schools_select_own on public.schools
  for select to authenticated
  using (id = (select private.school_id()));

create policy schools_update_admin on public.schools
  for update to authenticated
  using (id = (select private.school_id()) and (select private.is_admin()))
  with check (id = (select private.school_id()) and (select private.is_admin()));

-- Schools are created and removed by the backend (service role) only.
revoke all on public.schools from anon, authenticated, service_role;
grant select on public.schools to anon;
grant select, update on public.schools to authenticated;
grant select, insert, update, delete on public.schools to service_role;

-- ---------------------------------------------------------------------------------------------
-- RLS: users (profiles)
-- ---------------------------------------------------------------------------------------------
alter table public.users enable row level security;

create policy users_select_self on public.users
  for select to authenticated
  using (id = (select auth.uid()));

-- Teachers and admins see everyone in their school (class lists, staff directory).
create policy users_select_staff on public.users
  for select to authenticated
  using (school_id = (select private.school_id()) and (select private.is_staff()));

-- Students see the teachers and admins of their school, not other students.
create policy users_select_school_staff on public.users
  for select to authenticated
  using (
    school_id = (select private.school_id())
    and id in (select private.school_member_ids(array['teacher', 'admin']))
  );

-- Anyone may edit their own profile, but the display copies must keep the trusted values:
-- nobody can give themselves another role or move to another school.
create policy users_update_self on public.users
  for update to authenticated
  using (id = (select auth.uid()))
  with check (
    id = (select auth.uid())
    and school_id is not distinct from (select private.school_id())
    and role is not distinct from (select private.app_role())
  );

-- Admins may edit the profiles of their school (names, avatars), not roles or schools.
create policy users_update_admin on public.users
  for update to authenticated
  using (school_id = (select private.school_id()) and (select private.is_admin()))
  with check (
    school_id = (select private.school_id())
    and (select private.is_admin())
    and role is not distinct from private.member_role(id)
  );

-- Profiles are created by the signup trigger and removed with the auth user.
revoke all on public.users from anon, authenticated, service_role;
grant select, update on public.users to authenticated;
grant select, insert, update, delete on public.users to service_role;
