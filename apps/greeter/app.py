import psycopg2
from flask import Flask, Response

app = Flask(__name__)


def fetch_one(sql):
    """Run one statement in its own connection and transaction; return the first row."""
    # An empty DSN makes libpq take PGHOST, PGUSER, PGDATABASE, PGPASSFILE, ...
    # from the environment.
    conn = psycopg2.connect("")
    try:
        with conn, conn.cursor() as cur:  # commits on success, rolls back on error
            cur.execute(sql)
            return cur.fetchone()
    finally:
        conn.close()


def text(body, status=200):
    return Response(str(body), status=status, mimetype="text/plain")


@app.get("/")
def greeting():
    row = fetch_one("SELECT message FROM greetings ORDER BY id LIMIT 1")
    return text(row[0]) if row else text("no greeting", 404)


@app.post("/visits")
def add_visit():
    row = fetch_one("UPDATE visits SET count = count + 1 WHERE id = 1 RETURNING count")
    return text(row[0]) if row else text("no counter", 404)


@app.get("/visits")
def get_visits():
    row = fetch_one("SELECT count FROM visits WHERE id = 1")
    return text(row[0]) if row else text("no counter", 404)
