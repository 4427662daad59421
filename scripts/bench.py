#!/usr/bin/env python3
"""`just bench`: stackgen side by side with plain compose and with the hardware limit.

Deploys a copy of the shipped stack under its own compose project (ephemeral ports),
times whole processes with hyperfine, runs the in-process divan benchmarks, and writes
the tables to BENCHMARKS.md (medians and ratios, never single runs). Everything it
creates (containers, volumes, networks, images, the 1 GiB file) is removed at the end,
except the untagged layers under the shipped stack's copies' images (`--no-prune`, see
main()); sections 8 and 9 delete their own layers too.
Each target is reported beside its figure, held or missed, and again in a summary;
a missed target is printed on stderr too, but fails nothing (only a deploy that ends
other than expected does).

`--smoke` is CI's check that the harness still works: tiny inputs, two runs (one for
the image builds of section 9, three services in section 8), the report written to a
temporary file instead of BENCHMARKS.md. `--drops-only` runs section 6 alone (its
table to stdout, nothing written to BENCHMARKS.md); `--swarm-only` runs section 10 alone
(three swarm nodes, scripts/bench_swarm.py) and rewrites that section of BENCHMARKS.md.

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

import bench_swarm

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMOKE = "--smoke" in sys.argv
DROPS_ONLY = "--drops-only" in sys.argv
MANY_ONLY = "--many-only" in sys.argv
SWARM_ONLY = "--swarm-only" in sys.argv
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


def paired(work, label, commands, rounds=RUNS):
    """Paired runs of two commands, each timed by hyperfine: one round runs both, once
    each, the first of the two alternating from round to round, so a drift in the
    machine's speed (it is shared) hits both alike. A first round is a warm-up and is
    not counted. `commands` are (name, command, prepare or None); a prepare runs before
    its command, untimed. Returns each command's median and the median of the per-round
    ratios first / second."""
    times = {n: [] for n, _, _ in commands}
    for r in range(rounds + 1):
        out = os.path.join(work, f"{label}-{r}.json")
        args = ["hyperfine", "--style", "basic", "--warmup", "0", "--runs", "1",
                "--export-json", out]
        order = commands if r % 2 else commands[::-1]
        # hyperfine takes one --prepare for every command or none: `true` fills a gap.
        any_prep = any(prep for _, _, prep in commands)
        for n, cmd, prep in order:
            args += (["--prepare", prep or "true"] if any_prep else []) + ["-n", n, cmd]
        subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
        if r:
            with open(out) as f:
                for res in json.load(f)["results"]:
                    times[res["command"]] += res["times"]
    (a, *_), (b, *_) = commands
    ratio = statistics.median(x / y for x, y in zip(times[a], times[b]))
    return {n: statistics.median(v) for n, v in times.items()}, ratio


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
    # Section 8's synthetic stack of many services.
    many = (f"{name}-many", os.path.join(work, "many"))
    try:
        return run(work, name, proj, compose_cmd(name, proj), plain, many)
    finally:
        for n, p in [(name, proj), plain, many]:
            if os.path.exists(os.path.join(p, "generated", "docker-compose.yml")):
                subprocess.run(f"{compose_cmd(n, p)} down --volumes --remove-orphans",
                               shell=True, capture_output=True)
        tags = sh(["docker", "image", "ls", "--format", "{{.Repository}}:{{.Tag}}"]).stdout
        # Section 9 removes its own images; its tags are here in case it was interrupted.
        prefixes = tuple(f"{n}/" for n in [name, plain[0], many[0], f"{name}-df"])
        mine = [t for t in tags.split() if t.startswith(prefixes)]
        if mine:
            # --no-prune: the untagged parents are the classic builder's cache, which a
            # build running at the same moment (another project on this engine) may need.
            subprocess.run(["docker", "rmi", "--force", "--no-prune", *mine],
                           capture_output=True)
        shutil.rmtree(work, ignore_errors=True)
        # stackgen's deploy locks for these one-off projects (see src/state/lock.rs).
        lock_dir = os.environ.get("STACKGEN_LOCK_DIR", "/tmp/stackgen-locks")
        for n in [name, plain[0], many[0]]:
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


def run(work, name, proj, compose, plain, many):
    if MANY_ONLY:
        print(render_many(many_services(work, *many)))
        return 0
    if SWARM_ONLY:
        section = bench_swarm.render(bench_swarm.run(sys.modules[__name__], work, SMOKE))
        print(section)
        if not SMOKE:
            bench_swarm.splice(os.path.join(REPO, "BENCHMARKS.md"), section)
        return 0
    copy_project(proj, name)
    sh([SG, "-C", proj, "up"])
    rows = {}
    if DROPS_ONLY:
        rows["drops"] = drops(proj, plain)
        print(render_drops(rows["drops"]))
        return 1 if drops_unexpected(rows["drops"]) else 0

    # 1. No-op redeploy of the running stack. One untimed `stackgen up` first converges
    # whatever the first deploy left to do, and `diff --exit-code` (exit 1: something
    # would change) proves the timed runs are no-ops; so does an unchanged set of
    # containers after them. stackgen and bare compose on the same file and project
    # are paired; `--build` runs last: it rebuilds with BuildKit and retags the images,
    # which would make stackgen's next run a recreate rather than a no-op.
    sh([SG, "-C", proj, "up"])
    sh([SG, "-C", proj, "diff", "--exit-code"])
    before = container_ids(name)
    t, ratio = paired(work, "noop", [
        ("docker compose up -d --wait", f"{compose} up -d --wait", None),
        ("stackgen up", f"{SG} -C {proj} up", None),
    ])
    rows["noop_ratio"] = ratio

    # 7. Read-only commands on the same unchanged running stack (in sync: exit 0).
    sh([SG, "-C", proj, "status"])
    rows["observe"] = hyperfine(work, "observe", [
        ("stackgen status", f"{SG} -C {proj} status"),
        ("stackgen diff", f"{SG} -C {proj} diff"),
    ])
    if container_ids(name) != before:
        raise RuntimeError("the timed no-op `stackgen up` runs changed the stack's containers")
    t.update(hyperfine(work, "noop-build", [
        ("docker compose up -d --build --wait", f"{compose} up -d --build --wait"),
    ]))
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

    # 8. No-op `stackgen up` of a stack of many services.
    rows["many"] = many_services(work, *many)

    # 9. One app change, the Dockerfile's old order against the shipped one.
    rows["order"] = dockerfile_order(work, name)

    # 10. Three swarm nodes: first deploy, no-op, one app change, a node's death.
    rows["swarm"] = bench_swarm.run(sys.modules[__name__], work, SMOKE)

    report = render_report(rows)
    for miss in missed_targets(rows):
        print(f"target missed: {miss}", file=sys.stderr)
    out = tempfile.mktemp(suffix=".md") if SMOKE else os.path.join(REPO, "BENCHMARKS.md")
    open(out, "w").write(report)
    print(report)
    print(f"written to {out}", file=sys.stderr)
    return 1 if drops_unexpected(rows["drops"]) else 0


MANY = 3 if SMOKE else 100


def many_services(work, name, d):
    """Section 8: MANY python-web services built from apps/hello (no published port, so
    no edge), deployed once under their own project, then no-op `stackgen up` timed.
    Their health checks run every 10 s, not every 1 s: a hundred probes a second (each
    a python3 process) would keep both cores busy while the no-op is timed; and with a
    10 s timeout and a long start period, since a hundred apps starting at once on two
    cores answer their first probes slowly (with the defaults some turned unhealthy). Its app.py
    carries a line of this run's own, so every layer from its COPY on belongs to this
    stack alone and is deleted with it (stackgen builds the images side by side, so
    each has a COPY layer of its own that `--no-prune` would leave behind)."""
    shutil.copytree(os.path.join(REPO, "templates"), os.path.join(d, "templates"))
    shutil.copytree(os.path.join(REPO, "apps", "hello"), os.path.join(d, "apps", "hello"))
    open(os.path.join(d, "apps", "hello", "app.py"), "a").write(f"# bench {name}\n")
    text = (f'[stack]\nname = "{name}"\nbase_image = "debian:bookworm-slim"\n'
            'wait_timeout = 900\n')
    for i in range(MANY):
        text += (f'[services.app{i}]\nkind = "python-web"\nbuild = "apps/hello"\n'
                 'port = 8000\nhealthcheck = { interval = "10s", timeout = "10s", retries = 10, start_period = "600s" }\n')
    open(os.path.join(d, "stack.toml"), "w").write(text)
    try:
        start = time.monotonic()
        sh([SG, "-C", d, "up"])
        deploy = time.monotonic() - start
        # As in section 1: one untimed no-op first, and the containers must not change.
        sh([SG, "-C", d, "up"])
        before = container_ids(name)
        if len(before) != MANY:
            raise RuntimeError(f"{len(before)} containers run for {MANY} services")
        t = hyperfine(work, "many", [("noop", f"{SG} -C {d} up")])
        if container_ids(name) != before:
            raise RuntimeError(f"no-op `stackgen up` of {MANY} services changed containers")
        return {"services": MANY, "deploy": deploy, "noop": t["noop"]}
    finally:
        subprocess.run([SG, "-C", d, "down", "--volumes"], capture_output=True)
        tags = sh(["docker", "image", "ls", "--format", "{{.Repository}}:{{.Tag}}"]).stdout
        mine = [t for t in tags.split() if t.startswith(name + "/")]
        if mine:
            # Pruned: rmi deletes the untagged parents no other image has, this stack's
            # own layers, and stops at the shared ones (the packages).
            subprocess.run(["docker", "rmi", "--force", *mine], capture_output=True)


def instructions(dockerfile):
    """A Dockerfile's instructions, continuation lines joined, comments skipped."""
    out, cur = [], ""
    for line in dockerfile.splitlines():
        line = line.strip()
        if line.startswith("#") or (not cur and not line):
            continue
        if line.endswith("\\"):
            cur += line[:-1] + " "
        else:
            out.append(cur + line)
            cur = ""
    return out


