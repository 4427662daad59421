#!/usr/bin/env python3
"""`just bench`: stackgen side by side with plain compose and with the hardware limit.

Deploys a copy of the shipped stack under its own compose project (ephemeral ports),
times whole processes with hyperfine, runs the in-process divan benchmarks, and writes
the tables to BENCHMARKS.md (medians and ratios, never single runs). Everything it
creates (containers, volumes, images, the 1 GiB file) is removed at the end.

`--smoke` is CI's check that the harness still works: tiny inputs, two runs, the report
written to a temporary file instead of BENCHMARKS.md. `--drops-only` runs section 6
alone (its table to stdout, nothing written to BENCHMARKS.md).

STACKGEN_BIN overrides the binary (default: target/release/stackgen).
"""

import collections
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMOKE = "--smoke" in sys.argv
DROPS_ONLY = "--drops-only" in sys.argv
RUNS = 2 if SMOKE else 10
SG = os.environ.get("STACKGEN_BIN", os.path.join(REPO, "target", "release", "stackgen"))


def sh(cmd, **kw):
    res = subprocess.run(cmd, shell=isinstance(cmd, str), text=True, capture_output=True, **kw)
    if res.returncode:
        print(res.stdout + res.stderr, file=sys.stderr)
        res.check_returncode()
    return res


def hyperfine(work, label, commands, runs=RUNS, warmup=1):
    out = os.path.join(work, f"{label}.json")
    args = ["hyperfine", "--style", "basic", "--warmup", str(warmup), "--runs", str(runs),
            "--export-json", out]
    for name, cmd in commands:
        args += ["-n", name, cmd]
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
    with open(out) as f:
        return {r["command"]: statistics.median(r["times"]) for r in json.load(f)["results"]}


def container_ids(name):
    out = sh(["docker", "ps", "-a", "--filter", f"label=com.docker.compose.project={name}",
              "--format", '{{.Label "com.docker.compose.service"}} {{.ID}}']).stdout
    return dict(line.split() for line in out.splitlines() if line.strip())


def compose_cmd(name, proj):
    return (f"docker compose -p {name} --project-directory {proj}/generated "
            f"-f {proj}/generated/docker-compose.yml")


def main():
    work = tempfile.mkdtemp(prefix="stackgen-bench-")
    name = f"sgbench-{os.getpid()}"
    proj = os.path.join(work, "p")
    # Section 6's second copy: no edge, the apps publish their ports themselves.
    plain = (f"{name}-compose", os.path.join(work, "p2"))
    try:
        return run(work, name, proj, compose_cmd(name, proj), plain)
    finally:
        for n, p in [(name, proj), plain]:
            subprocess.run(f"{compose_cmd(n, p)} down --volumes --remove-orphans", shell=True,
                           capture_output=True)
        tags = sh(["docker", "image", "ls", "--format", "{{.Repository}}:{{.Tag}}"]).stdout
        mine = [t for t in tags.split() if t.startswith((name + "/", plain[0] + "/"))]
        if mine:
            # --no-prune: the untagged parents are the classic builder's cache, which a
            # build running at the same moment (another project on this engine) may need.
            subprocess.run(["docker", "rmi", "--force", "--no-prune", *mine],
                           capture_output=True)
        shutil.rmtree(work, ignore_errors=True)
        # stackgen's deploy locks for these one-off projects (see src/state/lock.rs).
        lock_dir = os.environ.get("STACKGEN_LOCK_DIR", "/tmp/stackgen-locks")
        for n in [name, plain[0]]:
            try:
                os.remove(os.path.join(lock_dir, f"{n}.lock"))
            except FileNotFoundError:
                pass


