-- Column guards: a trigger that refuses changes to columns only the system may set, the
-- pattern starter kits use where column privileges would be too coarse.
create or replace function public.protect_account_fields()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if current_user in ('authenticated', 'anon') then
    if new.primary_owner is distinct from old.primary_owner
       or new.personal is distinct from old.personal then
      raise exception 'primary_owner and personal cannot be changed'
        using errcode = '42501';
    end if;
  end if;
  new.updated_at := now();
  return new;
end;
$$;

create trigger protect_account_fields
  before update on public.accounts
  for each row execute function public.protect_account_fields();

-- Every new user gets a personal account (GoTrue inserts as supabase_auth_admin).
create or replace function public.handle_new_user()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  created uuid;
begin
  insert into public.accounts (name, personal, primary_owner)
  values (coalesce(new.raw_user_meta_data ->> 'name', split_part(new.email, '@', 1)), true, new.id)
  returning id into created;
  insert into public.account_members (account_id, user_id, role) values (created, new.id, 'owner');
  return new;
end;
$$;

create trigger on_auth_user_created
  after insert on auth.users
  for each row execute function public.handle_new_user();
