-- The planted project's tables done right: rlsguard must report nothing wrong here.

create table public.p1_notes (
  id bigint generated always as identity primary key,
  user_id uuid not null references auth.users (id) default auth.uid(),
  body text
);
alter table public.p1_notes enable row level security;
create policy "p1 read" on public.p1_notes for select to authenticated
  using (user_id = (select auth.uid()));
create policy "p1 write" on public.p1_notes for insert to authenticated
  with check (user_id = (select auth.uid()));

create table public.p1b_orders (
  id bigint generated always as identity primary key,
  owner_id uuid not null references auth.users (id),
  total numeric
);
alter table public.p1b_orders enable row level security;
create policy "p1b read" on public.p1b_orders for select to authenticated
  using (owner_id = (select auth.uid()));
create policy "p1b insert" on public.p1b_orders for insert to authenticated
  with check (owner_id = (select auth.uid()));

create table public.p2_posts (
  id bigint generated always as identity primary key,
  author_id uuid not null references auth.users (id),
  title text
);
alter table public.p2_posts enable row level security;
create policy "p2 read own" on public.p2_posts for select to authenticated
  using (author_id = (select auth.uid()));
create policy "p2 insert" on public.p2_posts for insert to authenticated
  with check (author_id = (select auth.uid()));

create table public.p3_docs (
  id bigint generated always as identity primary key,
  owner_id uuid not null references auth.users (id),
  body text
);
alter table public.p3_docs enable row level security;
create policy "p3 read" on public.p3_docs for select to authenticated
  using (owner_id = (select auth.uid()));
create policy "p3 update" on public.p3_docs for update to authenticated
  using (owner_id = (select auth.uid())) with check (owner_id = (select auth.uid()));

create table public.p4_reports (
  id bigint generated always as identity primary key,
  body text
);
alter table public.p4_reports enable row level security;
create policy "p4 admins" on public.p4_reports for select to authenticated
  using (((select auth.jwt()) -> 'app_metadata' ->> 'role') = 'admin');

create table public.p5_members (
  team_id bigint not null,
  user_id uuid not null references auth.users (id),
  primary key (team_id, user_id)
);
alter table public.p5_members enable row level security;
create policy "p5 members read own" on public.p5_members for select to authenticated
  using (user_id = (select auth.uid()));
create table public.p5_projects (
  id bigint generated always as identity primary key,
  team_id bigint not null,
  name text
);
alter table public.p5_projects enable row level security;
create policy "p5 read" on public.p5_projects for select to authenticated
  using (team_id in (select team_id from public.p5_members where user_id = (select auth.uid())));

create table public.p6_profiles (
  id uuid primary key references auth.users (id),
  phone text,
  address text
);
alter table public.p6_profiles enable row level security;
create policy "p6 own" on public.p6_profiles for select to authenticated
  using (id = (select auth.uid()));
create function public.p6_get_profile()
returns setof public.p6_profiles
language sql security invoker set search_path = ''
as $$ select * from public.p6_profiles where id = (select auth.uid()) $$;

create table public.p7_invoices (
  id bigint generated always as identity primary key,
  user_id uuid not null references auth.users (id),
  amount numeric
);
alter table public.p7_invoices enable row level security;
create policy "p7 own" on public.p7_invoices for select to authenticated
  using (user_id = (select auth.uid()));
create view public.p7_invoice_totals with (security_invoker = on) as
  select user_id, sum(amount) as total from public.p7_invoices group by user_id;

create table public.p8_secrets_log (
  id bigint generated always as identity primary key,
  user_id uuid,
  message text
);
alter table public.p8_secrets_log enable row level security;

create table public.p9_comments (
  id bigint generated always as identity primary key,
  user_id uuid references auth.users (id),
  body text,
  published boolean not null default false
);
alter table public.p9_comments enable row level security;
create policy "p9 read" on public.p9_comments for select to authenticated
  using (published or user_id = (select auth.uid()));
create policy "p9 insert" on public.p9_comments for insert to authenticated
  with check (user_id = (select auth.uid()));

insert into storage.buckets (id, name, public) values ('p10_avatars', 'p10_avatars', false);
create policy "p10 read own files" on storage.objects for select to authenticated
  using (bucket_id = 'p10_avatars' and (storage.foldername(name))[1] = (select auth.uid())::text);

create table public.q1_profiles (
  id uuid primary key references auth.users (id),
  username text,
  is_admin boolean not null default false
);
alter table public.q1_profiles enable row level security;
revoke update on public.q1_profiles from anon, authenticated;
grant update (username) on public.q1_profiles to authenticated;
create policy "q1 read own" on public.q1_profiles for select to authenticated
  using (id = (select auth.uid()));
create policy "q1 update own" on public.q1_profiles for update to authenticated
  using (id = (select auth.uid())) with check (id = (select auth.uid()));
create table public.q1_audit (id bigint generated always as identity primary key, entry text);
alter table public.q1_audit enable row level security;
create policy "q1 admins read audit" on public.q1_audit for select to authenticated
  using (exists (select 1 from public.q1_profiles p where p.id = (select auth.uid()) and p.is_admin));

create table public.q2_leads (
  id bigint generated always as identity primary key,
  email text not null,
  phone text,
  message text
);
alter table public.q2_leads enable row level security;
create policy "q2 anyone can submit" on public.q2_leads for insert to anon
  with check (length(message) < 2000);

create table public.q3_members (team_id bigint, user_id uuid references auth.users (id), role text default 'member',
  primary key (team_id, user_id));
alter table public.q3_members enable row level security;
create policy "q3 read own" on public.q3_members for select to authenticated using (user_id = (select auth.uid()));
create policy "q3 join" on public.q3_members for insert to authenticated
  with check (user_id = (select auth.uid()) and role = 'member');
create table public.q3_docs (id bigint primary key, team_id bigint, body text);
alter table public.q3_docs enable row level security;
create policy "q3 admins edit" on public.q3_docs for update to authenticated
  using (exists (select 1 from public.q3_members m where m.team_id = q3_docs.team_id and m.user_id = (select auth.uid()) and m.role = 'admin'));

create table public.q4_salaries (id bigint primary key, user_id uuid references auth.users (id), amount numeric);
alter table public.q4_salaries enable row level security;
create policy "q4 own" on public.q4_salaries for select to authenticated using (user_id = (select auth.uid()));


-- (11) the outer column qualified
create table public.q5_members (team_id bigint, user_id uuid references auth.users (id),
  primary key (team_id, user_id));
alter table public.q5_members enable row level security;
create policy "q5 read own" on public.q5_members for select to authenticated
  using (user_id = (select auth.uid()));
create table public.q5_projects (id bigint primary key, team_id bigint, name text);
alter table public.q5_projects enable row level security;
create policy "q5 read" on public.q5_projects for select to authenticated
  using (exists (select 1 from public.q5_members m
                 where m.user_id = (select auth.uid()) and m.team_id = q5_projects.team_id));