def copy_project(proj, name, edge=True, ports=None):
    """The shipped project under its own compose project name. Every `publish` becomes
    `publish = 0` (an ephemeral host port), or the next of `ports`. hello's health check
    gives up 2 s after start, so section 6's never-healthy case fails in seconds; it is
    set here, before the first deploy, so that it is not itself a change."""
    os.makedirs(proj)
    for item in ["stack.toml", "templates", "apps", "images", "db", "generated"]:
        src = os.path.join(REPO, item)
        (shutil.copytree if os.path.isdir(src) else shutil.copy2)(src, os.path.join(proj, item))
    stack = open(os.path.join(proj, "stack.toml")).read()
    stack = stack.replace('name = "stackgen"', f'name = "{name}"')
    ports = iter(ports or [])
    lines, skipping = [], False
    for l in stack.splitlines():
        if l.startswith("["):
            skipping = not edge and l.strip() == "[services.edge]"
        if skipping:
            continue
        if l.startswith("publish = "):
            l = f"publish = {next(ports, 0)}"
        lines.append(l)
        if l.startswith('build = "apps/hello"'):
            lines.append('healthcheck = { start_period = "2s" }')
    open(os.path.join(proj, "stack.toml"), "w").write("\n".join(lines) + "\n")


def run(work, name, proj, compose, plain):
    copy_project(proj, name)
    sh([SG, "-C", proj, "up"])
    rows = {}
    if DROPS_ONLY:
        rows["drops"] = drops(proj, plain)
        print(render_drops(rows["drops"]))
        return 1 if drops_unexpected(rows["drops"]) else 0

    # 1. No-op redeploy of the running stack. stackgen runs first: compose --build
    # rebuilds with BuildKit and retags the images, which would make stackgen's first
    # run a recreate rather than a no-op.
    t = hyperfine(work, "noop", [
        ("stackgen up", f"{SG} -C {proj} up"),
        ("docker compose up -d --build --wait", f"{compose} up -d --build --wait"),
        ("docker compose up -d --wait", f"{compose} up -d --wait"),
    ])
    rows["noop"] = t

    # 2. One app changed: wall time, images built, containers recreated.
    app = os.path.join(proj, "apps", "hello", "app.py")
    changed = {"stackgen up": [], "docker compose up -d --build --wait": []}
    for i in range(1 if SMOKE else 3):
        for label, cmd in [("stackgen up", [SG, "-C", proj, "up"]),
                           ("docker compose up -d --build --wait",
                            compose.split() + ["up", "-d", "--build", "--wait"])]:
            with open(app, "a") as f:
                f.write(f"\n# bench change {label} {i}\n")
            before = container_ids(name)
            start = time.monotonic()
            res = subprocess.run(cmd, capture_output=True, text=True, check=True)
            wall = time.monotonic() - start
            after = container_ids(name)
            recreated = sum(1 for s, cid in after.items() if before.get(s) != cid)
            if label == "stackgen up":
                line = next(l for l in res.stderr.splitlines() if l.startswith("images: "))
                built = int(line.split()[1])
            else:
                # Compose runs a build for every service with a build section, cache or not.
                gen = open(os.path.join(proj, "generated", "docker-compose.yml")).read()
                built = gen.count("\n    build:\n")
            changed[label].append((wall, built, recreated))
    rows["changed"] = {k: (statistics.median(w for w, _, _ in v),
                           statistics.median(b for _, b, _ in v),
                           statistics.median(r for _, _, r in v)) for k, v in changed.items()}

    # 3. Hashing: one large file and many small files, against sha256sum and openssl.
    large_mib = 8 if SMOKE else 1024
    small_n = 200 if SMOKE else 50_000
    large = os.path.join(work, "large.bin")
    with open(large, "wb") as f:
        block = os.urandom(1 << 20)
        for _ in range(large_mib):
            f.write(block)
    small = os.path.join(work, "small")
    ctx = os.path.join(small, "apps", "many")
    for i in range(small_n):
        d = os.path.join(ctx, f"d{i % 100:03d}")
        if i < 100:
            os.makedirs(d)
        with open(os.path.join(d, f"f{i}.bin"), "wb") as f:
            f.write(os.urandom(4096))
    open(os.path.join(ctx, "Dockerfile"), "w").write(
        "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nCOPY . /app\nUSER 10001:10001\n")
    shutil.copytree(os.path.join(REPO, "templates"), os.path.join(small, "templates"))
    open(os.path.join(small, "stack.toml"), "w").write(
        '[stack]\nname = "bench"\nbase_image = "debian:bookworm-slim"\n'
        '[services.many]\nkind = "python-web"\nbuild = "apps/many"\nport = 8000\n')
    sh([SG, "-C", small, "render"])
    runs = 2 if SMOKE else 5
    t = hyperfine(work, "large", [
        ("sha256sum", f"sha256sum {large}"),
        ("openssl dgst -sha256", f"openssl dgst -sha256 {large}"),
    ], runs=runs)
    rows["large"] = {k: large_mib * (1 << 20) / v / 1e9 for k, v in t.items()}
    t = hyperfine(work, "small", [
        ("`stackgen render --check` (walk, hash, render, policy)", f"{SG} -C {small} render --check"),
        ("sha256sum, one process", f"find {ctx} -type f -print0 | xargs -0 sha256sum"),
        ("sha256sum, two processes", f"find {ctx} -type f -print0 | xargs -0 -P2 -n 5000 sha256sum"),
    ], runs=runs)
    rows["small"] = t
    cpu = sh(f"/usr/bin/time -f %P {SG} -C {small} render --check 2>&1 >/dev/null | tail -1"
             ).stdout.strip()
    rows["small_cpu"] = cpu

    # In-process (divan): hash_file on the same large file, hash_stack on the same tree,
    # and load + validate + hash + render + check of 10, 100 and 1000 services.
    env = dict(os.environ, STACKGEN_BENCH_LARGE_FILE=large, STACKGEN_BENCH_SMALL_DIR=small)
    args = ["cargo", "bench", "--quiet", "--bench", "pipeline", "--"]
    if SMOKE:
        args += ["--sample-count", "3"]
    divan = subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, check=True)
    rows["divan"] = divan.stdout

    # 4. Render and validate synthetic stacks: whole process, time and peak memory.
    rows["render"] = {}
    for n in ([10, 100] if SMOKE else [10, 100, 1000]):
        d = os.path.join(work, f"s{n}")
        shutil.copytree(os.path.join(REPO, "templates"), os.path.join(d, "templates"))
        shutil.copytree(os.path.join(REPO, "apps", "hello"), os.path.join(d, "apps", "hello"))
        text = '[stack]\nname = "bench"\nbase_image = "debian:bookworm-slim"\n'
        for i in range(n):
            text += (f'[services.app{i}]\nkind = "python-web"\nbuild = "apps/hello"\n'
                     f'port = 8000\npublish = {20000 + i}\nenvironment = {{ APP_INDEX = "{i}" }}\n')
        open(os.path.join(d, "stack.toml"), "w").write(text)
        sh([SG, "-C", d, "render"])
        t = hyperfine(work, f"render{n}", [(f"{n}", f"{SG} -C {d} render --check")],
                      runs=2 if SMOKE else 10)
        rss = sh(f"/usr/bin/time -f %M {SG} -C {d} render --check 2>&1 >/dev/null | tail -1"
                 ).stdout.strip()
        rows["render"][n] = (t[f"{n}"], int(rss) if rss.isdigit() else 0)

    # 5. Deploy-to-healthy: from the first container started to `up --wait` returning.
    healthy = []
    for _ in range(2 if SMOKE else 5):
        sh([SG, "-C", proj, "down"])
        sh([SG, "-C", proj, "up"])
        done = time.time()
        ids = list(container_ids(name).values())
        started = sh(["docker", "inspect", "--format", "{{.State.StartedAt}}", *ids]).stdout.split()
        first = min(parse_time(s) for s in started)
        healthy.append(done - first)
    rows["healthy"] = statistics.median(healthy)

    # 6. Requests dropped during a deploy: stackgen behind its edge, and plain compose.
    rows["drops"] = drops(proj, plain)

    report = render_report(rows)
    out = tempfile.mktemp(suffix=".md") if SMOKE else os.path.join(REPO, "BENCHMARKS.md")
    open(out, "w").write(report)
    print(report)
    print(f"written to {out}", file=sys.stderr)
    return 1 if drops_unexpected(rows["drops"]) else 0


