-- Upload pipeline: a file uploaded to storage becomes a document row through a trigger on
-- storage.objects, which splits the path (user-id/file) and calls an edge function with the
-- caller's Authorization header through pg_net. Written for rlsguard's corpus.
create extension if not exists pg_net with schema extensions;
create schema if not exists private;

insert into storage.buckets (id, name) values ('uploads', 'uploads');
create policy "upload into own folder" on storage.objects for insert to authenticated
  with check (bucket_id = 'uploads' and owner = (select auth.uid())
              and (storage.foldername(name))[1] = (select auth.uid())::text);
create policy "read own uploads" on storage.objects for select to authenticated
  using (bucket_id = 'uploads' and owner = (select auth.uid()));

create table public.documents (
  id bigint generated always as identity primary key,
  name text not null,
  storage_object_id uuid not null references storage.objects (id) on delete cascade,
  created_by uuid not null default auth.uid() references auth.users (id),
  created_at timestamptz not null default now()
);
alter table public.documents enable row level security;
grant select on public.documents to authenticated;
-- Documents are made by the trigger only: users read their own.
create policy "read own documents" on public.documents for select to authenticated
  using (created_by = (select auth.uid()));

create function private.on_upload()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  insert into public.documents (name, storage_object_id, created_by)
  values (new.path_tokens[2], new.id, new.owner);
  perform net.http_post(
    url := 'http://functions.invalid/process',
    headers := jsonb_build_object(
      'Authorization', current_setting('request.headers')::json ->> 'authorization'
    ),
    body := jsonb_build_object('object_id', new.id)
  );
  return null;
end;
$$;
create trigger on_upload after insert on storage.objects
  for each row execute function private.on_upload();
