-- An MFA gate: users who verified a factor must present an aal2 session. Kept in its own
-- schema, SECURITY DEFINER to read auth.mfa_factors. Written for rlsguard's corpus.
create schema if not exists mfa;
grant usage on schema mfa to anon, authenticated;

create or replace function mfa.session_is_enough()
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select array[(select auth.jwt() ->> 'aal')] <@ (
    select case when count(f.id) > 0 then array['aal2'] else array['aal1', 'aal2'] end
    from auth.mfa_factors f
    where f.user_id = (select auth.uid()) and f.status = 'verified'
  );
$$;