class Load(threading.Thread):
    """A bounded request loop on loopback: one GET / every 20 ms, each on a new TCP
    connection with a 2 s timeout. A request fails unless it is a 200 whose body ends
    "Hello, world!". The longest outage runs from the last good answer to the next good
    one, across failures (or to the end of the loop, if none came)."""

    INTERVAL, TIMEOUT, MAX_REQUESTS, MAX_TIME = 0.02, 2.0, 30_000, 600

    def __init__(self, port, host="127.0.0.1"):
        super().__init__(daemon=True)
        self.port, self.host = port, host
        self.halt = threading.Event()
        self.ok = self.failed = 0
        self.longest, self.recovered = 0.0, True
        self.errors = collections.Counter()

    def once(self):
        deadline = time.monotonic() + self.TIMEOUT
        data = b""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=self.TIMEOUT) as s:
                s.sendall(f"GET / HTTP/1.1\r\nHost: {self.host}\r\nConnection: close\r\n\r\n"
                          .encode())
                while True:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return "timeout (2 s)"
                    s.settimeout(left)
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    data += chunk
        except OSError as e:
            return f"{type(e).__name__}: {e}"
        head, _, body = data.partition(b"\r\n\r\n")
        status = head.split(b"\r\n", 1)[0].split()
        if len(status) > 1 and status[1] == b"200" and body.endswith(b"Hello, world!"):
            return None
        if not data:
            return "empty answer"
        return " ".join(x.decode(errors="replace") for x in status) + f", body {body[-40:]!r}"

    def run(self):
        start = last_ok = time.monotonic()
        failing = False
        while (not self.halt.is_set() and self.ok + self.failed < self.MAX_REQUESTS
               and time.monotonic() - start < self.MAX_TIME):
            t = time.monotonic()
            err = self.once()
            if err is None:
                self.ok += 1
                now = time.monotonic()
                if failing:
                    self.longest = max(self.longest, now - last_ok)
                failing, last_ok = False, now
            else:
                self.failed += 1
                self.errors[err] += 1
                failing = True
            self.halt.wait(max(0.0, self.INTERVAL - (time.monotonic() - t)))
        if failing:
            self.longest = max(self.longest, time.monotonic() - last_ok)
            self.recovered = False

    def finish(self):
        self.halt.set()
        self.join()
        return {"failed": self.failed, "requests": self.ok + self.failed,
                "outage": self.longest, "recovered": self.recovered,
                "errors": dict(self.errors)}


