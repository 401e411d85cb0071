-- Synapse needs its own database with C collation (created once by the postgres image).
CREATE DATABASE synapse ENCODING 'UTF8' LC_COLLATE='C' LC_CTYPE='C' TEMPLATE template0 OWNER wisbot;
