-- Roles of the backoffice database, run by infra/postgres/postgres.sh at every start (idempotent).
-- Passwords come from the environment through \getenv, so they never appear in argv or in git.
\getenv app_user POSTGRES_APP_USER
\getenv cdc_user POSTGRES_CDC_USER
\getenv app_password POSTGRES_APP_PASSWORD
\getenv cdc_password POSTGRES_CDC_PASSWORD
select format('create role %I login', :'app_user')
where not exists (select 1 from pg_roles where rolname = :'app_user') \gexec
select format('create role %I login replication', :'cdc_user')
where not exists (select 1 from pg_roles where rolname = :'cdc_user') \gexec
select format('alter role %I with login password %L', :'app_user', :'app_password') \gexec
-- Debezium's role: REPLICATION for the slot, read access for the snapshot, nothing else.
select format('alter role %I with login replication password %L', :'cdc_user', :'cdc_password') \gexec
select format('grant connect, create on database %I to %I', current_database(), :'app_user') \gexec
select format('grant connect on database %I to %I', current_database(), :'cdc_user') \gexec
