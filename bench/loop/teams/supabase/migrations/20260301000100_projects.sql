create table public.projects (
  id bigint primary key,
  org_id bigint not null references public.orgs (id) on delete cascade,
  name text not null
);

create table public.tasks (
  id bigint primary key,
  project_id bigint not null references public.projects (id) on delete cascade,
  owner_id uuid not null references auth.users (id),
  title text not null
);

create table public.comments (
  id bigint primary key,
  task_id bigint not null references public.tasks (id) on delete cascade,
  author_id uuid not null references auth.users (id),
  body text not null
);

alter table public.projects enable row level security;
alter table public.tasks enable row level security;
alter table public.comments enable row level security;
grant select, update, delete on public.projects, public.tasks, public.comments to authenticated;

create policy "members read projects" on public.projects for select to authenticated
  using (org_id in (select private.my_orgs()));
create policy "admins edit projects" on public.projects for update to authenticated
  using (org_id in (select private.my_orgs(true)));
create policy "admins delete projects" on public.projects for delete to authenticated
  using (org_id in (select private.my_orgs(true)));

create policy "members read tasks" on public.tasks for select to authenticated
  using (project_id in (select p.id from public.projects p
                        where p.org_id in (select private.my_orgs())));
create policy "owners edit tasks" on public.tasks for update to authenticated
  using (owner_id = (select auth.uid()));
create policy "owners delete tasks" on public.tasks for delete to authenticated
  using (owner_id = (select auth.uid()));

create policy "members read comments" on public.comments for select to authenticated
  using (task_id in (select t.id from public.tasks t));
create policy "authors edit comments" on public.comments for update to authenticated
  using (author_id = (select auth.uid()));
create policy "authors delete comments" on public.comments for delete to authenticated
  using (author_id = (select auth.uid()));
