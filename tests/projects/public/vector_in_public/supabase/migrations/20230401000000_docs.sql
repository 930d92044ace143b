-- Documentation search as early pgvector guides wrote it: the extension in public, pages and
-- their sections written by a build script with the service role, searched through one RPC
-- function. Written for rlsguard's corpus.
create extension if not exists vector with schema public;

create table public.doc_pages (
  id bigint generated always as identity primary key,
  path text not null unique,
  checksum text
);
create table public.doc_sections (
  id bigint generated always as identity primary key,
  page_id bigint not null references public.doc_pages on delete cascade,
  content text not null,
  embedding vector(3)
);
-- Only the build script (service role) touches them: RLS with no policy.
alter table public.doc_pages enable row level security;
alter table public.doc_sections enable row level security;

create or replace function public.match_sections(query vector(3), match_count int)
returns table (path text, content text, similarity float)
language sql
stable
security definer
set search_path = public, pg_temp
as $$
  select p.path, s.content, 1 - (s.embedding <=> query) as similarity
  from public.doc_sections s
  join public.doc_pages p on p.id = s.page_id
  order by s.embedding <=> query
  limit match_count;
$$;
