insert into public.articles (title, body, published) values
  ('Row level security', 'Policies decide which rows a role sees.', true),
  ('Row level secrecy', 'A draft nobody should read.', false);
