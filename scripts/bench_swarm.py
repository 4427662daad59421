"""Section 10 of `just bench`: the shipped stack on three swarm nodes of its own rig
(`scripts/nodes.sh`, prefix `sgb`), the images built on the host's engine and pushed to
the rig's registry, the stack deployed through the manager. wrk (bench.py's, every body
checked) runs against every node's edge through each case: the first deploy is timed
alone (the edges do not exist before it), then no-op `up --target swarm` (hyperfine),
one app changed (its `app.py`, a comment; start-first over two replicas), and a node
that runs a task of hello losing power (`nodes.sh kill`), timed from the kill to hello
at full replicas on the other nodes. Everything is removed at the end (`nodes.sh down`,
the images the host built for it).

Run alone with `python3 scripts/bench.py --swarm-only`, which rewrites section 10 of
BENCHMARKS.md and leaves the others as they are.
"""

import json
import os
import re
import shutil
import statistics
import subprocess
import time

PREFIX, NET, PORT = "sgb", "10.94.0", 5005
NODE = [f"{NET}.1{i}" for i in (1, 2, 3)]


def nodes_sh(repo, *args):
    env = dict(os.environ, STACKGEN_NODES_PREFIX=PREFIX, STACKGEN_NODES_NET=NET,
               STACKGEN_NODES_REGISTRY_PORT=str(PORT))
    env.pop("DOCKER_HOST", None)
    return subprocess.run(["bash", os.path.join(repo, "scripts", "nodes.sh"), *args],
                          env=env, text=True, capture_output=True)


def manager(*args):
    return subprocess.run(["docker", "-H", f"unix:///run/{PREFIX}1.sock", *args],
                          text=True, capture_output=True, check=True).stdout.strip()


def hello_nodes(name):
    out = manager("service", "ps", "--filter", "desired-state=running",
                  "--format", "{{.Node}} {{.CurrentState}}", f"{name}_hello")
    return [l.split()[0] for l in out.splitlines() if " Running " in f" {l} "]


