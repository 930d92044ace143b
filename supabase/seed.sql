-- Seed of the reference school platform. Runs as postgres after the migrations.
--
-- Small on purpose (tens of rows): rlsguard builds it on every cold start. Ids are fixed and
-- readable: the first digit names the table, the last digits the row.
--   1xxxxxxx schools   2xxxxxxx users   3xxxxxxx classes   4xxxxxxx enrollments
--   5xxxxxxx assignments   6xxxxxxx submissions   7xxxxxxx grades   8xxxxxxx staff notes
--   9xxxxxxx storage objects
-- docs/reference-platform.md lists which persona should see which row.
--
-- Every user's password is "password123".

-- Schools: Northside is in the public directory; Riverside (the "other" school) and Lakeview
-- (no members yet) are not.
insert into public.schools (id, name, slug, city, listed) values
  ('10000000-0000-4000-8000-000000000001', 'Northside High', 'northside', 'Springfield', true),
  ('10000000-0000-4000-8000-000000000002', 'Riverside Academy', 'riverside', 'Shelbyville', false),
  ('10000000-0000-4000-8000-000000000003', 'Lakeview Primary', 'lakeview', 'Ogdenville', false);

-- Invitations decide school and role; the signup trigger turns them into memberships.
insert into private.invitations (email, school_id, role) values
  ('student@school.test',      '10000000-0000-4000-8000-000000000001', 'student'),
  ('student2@school.test',     '10000000-0000-4000-8000-000000000001', 'student'),
  ('student3@school.test',     '10000000-0000-4000-8000-000000000001', 'student'),
  ('teacher@school.test',      '10000000-0000-4000-8000-000000000001', 'teacher'),
  ('teacher2@school.test',     '10000000-0000-4000-8000-000000000001', 'teacher'),
  ('admin@school.test',        '10000000-0000-4000-8000-000000000001', 'admin'),
  ('other-student@other.test', '10000000-0000-4000-8000-000000000002', 'student'),
  ('other-teacher@other.test', '10000000-0000-4000-8000-000000000002', 'teacher'),
  ('other-admin@other.test',   '10000000-0000-4000-8000-000000000002', 'admin'),
  ('teacher3@school.test',     '10000000-0000-4000-8000-000000000001', 'teacher'),
  ('student4@school.test',     '10000000-0000-4000-8000-000000000001', 'student');

-- Users, as GoTrue writes them (token columns '' rather than NULL: GoTrue cannot scan NULL
-- there). student2 signed up with a forged "role": "admin" in user metadata; it is ignored.
insert into auth.users (
  instance_id, id, aud, role, email, encrypted_password, email_confirmed_at,
  raw_app_meta_data, raw_user_meta_data, created_at, updated_at,
  confirmation_token, recovery_token, email_change_token_new, email_change
)
select
  '00000000-0000-0000-0000-000000000000', u.id::uuid, 'authenticated', 'authenticated', u.email,
  '$2a$04$PU3ScNUXKqG4TXhtiP6GeO5fHGJcv0xIqp2oi1RleJY8XR9t1aO/i', now(),
  '{"provider": "email", "providers": ["email"]}'::jsonb, u.meta::jsonb, now(), now(),
  '', '', '', ''
from (values
  ('20000000-0000-4000-8000-000000000001', 'student@school.test',
   '{"full_name": "Ada Lovelace"}'),
  ('20000000-0000-4000-8000-000000000002', 'student2@school.test',
   '{"full_name": "Blaise Pascal", "role": "admin"}'),
  ('20000000-0000-4000-8000-000000000003', 'student3@school.test',
   '{"full_name": "Carl Gauss"}'),
  ('20000000-0000-4000-8000-000000000004', 'teacher@school.test',
   '{"full_name": "Marie Curie"}'),
  ('20000000-0000-4000-8000-000000000005', 'teacher2@school.test',
   '{"full_name": "Alan Turing"}'),
  ('20000000-0000-4000-8000-000000000006', 'admin@school.test',
   '{"full_name": "Grace Hopper"}'),
  ('20000000-0000-4000-8000-000000000007', 'other-student@other.test',
   '{"full_name": "Emmy Noether"}'),
  ('20000000-0000-4000-8000-000000000008', 'other-teacher@other.test',
   '{"full_name": "Katherine Johnson"}'),
  ('20000000-0000-4000-8000-000000000009', 'other-admin@other.test',
   '{"full_name": "Edsger Dijkstra"}'),
  -- Just joined: members of Northside whose teacher/student record an admin has yet to create.
  ('20000000-0000-4000-8000-000000000010', 'teacher3@school.test',
   '{"full_name": "Dorothy Vaughan"}'),
  ('20000000-0000-4000-8000-000000000011', 'student4@school.test',
   '{"full_name": "Srinivasa Ramanujan"}')
) as u (id, email, meta);