def under_load(port, cmd, host="127.0.0.1"):
    """Runs the deploy command inside the loop's window: started 0.5 s before, stopped
    2 s after the command returns (while the old container stops)."""
    load = Load(port, host)
    load.start()
    time.sleep(0.5)
    res = subprocess.run(cmd, capture_output=True, text=True)
    time.sleep(2)
    report = load.finish()
    report["exit"] = res.returncode
    report["stderr"] = res.stderr
    return report


EXITS_ON_START = "import sys\nsys.exit(3)\n"
NEVER_HEALTHY = """from flask import Flask, Response

app = Flask(__name__)


@app.get("/")
def index():
    return Response("not yet", status=503)
"""
# (key, label, stackgen's expected exit code); smoke runs the first only.
DROP_CASES = [
    ("good", "good deploy (app.py changed)", 0),
    ("exits", "new version exits on start", 1),
    ("unhealthy", "new version never healthy (503)", 1),
    ("route", "route change (`hosts` added or removed)", 0),
]


def port_of(url):
    return int(url.rstrip("/").rsplit(":", 1)[1])


def urls_of(stdout):
    return dict(l.split("\t", 1) for l in stdout.splitlines() if "\t" in l)


def free_port():
    # Outside the kernel's ephemeral range, which the engine also uses for `publish = 0`.
    while True:
        port = random.randint(21000, 29999)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                pass