def old_order(dockerfile):
    """The shipped apps/hello Dockerfile with its `COPY app.py` moved back before `USER`,
    as it was before the COPY went last."""
    lines = dockerfile.splitlines(keepends=True)
    copy = next(i for i, l in enumerate(lines) if l.startswith("COPY app.py "))
    user = next(i for i, l in enumerate(lines) if l.startswith("USER "))
    if copy < user:
        raise RuntimeError("apps/hello/Dockerfile copies app.py before USER: no old order "
                           "to compare with")
    line = lines.pop(copy)
    return "".join(lines[:user] + [line] + lines[user:])


def dockerfile_order(work, name):
    """Section 9: the classic builder re-runs every step after the first changed one, so
    what one app.py change costs depends on how many steps follow its COPY. Two copies
    of apps/hello's build context, one with the shipped Dockerfile and one with the old
    order, each built with hyperfine after a line is appended to its app.py (untimed),
    in paired rounds. Each copy's app.py carries a line of this run's own, so every
    layer from its COPY on belongs to this run alone and can be deleted with it."""
    shipped = open(os.path.join(REPO, "apps", "hello", "Dockerfile")).read()
    variants = [("old order (`COPY app.py` before `USER`)", old_order(shipped)),
                ("shipped order (`COPY app.py` last)", shipped)]
    ids = os.path.join(work, "order-ids")
    tags, commands, steps = [], [], {}
    for i, (label, text) in enumerate(variants):
        ctx = os.path.join(work, f"order{i}")
        shutil.copytree(os.path.join(REPO, "apps", "hello"), ctx)
        open(os.path.join(ctx, "Dockerfile"), "w").write(text)
        open(os.path.join(ctx, "app.py"), "a").write(f"# bench {name}, variant {i}\n")
        tag = f"{name}-df/hello{i}:tmp"
        tags.append(tag)
        commands.append((label,
                         f"DOCKER_BUILDKIT=0 docker build -q --force-rm -t {tag} {ctx} "
                         f">>{ids} 2>/dev/null",
                         f"echo '# bench change' >> {ctx}/app.py"))
        ins = instructions(text)
        steps[label] = len(ins) - next(j for j, l in enumerate(ins)
                                       if l.startswith("COPY app.py "))
    try:
        t, ratio = paired(work, "order", commands, rounds=1 if SMOKE else RUNS)
    finally:
        # The tags, then every image a round built (its tag moved on to the next one's);
        # rmi deletes each one's own untagged parents and stops at shared ones.
        subprocess.run(["docker", "rmi", *tags], capture_output=True)
        built = open(ids).read().split() if os.path.exists(ids) else []
        for image in dict.fromkeys(built):
            subprocess.run(["docker", "rmi", image], capture_output=True)
    return {"times": t, "ratio": ratio, "steps": steps, "rounds": 1 if SMOKE else RUNS}


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


