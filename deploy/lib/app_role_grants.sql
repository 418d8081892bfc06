-- Row privileges for the app's database role; run once per database, as a superuser or as
-- the owner role, connected to the app's database:
--
--   psql -d prpclinic -v owner=prpclinic_owner -v app=prpclinic -f deploy/lib/app_role_grants.sql
--
-- The owner role owns the database, its tables and the audit triggers, and runs migrations
-- (prpclinic-admin). The app's role may read and write rows, nothing more: no TRUNCATE, no
-- DDL, no dropping the audit trail's triggers. Tables that later migrations create get the
-- same privileges through the default privileges below.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT CREATE, USAGE ON SCHEMA public TO :"owner";
GRANT USAGE ON SCHEMA public TO :"app";
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO :"app";
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO :"app";
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO :"app";
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public
    GRANT USAGE, SELECT ON SEQUENCES TO :"app";