insert into auth.identities (
  provider_id, user_id, identity_data, provider, last_sign_in_at, created_at, updated_at
)
select
  u.id::text, u.id,
  jsonb_build_object('sub', u.id::text, 'email', u.email,
                     'email_verified', true, 'phone_verified', false),
  'email', now(), now(), now()
from auth.users u
where u.id::text like '20000000-%';

-- Teacher and student records (admin-maintained; none yet for teacher3 and student4).
insert into public.teachers (id, school_id, department, office_hours, bio) values
  ('20000000-0000-4000-8000-000000000004', '10000000-0000-4000-8000-000000000001',
   'Science', 'Mon 15:00-16:00', 'Physics and chemistry.'),
  ('20000000-0000-4000-8000-000000000005', '10000000-0000-4000-8000-000000000001',
   'Humanities', 'Wed 12:00-13:00', 'History and computing.'),
  ('20000000-0000-4000-8000-000000000008', '10000000-0000-4000-8000-000000000002',
   'Mathematics', 'Thu 14:00-15:00', 'Geometry.');

insert into public.students
  (id, school_id, grade_level, homeroom_teacher_id, date_of_birth, guardian_email) values
  ('20000000-0000-4000-8000-000000000001', '10000000-0000-4000-8000-000000000001', 10,
   '20000000-0000-4000-8000-000000000004', '2010-12-10', 'guardian.lovelace@family.test'),
  ('20000000-0000-4000-8000-000000000002', '10000000-0000-4000-8000-000000000001', 10,
   '20000000-0000-4000-8000-000000000005', '2010-06-19', 'guardian.pascal@family.test'),
  ('20000000-0000-4000-8000-000000000003', '10000000-0000-4000-8000-000000000001', 11,
   '20000000-0000-4000-8000-000000000005', '2009-04-30', 'guardian.gauss@family.test'),
  ('20000000-0000-4000-8000-000000000007', '10000000-0000-4000-8000-000000000002', 9,
   '20000000-0000-4000-8000-000000000008', '2011-03-23', 'guardian.noether@family.test');

-- Classes: teacher teaches 1-2, teacher2 teaches 3-4, Riverside has 5.
insert into public.classes (id, school_id, teacher_id, name, subject, room) values
  ('30000000-0000-4000-8000-000000000001', '10000000-0000-4000-8000-000000000001',
   '20000000-0000-4000-8000-000000000004', 'Algebra I', 'Mathematics', 'A101'),
  ('30000000-0000-4000-8000-000000000002', '10000000-0000-4000-8000-000000000001',
   '20000000-0000-4000-8000-000000000004', 'Biology', 'Science', 'B204'),
  ('30000000-0000-4000-8000-000000000003', '10000000-0000-4000-8000-000000000001',
   '20000000-0000-4000-8000-000000000005', 'World History', 'Humanities', 'C310'),
  ('30000000-0000-4000-8000-000000000004', '10000000-0000-4000-8000-000000000001',
   '20000000-0000-4000-8000-000000000005', 'Chemistry', 'Science', 'B206'),
  ('30000000-0000-4000-8000-000000000005', '10000000-0000-4000-8000-000000000002',
   '20000000-0000-4000-8000-000000000008', 'Geometry', 'Mathematics', 'R12');

-- Enrollments: student takes one class of each Northside teacher, student2 only teacher's,
-- student3 only teacher2's.
insert into public.enrollments (id, class_id, student_id, enrolled_at) values
  ('40000000-0000-4000-8000-000000000001', '30000000-0000-4000-8000-000000000001',
   '20000000-0000-4000-8000-000000000001', '2026-01-12 08:00+00'),
  ('40000000-0000-4000-8000-000000000002', '30000000-0000-4000-8000-000000000003',
   '20000000-0000-4000-8000-000000000001', '2026-01-12 08:00+00'),
  ('40000000-0000-4000-8000-000000000003', '30000000-0000-4000-8000-000000000001',
   '20000000-0000-4000-8000-000000000002', '2026-01-12 08:00+00'),
  ('40000000-0000-4000-8000-000000000004', '30000000-0000-4000-8000-000000000002',
   '20000000-0000-4000-8000-000000000002', '2026-01-12 08:00+00'),
  ('40000000-0000-4000-8000-000000000005', '30000000-0000-4000-8000-000000000003',
   '20000000-0000-4000-8000-000000000003', '2026-01-12 08:00+00'),
  ('40000000-0000-4000-8000-000000000006', '30000000-0000-4000-8000-000000000004',
   '20000000-0000-4000-8000-000000000003', '2026-01-12 08:00+00'),
  ('40000000-0000-4000-8000-000000000007', '30000000-0000-4000-8000-000000000005',
   '20000000-0000-4000-8000-000000000007', '2026-01-12 08:00+00');

