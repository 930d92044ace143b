-- Classroom: teacher and student records, classes, enrollments, assignments, submissions, grades.
--
-- Rules in one breath (docs/reference-platform.md has the per-persona table):
--   * admins manage everything of their own school;
--   * teachers manage the classes they teach and what hangs off them (enrollments, assignments,
--     grades) and read their students' work;
--   * students read their own classes, the published assignments of those classes, their own
--     submissions and grades, and write only their own submissions.
-- Cross-table checks go through SECURITY DEFINER helpers (search_path '', qualified names) that
-- read the trusted membership, so no policy depends on another table's policies and nothing a
-- user can write decides what they may do.

-- ---------------------------------------------------------------------------------------------
-- Tables
-- ---------------------------------------------------------------------------------------------
create table public.teachers (
  id uuid primary key references public.users (id) on delete cascade,
  school_id uuid not null references public.schools (id) on delete cascade,
  department text,
  office_hours text,
  bio text check (length(bio) <= 2000)
);
create index teachers_school_idx on public.teachers (school_id);
comment on table public.teachers is 'Teacher records (staff directory), maintained by admins.';

create table public.students (
  id uuid primary key references public.users (id) on delete cascade,
  school_id uuid not null references public.schools (id) on delete cascade,
  grade_level smallint check (grade_level between 1 and 12),
  homeroom_teacher_id uuid references public.teachers (id) on delete set null,
  date_of_birth date,
  guardian_email text
);
create index students_school_idx on public.students (school_id);
create index students_homeroom_idx on public.students (homeroom_teacher_id);
comment on table public.students is
  'Student records with personal data (birth date, guardian contact); maintained by admins.';

create table public.classes (
  id uuid primary key default gen_random_uuid(),
  school_id uuid not null references public.schools (id) on delete cascade,
  -- NULL while unassigned: removing a teacher record leaves their classes to be reassigned.
  teacher_id uuid references public.teachers (id) on delete set null,
  name text not null check (length(name) between 1 and 200),
  subject text,
  room text,
  created_at timestamptz not null default now()
);
create index classes_school_idx on public.classes (school_id);
create index classes_teacher_idx on public.classes (teacher_id);

create table public.enrollments (
  id uuid primary key default gen_random_uuid(),
  class_id uuid not null references public.classes (id) on delete cascade,
  student_id uuid not null references public.students (id) on delete cascade,
  enrolled_at timestamptz not null default now(),
  unique (class_id, student_id)
);
create index enrollments_student_idx on public.enrollments (student_id);

create table public.assignments (
  id uuid primary key default gen_random_uuid(),
  class_id uuid not null references public.classes (id) on delete cascade,
  title text not null check (length(title) between 1 and 200),
  instructions text,
  due_at timestamptz,
  -- Drafts are visible to staff only.
  published boolean not null default false,
  created_at timestamptz not null default now()
);
create index assignments_class_idx on public.assignments (class_id);

create table public.submissions (
  id uuid primary key default gen_random_uuid(),
  assignment_id uuid not null references public.assignments (id) on delete cascade,
  student_id uuid not null references public.students (id) on delete cascade,
  body text,
  -- Object name in the `submissions` storage bucket: <student id>/<assignment id>/<file>.
  attachment_path text,
  submitted_at timestamptz not null default now(),
  unique (assignment_id, student_id)
);
create index submissions_student_idx on public.submissions (student_id);

create table public.grades (
  id uuid primary key default gen_random_uuid(),
  submission_id uuid not null unique references public.submissions (id) on delete cascade,
  grader_id uuid references public.users (id) on delete set null,
  score numeric(5, 2) not null check (score between 0 and 100),
  feedback text,
  graded_at timestamptz not null default now()
);

-- ---------------------------------------------------------------------------------------------
-- Trusted helpers: the row sets a requester has rights over, computed once per statement
-- (`col in (select private.fn())` is an uncorrelated subplan).
-- ---------------------------------------------------------------------------------------------

-- Classes the requester manages: every class of their school for an admin, the classes they
-- teach for a teacher.
create function private.staff_class_ids()
returns setof uuid
language sql stable security definer
set search_path = ''
as $$
  select c.id
  from public.classes c
  join private.memberships m on m.user_id = (select auth.uid()) and m.school_id = c.school_id
  where m.role = 'admin' or (m.role = 'teacher' and c.teacher_id = m.user_id)
$$;