def change(proj, key, i):
    """Makes case `key`'s change to a project; returns how to undo it (None: keep it)."""
    app = os.path.join(proj, "apps", "hello", "app.py")
    good = open(app).read()
    if key == "good":
        open(app, "a").write(f"# bench deploy {i}\n")
    elif key in ("exits", "unhealthy"):
        open(app, "w").write(EXITS_ON_START if key == "exits" else NEVER_HEALTHY)
        return lambda: open(app, "w").write(good)
    else:
        path = os.path.join(proj, "stack.toml")
        stack = open(path).read()
        hosts = 'hosts = ["127.0.0.1", "hello.test"]\n'
        marker = 'healthcheck = { start_period = "2s" }\n'
        stack = (stack.replace(marker + hosts, marker) if hosts in stack
                 else stack.replace(marker, marker + hosts))
        open(path, "w").write(stack)
    return None


def drops(proj, plain):
    """Section 6: every case against hello's URL under the request loop, once through
    `stackgen up` (behind the edge) and once through plain `docker compose up -d --wait`
    on a copy without the edge, where hello publishes its host port itself."""
    name2, proj2 = plain
    copy_project(proj2, name2, edge=False, ports=[free_port(), free_port()])
    url = urls_of(sh([SG, "-C", proj, "up"]).stdout)["hello"]
    url2 = urls_of(sh([SG, "-C", proj2, "up"]).stdout)["hello"]
    compose2 = compose_cmd(name2, proj2).split()
    up2 = compose2 + ["up", "-d", "--wait", "--wait-timeout", "60"]
    env = dict(os.environ, DOCKER_BUILDKIT="0")

    def compose_deploy(undo=None):
        """Render, build hello if its tag is missing (outside the window), deploy."""
        if undo:
            undo()
        sh([SG, "-C", proj2, "render"])
        gen = open(os.path.join(proj2, "generated", "docker-compose.yml")).read()
        tag = next(l.split('"')[1] for l in gen.splitlines()
                   if l.strip().startswith(f'image: "{name2}/hello:'))
        if subprocess.run(["docker", "image", "inspect", tag], capture_output=True).returncode:
            sh(compose2 + ["build", "hello"], env=env)
        return None if undo else under_load(port_of(url2), up2)

    cases = DROP_CASES[:1] if SMOKE else DROP_CASES
    results = {key: {"stackgen": [], "compose": []} for key, _, _ in cases}
    for i in range(1 if SMOKE else 3):
        for key, label, _ in cases:
            undo = change(proj, key, i)
            r = under_load(port_of(url), [SG, "-C", proj, "up"])
            if undo:
                undo()
            results[key]["stackgen"].append(r)
            print(f"drops: stackgen, {label}, run {i + 1}: exit {r['exit']}, "
                  f"{r['failed']}/{r['requests']} failed, outage {r['outage']:.2f} s, "
                  f"errors {r['errors']}", file=sys.stderr)
            if key == "route":
                continue  # no proxy, no route: nothing for compose to change
            undo = change(proj2, key, i)
            r = compose_deploy()
            if undo:
                # Compose leaves the broken container serving: put the good one back.
                compose_deploy(undo)
                sh(up2)
            results[key]["compose"].append(r)
            print(f"drops: compose, {label}, run {i + 1}: exit {r['exit']}, "
                  f"{r['failed']}/{r['requests']} failed, outage {r['outage']:.2f} s, "
                  f"errors {r['errors']}", file=sys.stderr)
    return results


def drops_unexpected(results):
    """stackgen exit codes that are not the expected ones (the harness then exits 1)."""
    bad = []
    for key, label, want in DROP_CASES:
        for r in results.get(key, {}).get("stackgen", []):
            if r["exit"] != want:
                bad.append(f"{label}: `stackgen up` exited {r['exit']}, expected {want}\n"
                           f"{r['stderr']}")
    for b in bad:
        print(f"drops: {b}", file=sys.stderr)
    return bad


def summarize(runs):
    if not runs:
        return ["n/a (no proxy)", "n/a", "n/a"]
    failed = sum(r["failed"] for r in runs)
    total = sum(r["requests"] for r in runs)
    worst = max(runs, key=lambda r: r["outage"])
    if not failed:
        outage = "none"
    elif worst["recovered"]:
        outage = f"{worst['outage']:.2f} s"
    else:
        outage = f"≥ {worst['outage']:.1f} s (still down at the end)"
    exits = sorted({r["exit"] for r in runs})
    return [f"{failed} / {total}", outage, ", ".join(map(str, exits))]


