insert into auth.users (instance_id, id, aud, role, email, encrypted_password, email_confirmed_at,
                        raw_app_meta_data, raw_user_meta_data, created_at, updated_at)
values
  ('00000000-0000-0000-0000-000000000000', 'c3000000-0000-0000-0000-000000000001', 'authenticated',
   'authenticated', 'dana@rag.test', crypt('hunter22', gen_salt('bf')), now(),
   '{"provider": "email", "providers": ["email"]}', '{}', now(), now()),
  ('00000000-0000-0000-0000-000000000000', 'c3000000-0000-0000-0000-000000000002', 'authenticated',
   'authenticated', 'eli@rag.test', crypt('hunter22', gen_salt('bf')), now(),
   '{"provider": "email", "providers": ["email"]}', '{}', now(), now());

insert into public.documents (owner_id, title)
values ('c3000000-0000-0000-0000-000000000001', 'Dana''s notes'),
       ('c3000000-0000-0000-0000-000000000002', 'Eli''s notes');

-- 1536-dimension embeddings: one-hot vectors, so cosine similarities are exactly 0 or 1.
insert into public.document_sections (document_id, content, embedding)
select d.id, d.title || ' section', (array_fill(0::real, array[i - 1]) || 1::real
                                      || array_fill(0::real, array[1536 - i]))::extensions.vector
from public.documents d
cross join lateral (select case when d.title like 'Dana%' then 1 else 2 end as i) pick;
