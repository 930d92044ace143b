-- Extensions go to "extensions"; their functions are then called without a schema, as most
-- public Supabase projects do: postgres' search_path ("$user", public, extensions) resolves them.
create extension if not exists "uuid-ossp" with schema extensions;
create extension if not exists pgcrypto with schema extensions;

create table public.invites (
  id uuid primary key default uuid_generate_v4(),
  token text not null default encode(gen_random_bytes(16), 'hex'),
  email text not null,
  created_at timestamptz not null default now()
);
alter table public.invites enable row level security;

create function public.new_invite_token() returns text
language sql volatile
as $$ select encode(gen_random_bytes(24), 'base64') $$;
