-- An audit log only the service role reads.
create table public.audit_log (
  id bigint generated always as identity primary key,
  actor uuid,
  action text not null
);
alter table public.audit_log enable row level security;
grant select, insert on public.audit_log to service_role;
