-- Runs once, when the postgres volume is empty: POSTGRES_DB (prefect) exists already; ProVoice's
-- catalog gets its own database on the same server, owned by the same user.
CREATE DATABASE provoice;
