-- Retrieval-augmented generation: documents split into sections with OpenAI-sized embeddings,
-- readable by their owner only, searched by cosine similarity from a SQL function.
create extension if not exists vector with schema extensions;

create table public.documents (
  id bigint primary key generated always as identity,
  owner_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  title text not null,
  created_at timestamptz not null default now()
);

create table public.document_sections (
  id bigint primary key generated always as identity,
  document_id bigint not null references public.documents (id) on delete cascade,
  content text not null,
  embedding extensions.vector(1536)
);

create index document_sections_embedding_hnsw on public.document_sections
  using hnsw (embedding extensions.vector_cosine_ops) with (m = 16, ef_construction = 64);
create index on public.document_sections
  using ivfflat (embedding extensions.vector_l2_ops) with (lists = 100);

alter table public.documents enable row level security;
alter table public.document_sections enable row level security;

create policy "owners read documents" on public.documents
  for select to authenticated using (owner_id = (select auth.uid()));
create policy "owners add documents" on public.documents
  for insert to authenticated with check (owner_id = (select auth.uid()));
create policy "owners read sections" on public.document_sections
  for select to authenticated
  using (exists (select 1 from public.documents d
                 where d.id = document_id and d.owner_id = (select auth.uid())));

grant select, insert on public.documents to authenticated;
grant select on public.document_sections to authenticated;

-- security invoker (the default): RLS decides which sections a caller can match.
create or replace function public.match_document_sections(
  query_embedding extensions.vector(1536),
  match_threshold float,
  match_count int default 5
)
returns table (id bigint, document_id bigint, content text, similarity float)
language sql stable
set search_path = public, extensions
as $$
  select s.id, s.document_id, s.content, 1 - (s.embedding <=> query_embedding) as similarity
  from public.document_sections s
  where 1 - (s.embedding <=> query_embedding) > match_threshold
  order by s.embedding <=> query_embedding asc
  limit least(match_count, 200);
$$;
grant execute on function public.match_document_sections(extensions.vector, float, int) to authenticated;