-- Assignments: 2 is a draft (staff only).
insert into public.assignments (id, class_id, title, instructions, due_at, published) values
  ('50000000-0000-4000-8000-000000000001', '30000000-0000-4000-8000-000000000001',
   'Linear equations', 'Exercises 1-20.', '2026-02-02 23:59+00', true),
  ('50000000-0000-4000-8000-000000000002', '30000000-0000-4000-8000-000000000001',
   'Quadratic functions', 'Draft: not yet published.', '2026-02-16 23:59+00', false),
  ('50000000-0000-4000-8000-000000000003', '30000000-0000-4000-8000-000000000002',
   'Cell structure lab report', 'Two pages, with drawings.', '2026-02-06 23:59+00', true),
  ('50000000-0000-4000-8000-000000000004', '30000000-0000-4000-8000-000000000003',
   'The fall of Rome', 'Essay, 1500 words.', '2026-02-09 23:59+00', true),
  ('50000000-0000-4000-8000-000000000005', '30000000-0000-4000-8000-000000000004',
   'Periodic table quiz', 'Groups 1, 2 and 17.', '2026-02-04 23:59+00', true),
  ('50000000-0000-4000-8000-000000000006', '30000000-0000-4000-8000-000000000005',
   'Triangle proofs', 'Prove the three congruence criteria.', '2026-02-05 23:59+00', true),
  -- 7-9 are open, with no submission yet: students can still hand work in.
  ('50000000-0000-4000-8000-000000000007', '30000000-0000-4000-8000-000000000002',
   'Photosynthesis worksheet', 'Label the diagram.', '2026-03-02 23:59+00', true),
  ('50000000-0000-4000-8000-000000000008', '30000000-0000-4000-8000-000000000003',
   'Medieval trade routes', 'Annotated map.', '2026-03-04 23:59+00', true),
  ('50000000-0000-4000-8000-000000000009', '30000000-0000-4000-8000-000000000005',
   'Circle theorems', 'Worksheet 4.', '2026-03-03 23:59+00', true);

insert into public.submissions
  (id, assignment_id, student_id, body, attachment_path, submitted_at) values
  ('60000000-0000-4000-8000-000000000001', '50000000-0000-4000-8000-000000000001',
   '20000000-0000-4000-8000-000000000001', 'x = 4; y = -2; ...',
   '20000000-0000-4000-8000-000000000001/50000000-0000-4000-8000-000000000001/linear-equations.pdf',
   '2026-02-01 19:30+00'),
  ('60000000-0000-4000-8000-000000000002', '50000000-0000-4000-8000-000000000001',
   '20000000-0000-4000-8000-000000000002', 'x = 4; y = 2; ...',
   '20000000-0000-4000-8000-000000000002/50000000-0000-4000-8000-000000000001/linear-equations.pdf',
   '2026-02-02 21:10+00'),
  ('60000000-0000-4000-8000-000000000003', '50000000-0000-4000-8000-000000000003',
   '20000000-0000-4000-8000-000000000002', 'The cell membrane ...', null,
   '2026-02-05 17:45+00'),
  ('60000000-0000-4000-8000-000000000004', '50000000-0000-4000-8000-000000000004',
   '20000000-0000-4000-8000-000000000001', 'Rome did not fall in a day ...',
   '20000000-0000-4000-8000-000000000001/50000000-0000-4000-8000-000000000004/rome-essay.pdf',
   '2026-02-08 22:00+00'),
  ('60000000-0000-4000-8000-000000000005', '50000000-0000-4000-8000-000000000005',
   '20000000-0000-4000-8000-000000000003', 'Li, Na, K, Be, Mg, F, Cl ...',
   '20000000-0000-4000-8000-000000000003/50000000-0000-4000-8000-000000000005/quiz.pdf',
   '2026-02-03 16:20+00'),
  ('60000000-0000-4000-8000-000000000006', '50000000-0000-4000-8000-000000000006',
   '20000000-0000-4000-8000-000000000007', 'SSS, SAS, ASA ...',
   '20000000-0000-4000-8000-000000000007/50000000-0000-4000-8000-000000000006/proofs.pdf',
   '2026-02-04 18:05+00');

