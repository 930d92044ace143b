-- Storage: homework files and avatars, one folder per user.
--
-- Object names start with the owner's user id: `<uid>/...`. Policies compare the first folder
-- with the requester, as Supabase's storage guide does, and every write policy has WITH CHECK
-- so an upload or rename cannot land in someone else's folder.
--
--   submissions  private  <student id>/<assignment id>/<file>; only the owner reads and writes
--   avatars      public   <user id>/<file>; everyone (anon too) reads, the owner writes

insert into storage.buckets (id, name, public, file_size_limit, allowed_mime_types)
values
  ('submissions', 'submissions', false, 10485760,
   array['application/pdf', 'text/plain', 'image/png', 'image/jpeg',
         'application/vnd.openxmlformats-officedocument.wordprocessingml.document']),
  ('avatars', 'avatars', true, 1048576, array['image/png', 'image/jpeg', 'image/webp'])
on conflict (id) do nothing;

-- submissions (private bucket) ----------------------------------------------------------------
create policy submissions_objects_select_own on storage.objects
  for select to authenticated
  using (
    bucket_id = 'submissions'
    and (storage.foldername(name))[1] = (select auth.uid())::text
  );

create policy submissions_objects_insert_own on storage.objects
  for insert to authenticated
  with check (
    bucket_id = 'submissions'
    and (storage.foldername(name))[1] = (select auth.uid())::text
  );

-- No UPDATE policy on purpose: a handed-in file is replaced by delete + insert, never edited.
-- An UPDATE policy here would also let a student move homework into the public avatars bucket:
-- Postgres ORs the WITH CHECK of every permissive UPDATE policy, so the avatars policy would
-- accept the moved row (rlsguard's matrix found exactly that).

create policy submissions_objects_delete_own on storage.objects
  for delete to authenticated
  using (
    bucket_id = 'submissions'
    and (storage.foldername(name))[1] = (select auth.uid())::text
  );

-- avatars (public bucket) ---------------------------------------------------------------------
create policy avatars_objects_select on storage.objects
  for select to anon, authenticated
  using (bucket_id = 'avatars');

create policy avatars_objects_insert_own on storage.objects
  for insert to authenticated
  with check (
    bucket_id = 'avatars'
    and (storage.foldername(name))[1] = (select auth.uid())::text
  );

create policy avatars_objects_update_own on storage.objects
  for update to authenticated
  using (
    bucket_id = 'avatars'
    and (storage.foldername(name))[1] = (select auth.uid())::text
  )
  with check (
    bucket_id = 'avatars'
    and (storage.foldername(name))[1] = (select auth.uid())::text
  );

create policy avatars_objects_delete_own on storage.objects
  for delete to authenticated
  using (
    bucket_id = 'avatars'
    and (storage.foldername(name))[1] = (select auth.uid())::text
  );