def render_drops(results):
    runs = len(next(iter(results.values()))["stackgen"])
    lines = [
        "## 6. Requests dropped during a deploy",
        "",
        "A request loop on 127.0.0.1 against `hello` (one `GET /` every 20 ms, each on a new "
        "connection, 2 s timeout; a request fails unless it is a 200 ending "
        "\"Hello, world!\"), from 0.5 s before the deploy command to 2 s after it returns. "
        "stackgen: `stackgen up` behind the edge. Plain compose: a copy of the stack without "
        "the edge, where `hello` publishes its fixed host port itself, the same change "
        "rendered and its image built first (outside the window), then "
        "`docker compose up -d --wait`. The longest outage runs from the last good answer "
        "to the next one. stackgen's window holds more requests because it is longer: it "
        "includes the image build, the new container's readiness wait and the old one's "
        "drain. "
        + (f"Totals over {runs} runs per case; the longest outage and exit codes of any run."
           if runs > 1 else "One run per case."),
        "",
        "| case | stackgen: failed / requests | longest outage | exit code "
        "| plain compose: failed / requests | longest outage | exit code |",
        "|---|---|---|---|---|---|---|",
    ]
    for key, label, _ in DROP_CASES:
        if key in results:
            cells = summarize(results[key]["stackgen"]) + summarize(results[key]["compose"])
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    sg_failed = sum(r["failed"] for v in results.values() for r in v["stackgen"])
    lines += [
        "",
        "Plain compose recreates a changed container stop-first: the old container stops and "
        "gives up the fixed host port before the new one starts and binds it, so every "
        "request in between fails (refused, or accepted by the engine's port proxy and "
        "closed unanswered); when the new version never becomes ready, compose "
        "leaves it in place (it has no rollback) and the app stays down until the next "
        "deploy. Behind the edge the host port belongs to Caddy, which an app deploy does not "
        "restart: stackgen starts the new container beside the old one, switches the route "
        "once the new one is ready and then drains the old one; a new version that never "
        "becomes ready is removed while the old one keeps serving (`up` exits 1), and a route "
        "change is a graceful reload of the edge. "
        + ("stackgen dropped no request in any case." if not sg_failed else
           f"stackgen dropped {sg_failed} requests in all (see the table)."),
        "",
    ]
    return "\n".join(lines)


def parse_time(stamp):
    # 2026-11-26T15:20:31.123456789Z -> seconds since the epoch
    import datetime
    base, _, frac = stamp.rstrip("Z").partition(".")
    t = datetime.datetime.strptime(base, "%Y-%m-%dT%H:%M:%S").replace(
        tzinfo=datetime.timezone.utc).timestamp()
    return t + float("0." + (frac or "0"))


def machine():
    cpu = sh("lscpu | sed -n 's/^Model name: *//p'").stdout.strip() or "unknown CPU"
    cores = os.cpu_count()
    docker = sh(["docker", "version", "--format", "{{.Server.Version}}"]).stdout.strip()
    comp = sh(["docker", "compose", "version", "--short"]).stdout.strip()
    sha = "yes" if "sha_ni" in open("/proc/cpuinfo").read() else "no"
    return f"{cpu}, {cores} cores (SHA extensions: {sha}); Docker Engine {docker}, Compose {comp}"


