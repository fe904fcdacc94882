-- PostgreSQL only (its JSON columns are compressed with lz4 from here on). SQLite stores JSON as uncompressed
-- text: nothing to change. The migration exists so both providers keep the same history.
SELECT 1;