def run(b, work, smoke):
    """The section's rows; `b` is the bench module (its sh, hyperfine, Wrk, copy)."""
    repo, sg = b.REPO, b.SG
    name = f"sgbench-swarm-{os.getpid()}"
    proj = os.path.join(work, "swarm")
    env = dict(os.environ, DOCKER_HOST=f"unix:///run/{PREFIX}1.sock",
               STACKGEN_BUILD_HOST=os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock"))
    up = nodes_sh(repo, "up")
    if up.returncode:
        raise RuntimeError(f"nodes.sh up failed:\n{up.stdout}{up.stderr}")
    try:
        b.copy_project(proj, name, ports=[8081, 8082])
        stack_toml = os.path.join(proj, "stack.toml")
        text = open(stack_toml).read()
        text = (text.replace('registry = "127.0.0.1:5000"', f'registry = "127.0.0.1:{PORT}"')
                .replace("wait_timeout = 120", "wait_timeout = 300")
                .replace("publish = 8081", "publish = 8081\nreplicas = 2"))
        open(stack_toml, "w").write(text)
        manager("node", "update", "--label-add", "stackgen.db=true", f"{PREFIX}2")
        up_cmd = [sg, "-C", proj, "up", "--target", "swarm"]

        def sg_run(cmd, expect=0):
            res = subprocess.run(cmd, env=env, text=True, capture_output=True)
            if res.returncode != expect:
                raise RuntimeError(f"{' '.join(cmd)}: exit {res.returncode}\n{res.stderr}")
            return res

        rows = {"memory": engine_memory(nodes_sh(repo, "status").stdout)}
        started = time.monotonic()
        sg_run(up_cmd)
        rows["first"] = time.monotonic() - started
        urls = [f"{n}:8081" for n in NODE]

        def under_load(action):
            loads = [b.Wrk(port, host=addr, addr=addr) for addr, port in
                     (u.split(":") for u in urls)]
            time.sleep(1)
            took = action()
            time.sleep(2)
            reports = [w.finish() for w in loads]
            return took, sum(r["failed"] for r in reports), sum(r["requests"] for r in reports)

        # No-op: proven from the specs, without `docker stack deploy`.
        sg_run(up_cmd)
        noop_cmd = " ".join(up_cmd)
        env_prefix = f"DOCKER_HOST={env['DOCKER_HOST']} STACKGEN_BUILD_HOST={env['STACKGEN_BUILD_HOST']}"
        rows["noop"] = b.hyperfine(work, "swarm-noop", [
            ("stackgen up --target swarm (no-op)", f"{env_prefix} {noop_cmd}")],
            runs=3 if smoke else 10)["stackgen up --target swarm (no-op)"]

        # One app changed, under load on every edge.
        changes = []
        app = os.path.join(proj, "apps", "hello", "app.py")
        original = open(app).read()
        for i in range(1 if smoke else 5):
            open(app, "w").write(f"{original}\n# bench swarm change {i}\n")
            def deploy():
                t0 = time.monotonic()
                sg_run(up_cmd)
                return time.monotonic() - t0
            changes.append(under_load(deploy))
        rows["change"] = (statistics.median(c[0] for c in changes),
                          sum(c[1] for c in changes), sum(c[2] for c in changes), len(changes))

        # A node that runs a hello task loses power; load on the other nodes' edges.
        running = hello_nodes(name)
        victim = next(i for i in (3, 2) if f"{PREFIX}{i}" in running)
        urls = [u for u in urls if not u.startswith(f"{NET}.1{victim}:")]

        def kill():
            t0 = time.monotonic()
            res = nodes_sh(repo, "kill", str(victim))
            if res.returncode:
                raise RuntimeError(res.stderr)
            deadline = t0 + 180
            while True:
                now = hello_nodes(name)
                if len([n for n in now if n != f"{PREFIX}{victim}"]) == 2:
                    return time.monotonic() - t0
                if time.monotonic() > deadline:
                    raise RuntimeError(f"hello not back at 2 replicas: {now}")
                time.sleep(0.5)
        rows["kill"] = under_load(kill)
        return rows
    finally:
        nodes_sh(repo, "down")
        tags = subprocess.run(["docker", "image", "ls", "--format", "{{.Repository}}:{{.Tag}}"],
                              text=True, capture_output=True).stdout.split()
        mine = [t for t in tags if t.startswith(f"{name}/") or f"/{name}/" in t]
        if mine:
            subprocess.run(["docker", "rmi", "--force", "--no-prune", *mine], capture_output=True)
        shutil.rmtree(proj, ignore_errors=True)
        lock_dir = os.environ.get("STACKGEN_LOCK_DIR", "/tmp/stackgen-locks")
        try:
            os.remove(os.path.join(lock_dir, f"{name}.lock"))
        except FileNotFoundError:
            pass


def engine_memory(status):
    """The MiB `nodes.sh status` shows per engine, as a list."""
    return [float(m) for m in re.findall(r"memory: engine (\d+(?:\.\d+)?) MiB", status)]


def render(rows):
    t, failed, requests, rounds = rows["change"]
    took, kfailed, krequests = rows["kill"]
    mem = rows.get("memory") or []
    mem_text = (f" An idle node's engine (dockerd and containerd) held about "
                f"{statistics.median(mem):.0f} MiB before the first deploy (`nodes.sh status`)."
                if mem else "")
    return "\n".join([
        "## 10. Three swarm nodes",
        "",
        "The shipped stack (hello with two replicas) on three engines in network namespaces "
        "(`scripts/nodes.sh`), built on the host's engine, pushed to the rig's registry, "
        "deployed through the manager (`up --target swarm`); wrk (64 keep-alive connections "
        "per edge, every body checked, never retrying) against every node's edge in the "
        "last two cases. `python3 scripts/bench.py --swarm-only` rewrites this section alone.",
        "",
        "| case | time | requests failed |",
        "|---|---|---|",
        f"| first deploy on three nodes (build, push, deploy, converge) | {rows['first']:.1f} s | - |",
        f"| no-op `up --target swarm` (median of hyperfine runs) | {rows['noop'] * 1000:.0f} ms | - |",
        f"| one app changed, start-first over 2 replicas (median of {rounds}) | {t:.1f} s "
        f"| {failed} of {requests} |",
        f"| a node with a hello task loses power: hello at full replicas elsewhere | {took:.1f} s "
        f"| {kfailed} of {krequests} |",
        "",
        "A change waits for Swarm's rolling update, task by task, and then for its monitor "
        "period (15 s for an app: a new task that fails within it is still rolled back), "
        "so it ends well after the new tasks serve. "
        "A request an edge had already sent to the task on the node that died cannot be "
        "tried again (it may have run there), so up to one per connection may be lost "
        "there; a connection that fails before a request is sent is retried on another "
        "task." + mem_text,
        "",
    ])


def splice(report_path, section):
    """BENCHMARKS.md with section 10 replaced by (or appended as) `section`."""
    text = open(report_path).read()
    start = text.find("## 10. Three swarm nodes")
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        end = text.find("\n## ", start + 1)
        text = text[:start] + section + (text[end + 1:] if end >= 0 else "")
    open(report_path, "w").write(text)


if __name__ == "__main__":
    raise SystemExit("run through scripts/bench.py --swarm-only")
