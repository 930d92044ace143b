-- Tables in a private schema the API does not expose; clients reach them only through RPC
-- functions in public. Column guards apply to API callers only, so the service role and
-- migrations may still move ownership. Written for rlsguard's corpus.
create schema if not exists app;
grant usage on schema app to authenticated, service_role;

create table app.accounts (
  id uuid primary key default gen_random_uuid(),
  name text not null,
  primary_owner uuid not null references auth.users (id),
  personal boolean not null default false
);
create table app.account_user (
  account_id uuid not null references app.accounts (id) on delete cascade,
  user_id uuid not null references auth.users (id) on delete cascade,
  role text not null check (role in ('owner', 'member')),
  primary key (account_id, user_id)
);
alter table app.accounts enable row level security;
alter table app.account_user enable row level security;
grant select, update on app.accounts to authenticated;
grant select on app.account_user to authenticated;
grant all on app.accounts, app.account_user to service_role;

create function app.has_role(account uuid, wanted text default null)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select exists (
    select 1 from app.account_user au
    where au.account_id = account
      and au.user_id = (select auth.uid())
      and (wanted is null or au.role = wanted)
  );
$$;
revoke execute on function app.has_role(uuid, text) from public, anon;
grant execute on function app.has_role(uuid, text) to authenticated;

create policy "members read their accounts" on app.accounts
  for select to authenticated
  using (primary_owner = (select auth.uid()) or app.has_role(id));
-- No WITH CHECK: the trigger below keeps primary_owner and personal as they were.
create policy "owners edit their accounts" on app.accounts
  for update to authenticated
  using (app.has_role(id, 'owner'));
create policy "members read memberships" on app.account_user
  for select to authenticated
  using (app.has_role(account_id));

CREATE OR REPLACE FUNCTION app.protect_account_fields()
    RETURNS TRIGGER
    SET search_path = ''
AS $$
BEGIN
    IF current_user IN ('authenticated', 'anon') THEN
        IF NEW.primary_owner <> OLD.primary_owner OR NEW.personal <> OLD.personal THEN
            RAISE EXCEPTION 'primary_owner and personal are changed by the service only'
                USING ERRCODE = '42501';
        END IF;
    END IF;
    RETURN NEW;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER protect_account_fields
    BEFORE UPDATE ON app.accounts
    FOR EACH ROW EXECUTE FUNCTION app.protect_account_fields();

-- The API surface: invoker functions, so the policies above still decide.
create function public.get_accounts()
returns table (id uuid, name text, role text)
language sql
stable
security invoker
set search_path = ''
as $$
  select a.id, a.name, au.role
  from app.accounts a
  join app.account_user au on au.account_id = a.id and au.user_id = (select auth.uid());
$$;
create function public.rename_account(account uuid, new_name text)
returns void
language sql
security invoker
set search_path = ''
as $$
  update app.accounts set name = new_name where id = account;
$$;
revoke execute on function public.get_accounts(), public.rename_account(uuid, text)
  from public, anon;
grant execute on function public.get_accounts(), public.rename_account(uuid, text)
  to authenticated;
