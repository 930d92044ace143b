create table public.messages (
  id bigint generated always as identity primary key,
  room text not null,
  body text not null
);
alter table public.messages enable row level security;

-- Re-create the publication inside an explicit transaction, a common Realtime snippet.
begin;
  drop publication if exists supabase_realtime;
  create publication supabase_realtime;
commit;
alter publication supabase_realtime add table public.messages;
