-- Per-user folders matched with a regular expression built from auth.uid(), in policies
-- written without TO (the dashboard's "own folder" template). For anon auth.uid() is NULL,
-- so the pattern is NULL and no row passes.
insert into storage.buckets (id, name, public) values ('files', 'files', false);

create policy "own folder read" on storage.objects for select
  using (bucket_id = 'files' and mfa.session_is_enough()
         and name ~ ('^' || (select auth.uid())::text || '/'));
create policy "own folder write" on storage.objects for insert
  with check (bucket_id = 'files' and mfa.session_is_enough()
              and name ~ ('^' || (select auth.uid())::text || '/'));
create policy "own folder delete" on storage.objects for delete
  using (bucket_id = 'files' and mfa.session_is_enough()
         and name like (select auth.uid())::text || '/%');

-- A to-do list behind the same gate, as a RESTRICTIVE policy.
create table public.todos (
  id bigint generated always as identity primary key,
  owner uuid not null default auth.uid() references auth.users (id) on delete cascade,
  title text not null,
  done boolean not null default false
);
alter table public.todos enable row level security;
grant select, insert, update, delete on public.todos to authenticated;
create policy "own todos" on public.todos for all to authenticated
  using (owner = (select auth.uid())) with check (owner = (select auth.uid()));
create policy "mfa gate" on public.todos as restrictive for all to authenticated
  using (mfa.session_is_enough());
