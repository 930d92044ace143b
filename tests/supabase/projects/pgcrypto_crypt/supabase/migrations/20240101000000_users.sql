create table public.local_users (email text primary key, password_hash text not null);
