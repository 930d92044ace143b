insert into storage.buckets (id, name, public) values ('avatars', 'avatars', false);

-- Each user owns the folder named after their id: avatars/<uid>/<file>.
create policy "Users read their own folder" on storage.objects
  for select to authenticated
  using (bucket_id = 'avatars' and (storage.foldername(name))[1] = (select auth.uid()::text));

create policy "Users upload into their own folder" on storage.objects
  for insert to authenticated
  with check (bucket_id = 'avatars' and (storage.foldername(name))[1] = (select auth.uid()::text));

create policy "Owners update their objects" on storage.objects
  for update to authenticated
  using (owner_id = (select auth.uid())::text);

create policy "Owners delete their objects" on storage.objects
  for delete to authenticated
  using (owner_id = (select auth.uid())::text and path_tokens[1] = (select auth.uid()::text));

create function public.avatar_file_name(object_name text) returns text
language sql immutable
as $$ select storage.filename(object_name) $$;

create function public.is_image(object_name text) returns boolean
language sql immutable
as $$ select storage.extension(object_name) in ('png', 'jpg', 'jpeg', 'webp') $$;

-- No hidden files, whoever uploads (restrictive: AND-ed with the policies above).
create policy "No dotfiles" on storage.objects
  as restrictive for insert to authenticated
  with check (left(storage.filename(name), 1) <> '.');

create function public.owner_folder(object_name text) returns text
language sql immutable
as $$ select (storage.foldername(object_name))[1] $$;