-- Classes the requester is enrolled in (as a student of the class's school).
create function private.enrolled_class_ids()
returns setof uuid
language sql stable security definer
set search_path = ''
as $$
  select e.class_id
  from public.enrollments e
  join public.classes c on c.id = e.class_id
  join private.memberships m on m.user_id = e.student_id and m.school_id = c.school_id
  where e.student_id = (select auth.uid()) and m.role = 'student'
$$;

-- Students enrolled in a class the requester teaches.
create function private.taught_student_ids()
returns setof uuid
language sql stable security definer
set search_path = ''
as $$
  select e.student_id
  from public.enrollments e
  join public.classes c on c.id = e.class_id
  where c.teacher_id = (select auth.uid())
$$;

-- Assignments in classes the requester manages.
create function private.staff_assignment_ids()
returns setof uuid
language sql stable security definer
set search_path = ''
as $$
  select a.id from public.assignments a
  where a.class_id in (select private.staff_class_ids())
$$;

-- Published assignments of the classes the requester is enrolled in: what they may see and
-- submit work for.
create function private.open_assignment_ids()
returns setof uuid
language sql stable security definer
set search_path = ''
as $$
  select a.id from public.assignments a
  where a.published and a.class_id in (select private.enrolled_class_ids())
$$;

-- Submissions to assignments of classes the requester manages.
create function private.staff_submission_ids()
returns setof uuid
language sql stable security definer
set search_path = ''
as $$
  select s.id from public.submissions s
  where s.assignment_id in (select private.staff_assignment_ids())
$$;

-- The requester's own submissions.
create function private.own_submission_ids()
returns setof uuid
language sql stable security definer
set search_path = ''
as $$
  select s.id from public.submissions s where s.student_id = (select auth.uid())
$$;

revoke all on function
  private.staff_class_ids(), private.enrolled_class_ids(), private.taught_student_ids(),
  private.staff_assignment_ids(), private.open_assignment_ids(),
  private.staff_submission_ids(), private.own_submission_ids()
  from public, anon, service_role;
grant execute on function
  private.staff_class_ids(), private.enrolled_class_ids(), private.taught_student_ids(),
  private.staff_assignment_ids(), private.open_assignment_ids(),
  private.staff_submission_ids(), private.own_submission_ids()
  to authenticated;

-- ---------------------------------------------------------------------------------------------
-- RLS: teachers
-- ---------------------------------------------------------------------------------------------
alter table public.teachers enable row level security;

-- The staff directory: every member of the school sees its teachers.
create policy teachers_select_school on public.teachers
  for select to authenticated
  using (school_id = (select private.school_id()));

create policy teachers_insert_admin on public.teachers
  for insert to authenticated
  with check (
    school_id = (select private.school_id())
    and (select private.is_admin())
    and id in (select private.school_member_ids(array['teacher']))
  );

-- A teacher edits their own record (bio, office hours) and stays in their school.
create policy teachers_update_self on public.teachers
  for update to authenticated
  using (id = (select auth.uid()))
  with check (id = (select auth.uid()) and school_id = (select private.school_id()));

create policy teachers_update_admin on public.teachers
  for update to authenticated
  using (school_id = (select private.school_id()) and (select private.is_admin()))
  with check (
    school_id = (select private.school_id())
    and (select private.is_admin())
    and id in (select private.school_member_ids(array['teacher']))
  );

create policy teachers_delete_admin on public.teachers
  for delete to authenticated
  using (school_id = (select private.school_id()) and (select private.is_admin()));

-- ---------------------------------------------------------------------------------------------
-- RLS: students
-- ---------------------------------------------------------------------------------------------
alter table public.students enable row level security;

create policy students_select_self on public.students
  for select to authenticated
  using (id = (select auth.uid()));

-- Teachers see the students they teach and their homeroom; admins see the whole school.
create policy students_select_staff on public.students
  for select to authenticated
  using (
    school_id = (select private.school_id())
    and (
      (select private.is_admin())
      or (
        (select private.app_role()) = 'teacher'
        and (homeroom_teacher_id = (select auth.uid())
             or id in (select private.taught_student_ids()))
      )
    )
  );

-- Student records (including the homeroom teacher link) are maintained by admins only.
create policy students_insert_admin on public.students
  for insert to authenticated
  with check (
    school_id = (select private.school_id())
    and (select private.is_admin())
    and id in (select private.school_member_ids(array['student']))
    and (homeroom_teacher_id is null
         or homeroom_teacher_id in (select private.school_member_ids(array['teacher'])))
  );

create policy students_update_admin on public.students
  for update to authenticated
  using (school_id = (select private.school_id()) and (select private.is_admin()))
  with check (
    school_id = (select private.school_id())
    and (select private.is_admin())
    and id in (select private.school_member_ids(array['student']))
    and (homeroom_teacher_id is null
         or homeroom_teacher_id in (select private.school_member_ids(array['teacher'])))
  );

create policy students_delete_admin on public.students
  for delete to authenticated
  using (school_id = (select private.school_id()) and (select private.is_admin()));

-- ---------------------------------------------------------------------------------------------
-- RLS: classes
-- ---------------------------------------------------------------------------------------------
alter table public.classes enable row level security;

-- Staff see the timetable of their school; students see the classes they are enrolled in.
create policy classes_select on public.classes
  for select to authenticated
  using (
    (school_id = (select private.school_id()) and (select private.is_staff()))
    or id in (select private.enrolled_class_ids())
  );

-- A teacher creates classes they teach; an admin creates classes for any teacher of the school.
create policy classes_insert_staff on public.classes
  for insert to authenticated
  with check (
    school_id = (select private.school_id())
    and (
      ((select private.app_role()) = 'teacher' and teacher_id = (select auth.uid()))
      or ((select private.is_admin())
          and (teacher_id is null
               or teacher_id in (select private.school_member_ids(array['teacher']))))
    )
  );

-- A teacher edits the classes they teach but cannot hand them to someone else or move them to
-- another school; an admin may reassign within the school.
create policy classes_update_staff on public.classes
  for update to authenticated
  using (id in (select private.staff_class_ids()))
  with check (
    school_id = (select private.school_id())
    and (
      ((select private.app_role()) = 'teacher' and teacher_id = (select auth.uid()))
      or ((select private.is_admin())
          and (teacher_id is null
               or teacher_id in (select private.school_member_ids(array['teacher']))))
    )
  );

create policy classes_delete_admin on public.classes
  for delete to authenticated
  using (school_id = (select private.school_id()) and (select private.is_admin()));

-- ---------------------------------------------------------------------------------------------
-- RLS: enrollments
-- ---------------------------------------------------------------------------------------------
alter table public.enrollments enable row level security;

create policy enrollments_select on public.enrollments
  for select to authenticated
  using (
    student_id = (select auth.uid())
    or class_id in (select private.staff_class_ids())
  );

-- Staff enroll students of their own school into classes they manage.
create policy enrollments_insert_staff on public.enrollments
  for insert to authenticated
  with check (
    class_id in (select private.staff_class_ids())
    and student_id in (select private.school_member_ids(array['student']))
  );

create policy enrollments_update_staff on public.enrollments
  for update to authenticated
  using (class_id in (select private.staff_class_ids()))
  with check (
    class_id in (select private.staff_class_ids())
    and student_id in (select private.school_member_ids(array['student']))
  );

create policy enrollments_delete_staff on public.enrollments
  for delete to authenticated
  using (class_id in (select private.staff_class_ids()));

-- ---------------------------------------------------------------------------------------------
-- RLS: assignments
-- ---------------------------------------------------------------------------------------------
alter table public.assignments enable row level security;

create policy assignments_select on public.assignments
  for select to authenticated
  using (
    class_id in (select private.staff_class_ids())
    or id in (select private.open_assignment_ids())
  );

create policy assignments_insert_staff on public.assignments
  for insert to authenticated
  with check (class_id in (select private.staff_class_ids()));

create policy assignments_update_staff on public.assignments
  for update to authenticated
  using (class_id in (select private.staff_class_ids()))
  with check (class_id in (select private.staff_class_ids()));

create policy assignments_delete_staff on public.assignments
  for delete to authenticated
  using (class_id in (select private.staff_class_ids()));

-- ---------------------------------------------------------------------------------------------
-- RLS: submissions (student work: written by its student only, read by the class's staff)
-- ---------------------------------------------------------------------------------------------
alter table public.submissions enable row level security;

create policy submissions_select on public.submissions
  for select to authenticated
  using (
    student_id = (select auth.uid())
    or assignment_id in (select private.staff_assignment_ids())
  );

create policy submissions_insert_own on public.submissions
  for insert to authenticated
  with check (
    student_id = (select auth.uid())
    and assignment_id in (select private.open_assignment_ids())
  );

create policy submissions_update_own on public.submissions
  for update to authenticated
  using (student_id = (select auth.uid()))
  with check (
    student_id = (select auth.uid())
    and assignment_id in (select private.open_assignment_ids())
  );

create policy submissions_delete_own on public.submissions
  for delete to authenticated
  using (student_id = (select auth.uid()));

-- ---------------------------------------------------------------------------------------------
-- RLS: grades (written by the class's staff; read by them and by the graded student)
-- ---------------------------------------------------------------------------------------------
alter table public.grades enable row level security;

create policy grades_select on public.grades
  for select to authenticated
  using (
    submission_id in (select private.own_submission_ids())
    or submission_id in (select private.staff_submission_ids())
  );

create policy grades_insert_staff on public.grades
  for insert to authenticated
  with check (
    grader_id = (select auth.uid())
    and submission_id in (select private.staff_submission_ids())
  );

-- Regrading keeps the grade attributed to a member of the school's staff.
create policy grades_update_staff on public.grades
  for update to authenticated
  using (submission_id in (select private.staff_submission_ids()))
  with check (
    grader_id in (select private.school_member_ids(array['teacher', 'admin']))
    and submission_id in (select private.staff_submission_ids())
  );

create policy grades_delete_staff on public.grades
  for delete to authenticated
  using (submission_id in (select private.staff_submission_ids()));

-- ---------------------------------------------------------------------------------------------
-- Grants: the API roles reach these tables only through RLS; anon not at all.
-- ---------------------------------------------------------------------------------------------
revoke all on
  public.teachers, public.students, public.classes, public.enrollments,
  public.assignments, public.submissions, public.grades
  from anon, authenticated, service_role;
grant select, insert, update, delete on
  public.teachers, public.students, public.classes, public.enrollments,
  public.assignments, public.submissions, public.grades
  to authenticated, service_role;