-- Grades: submissions 3 and 5 are not graded yet.
insert into public.grades (id, submission_id, grader_id, score, feedback, graded_at) values
  ('70000000-0000-4000-8000-000000000001', '60000000-0000-4000-8000-000000000001',
   '20000000-0000-4000-8000-000000000004', 92, 'Clear working.', '2026-02-03 10:00+00'),
  ('70000000-0000-4000-8000-000000000002', '60000000-0000-4000-8000-000000000002',
   '20000000-0000-4000-8000-000000000004', 78, 'Check the sign in exercise 7.',
   '2026-02-03 10:05+00'),
  ('70000000-0000-4000-8000-000000000003', '60000000-0000-4000-8000-000000000004',
   '20000000-0000-4000-8000-000000000005', 88, 'Good sources.', '2026-02-10 09:00+00'),
  ('70000000-0000-4000-8000-000000000004', '60000000-0000-4000-8000-000000000006',
   '20000000-0000-4000-8000-000000000008', 95, 'Excellent.', '2026-02-06 11:00+00');

insert into public.staff_notes (id, school_id, student_id, author_id, category, body) values
  ('80000000-0000-4000-8000-000000000001', '10000000-0000-4000-8000-000000000001',
   '20000000-0000-4000-8000-000000000001', '20000000-0000-4000-8000-000000000006',
   'counselling', 'Meets the counsellor fortnightly; extra time in exams agreed.'),
  ('80000000-0000-4000-8000-000000000002', '10000000-0000-4000-8000-000000000001',
   '20000000-0000-4000-8000-000000000003', '20000000-0000-4000-8000-000000000006',
   'discipline', 'Verbal warning after the chemistry lab incident.'),
  ('80000000-0000-4000-8000-000000000003', '10000000-0000-4000-8000-000000000002',
   '20000000-0000-4000-8000-000000000007', '20000000-0000-4000-8000-000000000009',
   'safeguarding', 'Guardian contact details changed; collect from school office only.');

-- Report cards: a private bucket only the backend (service_role) writes and reads; no policy
-- gives an API user any of it, not even the files in their own folder.
insert into storage.buckets (id, name, public) values ('reports', 'reports', false);

-- Storage objects, as the Storage API records uploads (owner and owner_id = the uploader).
insert into storage.objects (id, bucket_id, name, owner, owner_id, metadata)
select
  o.id::uuid, o.bucket, o.name, split_part(o.name, '/', 1)::uuid, split_part(o.name, '/', 1),
  jsonb_build_object('size', o.size, 'mimetype', o.mimetype)
from (values
  ('90000000-0000-4000-8000-000000000001', 'submissions',
   '20000000-0000-4000-8000-000000000001/50000000-0000-4000-8000-000000000001/linear-equations.pdf',
   48213, 'application/pdf'),
  ('90000000-0000-4000-8000-000000000002', 'submissions',
   '20000000-0000-4000-8000-000000000001/50000000-0000-4000-8000-000000000004/rome-essay.pdf',
   91544, 'application/pdf'),
  ('90000000-0000-4000-8000-000000000003', 'submissions',
   '20000000-0000-4000-8000-000000000002/50000000-0000-4000-8000-000000000001/linear-equations.pdf',
   51002, 'application/pdf'),
  ('90000000-0000-4000-8000-000000000004', 'submissions',
   '20000000-0000-4000-8000-000000000003/50000000-0000-4000-8000-000000000005/quiz.pdf',
   20480, 'application/pdf'),
  ('90000000-0000-4000-8000-000000000005', 'submissions',
   '20000000-0000-4000-8000-000000000007/50000000-0000-4000-8000-000000000006/proofs.pdf',
   33311, 'application/pdf'),
  ('90000000-0000-4000-8000-000000000006', 'avatars',
   '20000000-0000-4000-8000-000000000001/avatar.png', 12034, 'image/png'),
  ('90000000-0000-4000-8000-000000000007', 'avatars',
   '20000000-0000-4000-8000-000000000004/avatar.png', 15320, 'image/png'),
  ('90000000-0000-4000-8000-000000000008', 'reports',
   '20000000-0000-4000-8000-000000000001/report-card-2025.pdf', 20211, 'application/pdf')
) as o (id, bucket, name, size, mimetype);

update public.users
set avatar_url = 'avatars/' || id || '/avatar.png'
where id in ('20000000-0000-4000-8000-000000000001', '20000000-0000-4000-8000-000000000004');
