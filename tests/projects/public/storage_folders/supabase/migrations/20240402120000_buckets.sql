-- Buckets created in a migration and per-user folders: the first path segment is the user id.
insert into storage.buckets (id, name, public, file_size_limit, allowed_mime_types)
values
  ('avatars', 'avatars', true, 5242880, array['image/png', 'image/jpeg']),
  ('documents', 'documents', false, null, null)
on conflict (id) do nothing;

create policy "avatar images are public" on storage.objects
  for select using (bucket_id = 'avatars');

create policy "users upload their own avatar" on storage.objects
  for insert to authenticated
  with check (
    bucket_id = 'avatars'
    and (storage.foldername(name))[1] = (select auth.uid())::text
    and storage.extension(name) in ('png', 'jpg')
  );

create policy "users manage their own documents" on storage.objects
  for all to authenticated
  using (bucket_id = 'documents' and (storage.foldername(name))[1] = (select auth.uid()::text))
  with check (bucket_id = 'documents' and (storage.foldername(name))[1] = (select auth.uid()::text));

drop policy if exists "users upload their own avatar" on storage.objects;
create policy "users upload their own avatar" on storage.objects
  for insert to authenticated
  with check (
    bucket_id = 'avatars'
    and (storage.foldername(name))[1] = (select auth.uid())::text
    and lower(storage.extension(name)) in ('png', 'jpg')
  );

create table public.profiles (
  id uuid primary key references auth.users (id) on delete cascade,
  avatar_path text
);
alter table public.profiles enable row level security;
create policy "profiles are public" on public.profiles for select using (true);
create policy "users edit their profile" on public.profiles
  for update to authenticated using ((select auth.uid()) = id);
