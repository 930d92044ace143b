SET session_replication_role = replica;

INSERT INTO "auth"."users" ("instance_id", "id", "aud", "role", "email", "encrypted_password",
  "email_confirmed_at", "raw_app_meta_data", "raw_user_meta_data", "created_at", "updated_at")
VALUES ('00000000-0000-0000-0000-000000000000', 'f6000000-0000-0000-0000-000000000001',
  'authenticated', 'authenticated', 'hal@dump.test', extensions.crypt('pw', extensions.gen_salt('bf')),
  now(), '{"provider": "email", "providers": ["email"]}', '{"username": "hal"}', now(), now());

-- With replication role "replica" triggers do not fire (as in a data-only dump): the profile
-- row comes from the dump itself.
INSERT INTO "public"."profiles" ("id", "username") VALUES ('f6000000-0000-0000-0000-000000000001', 'hal9000');
INSERT INTO "public"."messages" ("id", "body", "user_id") VALUES (1, 'hello', 'f6000000-0000-0000-0000-000000000001');
SELECT pg_catalog.setval('"public"."messages_id_seq"', 1, true);

RESET ALL;
