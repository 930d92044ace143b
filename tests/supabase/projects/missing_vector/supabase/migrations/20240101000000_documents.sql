create table public.documents (id bigint primary key, body text);

create extension if not exists vector with schema extensions;

alter table public.documents add column embedding extensions.vector(3);
