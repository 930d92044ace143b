create table public.notes (id int primary key, owner uuid);
alter table public.notes enable row level security;

create policy "own notes" on public.notes
  for select using (owner = auth.uid() and exists (
    select 1 from public.memberships m where m.user_id = auth.uid()
  ));