def render_report(rows):
    noop = rows["noop"]
    sg, build, bare = (noop["stackgen up"], noop["docker compose up -d --build --wait"],
                       noop["docker compose up -d --wait"])
    lines = [
        "# Benchmarks",
        "",
        "Regenerate with `just bench` (about 15 minutes; it deploys copies of the shipped stack "
        "under their own project names and removes everything afterwards). Medians; "
        f"{RUNS} runs per command unless noted. Machine: {machine()}.",
        "",
        "## 1. No-op redeploy of the running stack",
        "",
        "| command | median | vs stackgen |",
        "|---|---|---|",
        f"| `stackgen up` | {sg:.2f} s | 1.00x |",
        f"| `docker compose up -d --build --wait` | {build:.2f} s | {build / sg:.2f}x |",
        f"| `docker compose up -d --wait` | {bare:.2f} s | {bare / sg:.2f}x |",
        "",
        f"stackgen is **{build / sg:.1f}x faster** than `--build` (target: at least 3x) and takes "
        f"**{sg / bare:.2f}x** the time of a bare `--wait` (target: within 1.3x). The difference "
        "with bare `--wait` is stackgen's own checks before it touches anything (engine, Compose, "
        "host ports, local images: asked in parallel) and one `docker ps` + `docker inspect` "
        "after, to read the state back rather than trust compose's exit code.",
        "",
    ]
    if build / sg < 3:
        lines += [
            "**Why the 3x target is missed here.** All three commands spend almost all their "
            "time in compose's own `up --wait` (compare the bare `--wait` row): on this stack a "
            "no-op `--build` is nearly free, because BuildKit (built into this engine) finds "
            "every layer in its cache and the four build contexts are a few KiB each, so there "
            "is little for stackgen to save. The limit is the engine's round trips, not the "
            "build. The saving grows with the context: `--build` sends every context to the "
            "daemon and asks the cache on every deploy, while stackgen reads and hashes the "
            "files locally (section 3: about 0.3 s for 50,000 files) and skips the build "
            "entirely; and it shows as soon as anything changes (section 2).",
            "",
        ]
    lines += [
        "## 2. One app changed",
        "",
        "| command | median wall time | images built | containers recreated |",
        "|---|---|---|---|",
    ]
    for k, (wall, built, rec) in rows["changed"].items():
        lines.append(f"| `{k}` | {wall:.2f} s | {built:g} | {rec:g} |")
    lines += [
        "",
        "stackgen builds exactly the changed image (its input hash changed) and compose "
        "recreates exactly its container. Plain compose with `--build` runs a build for every "
        "service (cache or not), and because the tag does not say what is in the image, the "
        "committed compose file cannot tell a reviewer which image changed.",
        "",
        "## 3. Hashing",
        "",
        "One large file (sha256 throughput, GB/s; 1 GB = 10^9 bytes):",
        "",
        "| tool | GB/s |",
        "|---|---|",
    ]
    for k, v in rows["large"].items():
        lines.append(f"| `{k}` (whole process) | {v:.2f} |")
    lines += [
        "",
        "Many small files (50,000 files of 4 KiB in one build context):",
        "",
        "| command | median |",
        "|---|---|",
    ]
    for k, v in rows["small"].items():
        lines.append(f"| {k} | {v:.2f} s |")
    lines += [
        "",
        f"CPU use of `stackgen render --check` on that tree: {rows['small_cpu']} (200% = both cores "
        "busy). The files are read and hashed in parallel (rayon; every per-file system call "
        "happens there, the walk only reads directories); what stays on one core is the "
        "directory walk, `.dockerignore` matching and building the sorted manifest.",
        "",
        "In-process (divan; `hash_large_file` and `hash_many_small_files` run on the same "
        "inputs as above; `load_validate_hash_render_check` on synthetic stacks):",
        "",
        "```",
        rows["divan"].strip(),
        "```",
        "",
        "## 4. Render and validate synthetic stacks (whole process, `stackgen render --check`)",
        "",
        "| services | median | peak memory |",
        "|---|---|---|",
    ]
    for n, (t, rss) in rows["render"].items():
        lines.append(f"| {n} | {t * 1000:.0f} ms | {rss / 1024:.1f} MiB |")
    lines += [
        "",
        "## 5. Deploy to healthy",
        "",
        f"From the first container started to `up --wait` returning, shipped stack, median of "
        f"{2 if SMOKE else 5} `down`/`up` cycles: **{rows['healthy']:.2f} s** (target: under 3 s).",
        "",
        render_drops(rows["drops"]),
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
