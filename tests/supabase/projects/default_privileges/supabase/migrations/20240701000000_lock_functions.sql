-- Hardening many projects apply: new functions are not executable by PUBLIC.
alter default privileges revoke execute on functions from public;
alter default privileges in schema public revoke execute on functions from public;

create function public.is_admin() returns boolean
language sql stable security definer set search_path = ''
as $$ select false $$;
