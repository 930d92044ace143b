-- Multilingual full-text search with PGroonga next to a trigram index for fuzzy titles.
create extension if not exists pgroonga with schema extensions;
create extension if not exists pg_trgm with schema extensions;

create table public.articles (
  id bigint generated always as identity primary key,
  title text not null,
  body text not null,
  published boolean not null default false
);
alter table public.articles enable row level security;
grant select on public.articles to anon, authenticated;
create policy "published articles are public" on public.articles
  for select using (published);

create index articles_body_pgroonga on public.articles using pgroonga (body)
  with (tokenizer = 'TokenMecab');
create index articles_title_trgm on public.articles using gin (title extensions.gin_trgm_ops);

create or replace function public.search_articles(query text)
returns setof public.articles
language sql stable set search_path = public, extensions
as $$ select * from public.articles where body &@~ query order by id $$;

create or replace function public.similar_titles(query text)
returns setof public.articles
language sql stable set search_path = public, extensions
as $$ select * from public.articles where title % query order by similarity(title, query) desc $$;
