create table public.notes (id bigint generated always as identity primary key, body text);
alter table public.notes enable row level security;
create policy "anyone reads notes" on public.notes for select using (true);
create function public.note_count() returns bigint language sql stable
as $$ select count(*) from public.notes $$;
