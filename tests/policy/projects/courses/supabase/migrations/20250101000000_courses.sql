-- Courses owned by a teacher, enrolments, and a trusted membership table in `private`.
create schema private;
revoke all on schema private from public;
grant usage on schema private to authenticated;

create table private.members (
  user_id uuid primary key,
  org_id uuid not null,
  role text not null check (role in ('student', 'teacher'))
);

create function private.org_id() returns uuid
language sql stable security definer set search_path = ''
as $$ select m.org_id from private.members m where m.user_id = (select auth.uid()) $$;
revoke execute on function private.org_id() from public;
grant execute on function private.org_id() to authenticated;

create table public.courses (
  id bigint generated always as identity primary key,
  org_id uuid not null,
  owner_id uuid not null,
  title text not null,
  secret_notes text,
  published boolean not null default false
);
alter table public.courses enable row level security;
grant select, insert, update, delete on public.courses to authenticated;
grant select (id, title, published) on public.courses to anon;

create policy courses_read on public.courses
  for select to authenticated
  using (org_id = (select private.org_id()) and (published or owner_id = (select auth.uid())));
create policy courses_write on public.courses
  for update to authenticated
  using (owner_id = (select auth.uid()))
  with check (owner_id = (select auth.uid()) and org_id = (select private.org_id()));
create policy courses_public on public.courses
  for select to anon
  using (published);

create table public.enrolments (
  course_id bigint not null references public.courses (id) on delete cascade,
  student_id uuid not null,
  primary key (course_id, student_id)
);
alter table public.enrolments enable row level security;
grant select on public.enrolments to authenticated;
create policy enrolments_own on public.enrolments
  for select to authenticated
  using (student_id = (select auth.uid()));

create view public.course_titles with (security_invoker = true) as
  select c.id, c.title from public.courses c where c.published;
grant select on public.course_titles to anon, authenticated;
