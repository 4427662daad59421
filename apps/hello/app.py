from flask import Flask, Response

app = Flask(__name__)


@app.get("/")
def index():
    return Response("Hello, world!", mimetype="text/plain")
