-- Statements that name the database: it must be called "postgres" and owned by postgres.
revoke temporary on database "postgres" from public;
grant temporary on database postgres to service_role;
comment on database postgres is 'hardened by migration';
