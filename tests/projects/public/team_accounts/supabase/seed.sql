-- Users with real bcrypt passwords (pgcrypto's crypt/gen_salt, as Supabase seeds do).
insert into auth.users (instance_id, id, aud, role, email, encrypted_password, email_confirmed_at,
                        raw_app_meta_data, raw_user_meta_data, created_at, updated_at)
values
  ('00000000-0000-0000-0000-000000000000', 'a1000000-0000-0000-0000-000000000001', 'authenticated',
   'authenticated', 'ada@teams.test', crypt('password123', gen_salt('bf')), now(),
   '{"provider": "email", "providers": ["email"]}', '{"name": "Ada"}', now(), now()),
  ('00000000-0000-0000-0000-000000000000', 'a1000000-0000-0000-0000-000000000002', 'authenticated',
   'authenticated', 'ben@teams.test', crypt('password123', gen_salt('bf')), now(),
   '{"provider": "email", "providers": ["email"]}', '{"name": "Ben"}', now(), now());

-- A team owned by Ada with Ben as a member.
with team as (
  insert into public.accounts (name, slug, primary_owner)
  values ('Acme', 'acme', 'a1000000-0000-0000-0000-000000000001') returning id
)
insert into public.account_members (account_id, user_id, role)
select id, 'a1000000-0000-0000-0000-000000000001'::uuid, 'owner'::public.account_role from team
union all
select id, 'a1000000-0000-0000-0000-000000000002'::uuid, 'member'::public.account_role from team;
