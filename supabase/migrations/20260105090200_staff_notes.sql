-- Confidential notes about students (safeguarding, discipline, counselling).
--
-- The most sensitive table of the platform: only the admins of the student's school and the
-- service role (the backend) may touch it. Teachers and students get nothing, not even through
-- a join, and anon has no privilege at all.

create table public.staff_notes (
  id uuid primary key default gen_random_uuid(),
  school_id uuid not null references public.schools (id) on delete cascade,
  student_id uuid not null references public.students (id) on delete cascade,
  author_id uuid references public.users (id) on delete set null,
  category text not null default 'general'
    check (category in ('general', 'safeguarding', 'discipline', 'counselling')),
  body text not null,
  created_at timestamptz not null default now()
);
create index staff_notes_school_idx on public.staff_notes (school_id);
create index staff_notes_student_idx on public.staff_notes (student_id);
comment on table public.staff_notes is
  'Confidential notes about students: school admins and the service role only.';

alter table public.staff_notes enable row level security;

create policy staff_notes_select_admin on public.staff_notes
  for select to authenticated
  using (school_id = (select private.school_id()) and (select private.is_admin()));

-- An admin writes notes in their own name about students of their own school.
create policy staff_notes_insert_admin on public.staff_notes
  for insert to authenticated
  with check (
    school_id = (select private.school_id())
    and (select private.is_admin())
    and author_id = (select auth.uid())
    and student_id in (select private.school_member_ids(array['student']))
  );

create policy staff_notes_update_admin on public.staff_notes
  for update to authenticated
  using (school_id = (select private.school_id()) and (select private.is_admin()))
  with check (
    school_id = (select private.school_id())
    and (select private.is_admin())
    and student_id in (select private.school_member_ids(array['student']))
  );

create policy staff_notes_delete_admin on public.staff_notes
  for delete to authenticated
  using (school_id = (select private.school_id()) and (select private.is_admin()));

revoke all on public.staff_notes from anon, authenticated, service_role;
grant select, insert, delete on public.staff_notes to authenticated;
-- Only the note itself may change: a note stays in its school and with its author.
grant update (category, body, student_id) on public.staff_notes to authenticated;
grant select, insert, update, delete on public.staff_notes to service_role;
