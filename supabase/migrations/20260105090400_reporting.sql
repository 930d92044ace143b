-- Reporting: a roster view and a class-average RPC, both written so they cannot leak rows.
--
-- A plain view runs with its owner's rights; the owner (postgres) bypasses RLS, so a plain view
-- over enrollments would show every roster to everyone. `security_invoker = true` (PG15+) makes
-- the view run the underlying policies as the requester.
--
-- A SECURITY DEFINER function also bypasses RLS, so it must check the caller itself: the
-- average is returned only for classes the caller manages, NULL otherwise.

create view public.class_roster
with (security_invoker = true)
as
select
  c.id as class_id,
  c.name as class_name,
  e.student_id,
  u.full_name as student_name,
  e.enrolled_at
from public.enrollments e
join public.classes c on c.id = e.class_id
join public.users u on u.id = e.student_id;
comment on view public.class_roster is
  'Class lists; runs with the requester''s rights (security_invoker), so RLS applies.';

revoke all on public.class_roster from anon, authenticated, service_role;
grant select on public.class_roster to authenticated, service_role;

create function public.class_average(p_class_id uuid)
returns numeric
language sql stable security definer
set search_path = ''
as $$
  select round(avg(g.score), 2)
  from public.grades g
  join public.submissions s on s.id = g.submission_id
  join public.assignments a on a.id = s.assignment_id
  where a.class_id = p_class_id
    and p_class_id in (select private.staff_class_ids())
$$;
comment on function public.class_average(uuid) is
  'Average grade of a class, for the staff who manage it (NULL for anyone else).';

revoke all on function public.class_average(uuid) from public, anon, authenticated, service_role;
grant execute on function public.class_average(uuid) to authenticated, service_role;
