create table public.rooms (
  id bigint generated always as identity primary key,
  name text not null
);
alter table public.rooms enable row level security;

drop publication if exists supabase_realtime;
create publication supabase_realtime for table public.messages, public.rooms;