# wrk's Lua: every answer's body checked; the wrong ones counted across threads.
WRK_SCRIPT = r"""
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) bad = 0 end
function response(status, headers, body)
  if body ~= "Hello, world!" then bad = bad + 1 end
end
function done(summary, latency, requests)
  local b = 0
  for _, t in ipairs(threads) do b = b + t:get("bad") end
  io.write(string.format("bench: bad=%d p50us=%d p99us=%d\n", b,
    latency:percentile(50), latency:percentile(99)))
end
"""
WRK_CONNECTIONS = 64


class Wrk:
    """wrk on loopback (it never retries): 64 keep-alive connections on 2 threads, as
    fast as the machine goes, every body checked, until stopped (SIGINT: it reports)."""

    def __init__(self, port, host="127.0.0.1", seconds=600, addr="127.0.0.1"):
        self.script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
        self.script.write(WRK_SCRIPT)
        self.script.close()
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            ["wrk", "-t2", f"-c{WRK_CONNECTIONS}", f"-d{seconds}s", "--timeout", "5s",
             "-H", f"Host: {host}", "-s", self.script.name, f"http://{addr}:{port}/"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def finish(self):
        import signal
        elapsed = time.monotonic() - self.started
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        out = self.proc.communicate()[0]
        os.unlink(self.script.name)
        return wrk_report(out, elapsed)


def wrk_report(out, elapsed):
    import re
    def num(pattern):
        m = re.search(pattern, out)
        return int(m.group(1)) if m else 0
    socket_errors = sum(num(rf"{k} (\d+)") for k in ("connect", "read", "write", "timeout"))
    requests = num(r"(\d+) requests in")
    failed = socket_errors + num(r"Non-2xx or 3xx responses: (\d+)") + num(r"bad=(\d+)")
    return {"requests": requests, "failed": failed, "rps": requests / max(elapsed, 0.001),
            "p50": num(r"p50us=(\d+)") / 1000, "p99": num(r"p99us=(\d+)") / 1000,
            "output": out}


def steady(port, seconds):
    """wrk for `seconds` with nothing deployed: the steady state."""
    load = Wrk(port)
    time.sleep(seconds)
    return load.finish()


def under_load(port, cmd, host="127.0.0.1"):
    """Runs the deploy command inside the loop's window: started 0.5 s before, stopped
    2 s after the command returns (while the old container stops). wrk runs beside the
    loop over the same window."""
    load = Load(port, host)
    load.start()
    keepalive = Wrk(port, host)
    time.sleep(0.5)
    res = subprocess.run(cmd, capture_output=True, text=True)
    time.sleep(2)
    report = load.finish()
    report["wrk"] = keepalive.finish()
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
    ("exits", "new version exits on start", 3),
    ("unhealthy", "new version never healthy (503)", 3),
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
    seconds = 3 if SMOKE else 15
    results["steady"] = {"stackgen": [steady(port_of(url), seconds)],
                         "compose": [steady(port_of(url2), seconds)]}
    for i in range(1 if SMOKE else 3):
        for key, label, _ in cases:
            undo = change(proj, key, i)
            r = under_load(port_of(url), [SG, "-C", proj, "up"])
            if undo:
                undo()
            results[key]["stackgen"].append(r)
            print(f"drops: stackgen, {label}, run {i + 1}: exit {r['exit']}, "
                  f"{r['failed']}/{r['requests']} failed, outage {r['outage']:.2f} s, "
                  f"errors {r['errors']}; wrk {r['wrk']['failed']}/{r['wrk']['requests']}"
                  f" failed", file=sys.stderr)
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
    for key, label, _ in DROP_CASES:
        for r in results.get(key, {}).get("stackgen", []):
            if "wrk" in r and "requests in" not in r["wrk"]["output"]:
                bad.append(f"{label}: wrk did not report: {r['wrk']['output']}")
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
    sg_failed = sum(r["failed"] for k, v in results.items() if k != "steady"
                    for r in v["stackgen"])
    lines += [
        "",
        "Plain compose recreates a changed container stop-first: the old container stops and "
        "gives up the fixed host port before the new one starts and binds it, so every "
        "request in between fails (refused, or accepted by the engine's port proxy and "
        "closed unanswered); when the new version never becomes ready, compose "
        "leaves it in place (it has no rollback) and the app stays down until the next "
        "deploy. Behind the edge the host port belongs to the edge (HAProxy), which an app deploy does not "
        "restart: stackgen starts the new container beside the old one, switches the route "
        "once the new one is ready and then drains the old one; a new version that never "
        "becomes ready is removed while the old one keeps serving (`up` exits 3), and a route "
        "change is a graceful reload of the edge. "
        + ("stackgen dropped no request in any case." if not sg_failed else
           f"stackgen dropped {sg_failed} requests in all (see the table)."),
        "",
    ]
    return "\n".join(lines + render_keepalive(results))


def render_keepalive(results):
    """Section 6's second table: wrk's keep-alive load over the same windows."""
    def cells(runs):
        runs = [r["wrk"] if "wrk" in r else r for r in runs]
        if not runs:
            return ["n/a (no proxy)", "n/a"]
        failed = sum(r["failed"] for r in runs)
        total = sum(r["requests"] for r in runs)
        p99 = statistics.median(r["p99"] for r in runs)
        return [f"{failed} / {total}", f"{p99:.1f} ms"]
    edge, direct = results["steady"]["stackgen"][0], results["steady"]["compose"][0]
    lines = [
        f"Over the same windows, `wrk` (it never retries) with {WRK_CONNECTIONS} keep-alive "
        "connections on 2 threads, as fast as this machine goes, every body checked; a "
        "request fails on any socket error, a non-2xx answer or another body. p99: the "
        "median over the runs of each run's 99th percentile latency. wrk counts a refused "
        "connection as a failure but not as a request, so a column's failures can exceed "
        "its answered requests. Steady state: 15 s "
        "with no deploy, through the edge (stackgen's column) and to `hello` publishing "
        "its port itself (compose's column).",
        "",
        "| case | stackgen: failed / answered | p99 | plain compose: failed / answered | p99 |",
        "|---|---|---|---|---|",
        "| steady state, no deploy | " + " | ".join(cells([edge]) + cells([direct])) + " |",
    ]
    for key, label, _ in DROP_CASES:
        if key in results:
            lines.append(f"| {label} | " + " | ".join(
                cells(results[key]["stackgen"]) + cells(results[key]["compose"])) + " |")
    lines += [
        "",
        f"The edge against the app reached directly, steady state: {edge['rps']:.0f} against "
        f"{direct['rps']:.0f} requests/s ({edge['rps'] / max(direct['rps'], 1):.2f}×), "
        f"p50 {edge['p50']:.1f} against {direct['p50']:.1f} ms, p99 {edge['p99']:.1f} against "
        f"{direct['p99']:.1f} ms. (`hello` runs gunicorn with two sync workers, which close "
        "each connection after its answer: the edge keeps the clients' connections alive "
        "and opens one to the app per request.)",
        "",
    ]
    return lines


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


def noop_times(rows):
    noop = rows["noop"]
    return (noop["stackgen up"], noop["docker compose up -d --build --wait"],
            noop["docker compose up -d --wait"])


def targets(rows):
    """(target, measured, held) for every target the report names."""
    sg, build, _ = noop_times(rows)
    ratio, observe, many = rows["noop_ratio"], rows["observe"], rows["many"]
    return [
        ("no-op `stackgen up` at least 3x faster than `docker compose up -d --build --wait`",
         f"{build / sg:.1f}x", build / sg >= 3),
        ("no-op `stackgen up` at least 15x faster than bare `docker compose up -d --wait`",
         f"{ratio:.1f}x", ratio >= 15),
        ("`stackgen status` on the unchanged stack under 60 ms",
         f"{observe['stackgen status'] * 1000:.0f} ms", observe["stackgen status"] < 0.060),
        ("`stackgen diff` on the unchanged stack under 60 ms",
         f"{observe['stackgen diff'] * 1000:.0f} ms", observe["stackgen diff"] < 0.060),
        (f"no-op `stackgen up` of {many['services']} services under 150 ms",
         f"{many['noop'] * 1000:.0f} ms", many["noop"] < 0.150),
        ("deploy to healthy under 3 s", f"{rows['healthy']:.2f} s", rows["healthy"] < 3),
    ]


def missed_targets(rows):
    return [f"{t}: {m}" for t, m, held in targets(rows) if not held]


def verdict(held):
    return "held" if held else "**missed**"


def render_report(rows):
    sg, build, bare = noop_times(rows)
    ratio = rows["noop_ratio"]
    lines = [
        "# Benchmarks",
        "",
        "Regenerate with `just bench` (about 35 minutes; it deploys copies of the shipped stack "
        "and a stack of 100 services under their own project names, and the shipped stack on "
        "three swarm nodes of its own, and removes everything afterwards). "
        f"Medians; {RUNS} runs per command unless noted. Machine: {machine()}.",
        "",
        "## Targets",
        "",
        "| target | measured | |",
        "|---|---|---|",
    ]
    for target, measured, held in targets(rows):
        lines.append(f"| {target} | {measured} | {verdict(held)} |")
    lines += [
        "",
        "## 1. No-op redeploy of the running stack",
        "",
        "| command | median | vs stackgen |",
        "|---|---|---|",
        f"| `stackgen up` | {sg * 1000:.0f} ms | 1.00x |",
        f"| `docker compose up -d --build --wait` | {build * 1000:.0f} ms | {build / sg:.2f}x |",
        f"| `docker compose up -d --wait` | {bare * 1000:.0f} ms | {bare / sg:.2f}x |",
        "",
        f"stackgen is **{build / sg:.1f}x faster** than `--build` (target: at least 3x, "
        f"{verdict(build / sg >= 3)}) and **{ratio:.1f}x faster** than a bare `--wait` on the "
        f"same file and project (target: at least 15x, {verdict(ratio >= 15)}; the median of "
        f"{RUNS} paired ratios: each round runs both, which goes first alternating; the "
        "`--build` ratio is of the medians). Every "
        "timed `stackgen up` is a no-op: an untimed one runs first, `stackgen diff "
        "--exit-code` then finds nothing to change, and no container differs after the timed "
        "runs. `--build` is timed last, because it rebuilds with BuildKit and retags the "
        "images.",
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
        f"{2 if SMOKE else 5} `down`/`up` cycles: **{rows['healthy']:.2f} s** (target: under "
        f"3 s, {verdict(rows['healthy'] < 3)}).",
        "",
        render_drops(rows["drops"]),
        render_observe(rows["observe"]),
        render_many(rows["many"]),
        render_order(rows["order"]),
        bench_swarm.render(rows["swarm"]),
    ]
    return "\n".join(lines)


def render_observe(observe):
    lines = [
        "## 7. `stackgen status` and `stackgen diff` on the unchanged running stack",
        "",
        "The shipped stack of section 1, running and in sync (`status` exits 0), timed "
        "right after its no-op redeploys.",
        "",
        "| command | median | target: under 60 ms |",
        "|---|---|---|",
    ]
    for cmd, t in observe.items():
        lines.append(f"| `{cmd}` | {t * 1000:.0f} ms | {verdict(t < 0.060)} |")
    return "\n".join(lines + [""])


def render_many(many):
    n = many["services"]
    return "\n".join([
        f"## 8. No-op redeploy of a stack of {n} services",
        "",
        f"{n} `python-web` services built from `apps/hello` (no published port, so no edge; "
        "health checks every 10 s instead of the default 1 s, so that their probes do not "
        f"keep both cores busy while stackgen is timed), under a project of their own. The "
        f"first deploy, {n} images built (each service's tag is its own hash) and {n} "
        f"containers started: {many['deploy']:.0f} s. Then, after one untimed no-op, "
        f"no-op `stackgen up`: **{many['noop'] * 1000:.0f} ms** (target: under 150 ms, "
        f"{verdict(many['noop'] < 0.150)}); no container changed.",
        "",
    ])


def render_order(order):
    (old, t_old), (new, t_new) = order["times"].items()
    steps = order["steps"]
    return "\n".join([
        "## 9. One app change: the Dockerfile's order",
        "",
        "`DOCKER_BUILDKIT=0 docker build -q` of `apps/hello` after one line is appended to "
        "its `app.py` (untimed, hyperfine's `--prepare`): the shipped Dockerfile against the "
        "same file with `COPY app.py` moved back before `USER`, as it was. The classic "
        "builder (the only one here: no buildx) re-runs every step after the first changed "
        "one, each in a container of its own; everything before the `COPY` (the packages) "
        "comes from its cache in both. "
        + (f"Medians of {order['rounds']} paired rounds (each builds both, which goes first "
           "alternating)." if order["rounds"] > 1 else "One paired round."),
        "",
        "| Dockerfile | steps re-run | median |",
        "|---|---|---|",
        f"| {old} | {steps[old]} | {t_old:.2f} s |",
        f"| {new} | {steps[new]} | {t_new:.2f} s |",
        "",
        f"The shipped order builds an app change **{order['ratio']:.1f}x faster** (the median "
        "of the paired ratios). `stackgen up` also gives every image its input hash as a "
        "label, which the classic builder adds as one more step at the end, in both orders.",
        "",
    ])


if __name__ == "__main__":
    sys.exit(main())
