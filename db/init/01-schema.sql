-- Schema and seed data for the greeter app. Run once, by the database image's
-- entrypoint, when the data volume is first initialised (psql, ON_ERROR_STOP,
-- connected to $POSTGRES_DB as $POSTGRES_USER, who therefore owns these tables).

CREATE TABLE greetings (
    id      serial PRIMARY KEY,
    message text   NOT NULL
);

INSERT INTO greetings (message) VALUES ('Hello, world!');

CREATE TABLE visits (
    id    int    PRIMARY KEY,
    count bigint NOT NULL
);

INSERT INTO visits (id, count) VALUES (1, 0);
