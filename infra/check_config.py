#!/usr/bin/env python3
"""Checks that the deployment files agree with the Rust code.

For docker-compose.yml and the Kubernetes manifests under infra/k8s (base resources, the overlays'
patches and the Secret template), and for the Dockerfile and skaffold.yaml:

* every environment variable given to a service is one that service reads (keys extracted from the
  Rust sources: the `EnvReader` calls `r.string("X"`, `r.parse("X"`, `r.within("X"`,
  `r.at_least("X"`, `r.millis("X"`, `r.bool("X"`, `r.secret("X"`,
  `r.secret_exact("X"`, `r.url("X"`, `r.list("X"`, `r.opt_string("X"`, helpers called as
  `f(&mut r, "X"`, `env.get("X")`, `std::env::var("X")`, and `RUST_LOG` where tracing's
  `EnvFilter::*_default_env` is used), and every key it requires (`secret`/`secret_exact`) is given;
* each compose service / Deployment is mapped to its crate by build arg `SERVICE` / image name;
* `PORT`, `containerPort`, Service ports and published ports equal the port the code defaults to;
* probe paths exist in the crate's routes (and readiness uses /ready, liveness /health);
* service URLs (`*_SERVICE_URL`, `EVENT_BUS_URL`, `EVENT_SUBSCRIBERS`) point to the right service
  and port; `DATABASE_URL` names the service's own MongoDB database (ecommerce_<name>), with
  credentials and `authSource=admin`;
* the Ingress routes exactly the public paths to the gateway (`/api`, `/health`, `/docs`,
  `/openapi.json`, `/openapi.yaml`) and nothing that covers `/metrics` or `/ready`;
* ConfigMap/Secret references exist; production sets PAYLOAD_MAC=required and DEV_TOOLS=false;
  every service's Deployment runs at least two replicas, rolls with none unavailable, and has
  an HPA (minReplicas >= 2) and a PodDisruptionBudget keeping one pod.

Usage: check_config.py [--root REPO]   (exit 1 naming every mismatch)
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from urllib.parse import urlparse

import yaml

READER_CALL = re.compile(
    r"\br\s*\.\s*(?:string|parse|within|at_least|millis|bool|secret|secret_exact|url|list|opt_string)\s*(?:::<[^>]*>)?\s*\(\s*\"([A-Z][A-Z0-9_]*)\""
)
REQUIRED_CALL = re.compile(r"\br\s*\.\s*(?:secret|secret_exact)\s*\(\s*\"([A-Z][A-Z0-9_]*)\"")
HELPER_CALL = re.compile(r"\(\s*&mut\s+r\s*,\s*\"([A-Z][A-Z0-9_]*)\"")
ENV_GET = re.compile(r"\benv\s*\.\s*get\s*\(\s*\"([A-Z][A-Z0-9_]*)\"\s*\)")
STD_ENV = re.compile(r"\benv::var(?:_os)?\s*\(\s*\"([A-Z][A-Z0-9_]*)\"\s*\)")
ROUTE = re.compile(r"\.route\s*\(\s*\"(/[^\"]*)\"")
DB_DEFAULT = re.compile(r"r\s*\.\s*string\s*\(\s*\"DATABASE_URL\"\s*,\s*\"sqlite://data/([a-z_]+)\.db\"")
COMMON_READ = re.compile(
    r"CommonConfig::(?:read\s*\(\s*&mut\s+r|reader\s*\(\s*env)\s*,\s*([A-Z_0-9]+|\d+)\s*\)"
)
# The operations routes (/health, /ready, /metrics) a crate gets from `shared::ops::service_router`.
OPS_ROUTES_FN = re.compile(r"pub fn service_router\b.*?\n\}\n", re.S)
CONST_U16 = re.compile(r"const\s+([A-Z_][A-Z0-9_]*)\s*:\s*u16\s*=\s*(\d+)\s*;")

SERVICES = ["api-gateway", "auth-service", "product-service", "order-service", "payment-service", "event-bus"]
URL_KEYS = {
    "AUTH_SERVICE_URL": "auth-service",
    "PRODUCT_SERVICE_URL": "product-service",
    "ORDER_SERVICE_URL": "order-service",
    "PAYMENT_SERVICE_URL": "payment-service",
    "EVENT_BUS_URL": "event-bus",
}
SUBSCRIBERS = {"orders": "order-service", "payments": "payment-service"}
# What the Ingress may route to the gateway (README: the API, liveness, the docs page and the API's
# document), and the gateway routes that must stay inside the cluster.
PUBLIC_PATHS = {"/api", "/health", "/docs", "/openapi.json", "/openapi.yaml"}
PRIVATE_PATHS = ["/metrics", "/ready"]


def ingress_covers(path: str, path_type: str, target: str) -> bool:
    """Whether an Ingress path of `path_type` sends `target` to its backend (ingress-nginx:
    Prefix by path element, ImplementationSpecific without regex as a plain string prefix)."""
    if path_type == "Exact":
        return target == path
    if path_type == "Prefix":
        base = path.rstrip("/")
        return base == "" or target == base or target.startswith(base + "/")
    return target.startswith(path)


def interpolated(v):
    """A compose value with `${VAR…}` interpolations replaced by a plain word, so URLs parse."""
    return re.sub(r"\$\{[^}]*\}", "x", v) if isinstance(v, str) else v


class Failures(list):
    def add(self, where: str, msg: str) -> None:
        self.append(f"{where}: {msg}")


def strip_tests(src: str) -> str:
    """Drops `#[cfg(test)]` items (test modules and functions) so test fixtures don't count as reads."""
    out, i = [], 0
    while True:
        j = src.find("#[cfg(test)]", i)
        if j < 0:
            out.append(src[i:])
            return "".join(out)
        out.append(src[i:j])
        k = src.find("{", j)
        semi = src.find(";", j)
        if k < 0 or (0 <= semi < k):
            i = semi + 1 if semi >= 0 else len(src)
            continue
        depth, p = 0, k
        while p < len(src):
            if src[p] == "{":
                depth += 1
            elif src[p] == "}":
                depth -= 1
                if depth == 0:
                    break
            p += 1
        i = p + 1


def rust_sources(d: Path) -> str:
    return "\n".join(strip_tests(f.read_text(encoding="utf-8")) for f in sorted(d.rglob("*.rs")))


class Crate:
    def __init__(self, name: str, path: Path, shared_src: str):
        self.name, self.path = name, path
        own = rust_sources(path / "src")
        both = own + "\n" + shared_src
        self.keys = set()
        for rx in (READER_CALL, HELPER_CALL, ENV_GET, STD_ENV):
            self.keys |= set(rx.findall(both))
        if re.search(r"EnvFilter::(?:try_)?from_default_env", both):
            self.keys.add("RUST_LOG")
        self.required = set(REQUIRED_CALL.findall(both))
        self.routes = set(ROUTE.findall(own))
        if re.search(r"\bservice_router\s*\(", own):
            body = OPS_ROUTES_FN.search(shared_src)
            self.routes |= set(ROUTE.findall(body.group(0))) if body else set()
        m = DB_DEFAULT.search(own)
        self.db = m.group(1) if m else None
        self.port = None
        m = COMMON_READ.search(own)
        if m:
            arg = m.group(1)
            if arg.isdigit():
                self.port = int(arg)
            else:
                consts = dict(CONST_U16.findall(own))
                self.port = int(consts[arg]) if arg in consts else None


def load_crates(root: Path, fails: Failures) -> dict[str, Crate]:
    shared_src = rust_sources(root / "crates" / "shared" / "src")
    crates = {}
    for name in SERVICES:
        path = None
        for manifest in list(root.glob("*/Cargo.toml")) + list(root.glob("crates/*/Cargo.toml")):
            text = manifest.read_text(encoding="utf-8")
            m = re.search(r"^\[package\][^\[]*?^name\s*=\s*\"([^\"]+)\"", text, re.M | re.S)
            if m and m.group(1) == name:
                path = manifest.parent
                if not re.search(rf"^name\s*=\s*\"{re.escape(name)}\"", text.split("[package]", 1)[1], re.M):
                    fails.add(str(manifest), "no binary target")
        if path is None:
            fails.add("Cargo workspace", f"no package named {name}")
            continue
        c = Crate(name, path, shared_src)
        if c.port is None:
            fails.add(name, "cannot find the default port (CommonConfig::reader(env, PORT)) in the sources")
        if not c.keys:
            fails.add(name, "no environment keys found in the sources (extraction broken?)")
        crates[name] = c
    return crates


def check_env(where: str, crate: Crate, env: dict, fails: Failures, cfg: dict | None = None) -> None:
    names = set(env)
    for k in sorted(names - crate.keys):
        fails.add(where, f"sets {k}, which {crate.name} never reads")
    for k in sorted(crate.required - names):
        fails.add(where, f"does not set {k}, which {crate.name} requires")
    port = env.get("PORT")
    if port is None:
        fails.add(where, "does not set PORT")
    elif str(port) != str(crate.port):
        fails.add(where, f"PORT={port}, but {crate.name} listens on {crate.port} by default (code)")
    db = env.get("DATABASE_URL")
    if crate.db is None and "DATABASE_URL" in names:
        fails.add(where, f"sets DATABASE_URL, but {crate.name} has no database")
    if crate.db is not None:
        if db is None:
            fails.add(where, "does not set DATABASE_URL (production runs on MongoDB)")
        elif isinstance(db, str) and not db.startswith("<secret"):
            u = urlparse(interpolated(db))
            if u.scheme != "mongodb" or u.path.lstrip("/") != f"ecommerce_{crate.db}":
                fails.add(where, f"DATABASE_URL should be mongodb://…/ecommerce_{crate.db} (got {u.scheme}://…{u.path})")
            # MongoDB runs with authentication: the application user is defined in `admin`.
            if not (u.username and u.password) or "authSource=admin" not in u.query.split("&"):
                fails.add(where, "DATABASE_URL should carry the application user's credentials and ?authSource=admin")


def check_urls(where: str, env: dict, resolve, fails: Failures) -> None:
    """`resolve(host, port)` returns the crate name serving host:port, or None."""
    for key, target in URL_KEYS.items():
        v = interpolated(env.get(key))
        if isinstance(v, str):
            u = urlparse(v)
            got = resolve(u.hostname, u.port)
            if got != target:
                fails.add(where, f"{key}={v} does not reach {target} (resolves to {got or 'nothing'})")
    subs = interpolated(env.get("EVENT_SUBSCRIBERS"))
    if isinstance(subs, str):
        seen = {}
        for item in filter(None, (s.strip() for s in subs.split(","))):
            name, _, url = item.partition("=")
            u = urlparse(url)
            seen[name] = resolve(u.hostname, u.port)
        if seen != SUBSCRIBERS:
            fails.add(where, f"EVENT_SUBSCRIBERS should deliver to orders and payments (got {subs!r} -> {seen})")


# ---------------------------------------------------------------- compose
def check_compose(root: Path, crates: dict[str, Crate], fails: Failures) -> int:
    path = root / "docker-compose.yml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    services = doc.get("services", {})
    by_name, checked = {}, 0
    for name, svc in services.items():
        build = svc.get("build")
        if not build:
            continue
        args = build.get("args", {}) if isinstance(build, dict) else {}
        pkg = args.get("SERVICE")
        where = f"docker-compose.yml services.{name}"
        if pkg not in crates:
            fails.add(where, f"build arg SERVICE={pkg!r} is not one of {SERVICES}")
            continue
        if build.get("dockerfile", "Dockerfile") not in ("Dockerfile", "infra/Dockerfile"):
            fails.add(where, f"builds from {build.get('dockerfile')}, not the shared Dockerfile")
        image = svc.get("image", "")
        if image.split(":")[0] != f"ecommerce/{pkg}":
            fails.add(where, f"image {image!r} does not match build arg SERVICE={pkg}")
        by_name[name] = pkg
    missing = set(SERVICES) - set(by_name.values())
    if missing:
        fails.add("docker-compose.yml", f"no service built with SERVICE={sorted(missing)}")

    def resolve(host, port):
        pkg = by_name.get(host)
        if pkg and str(services[host].get("environment", {}).get("PORT")) == str(port):
            return pkg
        return None

    for name, pkg in by_name.items():
        svc, crate = services[name], crates[pkg]
        where = f"docker-compose.yml services.{name} ({pkg})"
        env = svc.get("environment", {})
        if isinstance(env, list):
            env = dict(e.split("=", 1) if "=" in e else (e, None) for e in env)
        check_env(where, crate, env, fails)
        check_urls(where, env, resolve, fails)
        for k in sorted(crate.required & set(env)):
            if "${" not in str(env[k]):
                fails.add(where, f"{k} has a literal value; secrets must come from .env (${{{k}:?…}})")
        hc = svc.get("healthcheck", {}).get("test", [])
        if "--healthcheck" not in hc:
            fails.add(where, "healthcheck does not run the binary's --healthcheck")
        for p in svc.get("ports", []) or []:
            target = str(p).rsplit(":", 1)[-1].split("/")[0]
            if target != str(crate.port):
                fails.add(where, f"publishes container port {target}, but the service listens on {crate.port}")
            if pkg != "api-gateway":
                fails.add(where, "publishes a port; only the gateway is published by default")
        for dep, cond in (svc.get("depends_on") or {}).items():
            if not isinstance(cond, dict) or cond.get("condition") != "service_healthy":
                fails.add(where, f"depends_on {dep} without condition: service_healthy")
        if pkg == "api-gateway" and "DEV_TOOLS" in env and str(env["DEV_TOOLS"]) not in ("false", "${DEV_TOOLS:-false}"):
            fails.add(where, f"DEV_TOOLS must default to false (got {env['DEV_TOOLS']!r})")
        checked += 1
    example = root / ".env.example"
    if not example.exists():
        fails.add(".env.example", "missing")
    else:
        secret_like = re.compile(r"(SECRET|KEY|TOKEN|PASSWORD)$")
        for line in example.read_text(encoding="utf-8").splitlines():
            k, eq, v = line.partition("=")
            if eq and not line.lstrip().startswith("#") and secret_like.search(k.strip()) and v.strip():
                fails.add(".env.example", f"{k.strip()} has a value; leave secrets empty (CHANGE-ME)")
    for name, svc in services.items():
        if name not in by_name and svc.get("ports"):
            fails.add(f"docker-compose.yml services.{name}", "publishes a port; only the gateway is published")
    return checked


# ---------------------------------------------------------------- kubernetes
def load_yaml_docs(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]


def check_k8s(root: Path, crates: dict[str, Crate], fails: Failures) -> int:
    k8s = root / "infra" / "k8s"
    base = k8s / "base"
    kust = yaml.safe_load((base / "kustomization.yaml").read_text(encoding="utf-8"))
    listed = {base / r for r in kust.get("resources", [])}
    on_disk = set(base.glob("*.yaml")) - {base / "kustomization.yaml"}
    for f in sorted(on_disk - listed):
        fails.add(str(f.relative_to(root)), "not listed in base/kustomization.yaml resources")
    docs = []
    for f in sorted(listed):
        if not f.exists():
            fails.add("infra/k8s/base/kustomization.yaml", f"lists missing file {f.name}")
            continue
        docs += [(f, d) for d in load_yaml_docs(f)]
    kinds = lambda k: [(f, d) for f, d in docs if d.get("kind") == k]
    configmaps = {d["metadata"]["name"]: d.get("data", {}) for _, d in kinds("ConfigMap")}
    template = k8s / "secret.template.yaml"
    secret_keys = set()
    if template.exists():
        for d in load_yaml_docs(template):
            if d.get("kind") == "Secret":
                secret_keys |= set((d.get("stringData") or {}).keys()) | set((d.get("data") or {}).keys())
                for v in list((d.get("stringData") or {}).values()) + list((d.get("data") or {}).values()):
                    if v not in ("", None):
                        fails.add("infra/k8s/secret.template.yaml", "holds a value; the template must stay empty")
    else:
        fails.add("infra/k8s", "secret.template.yaml is missing")
    cfg = configmaps.get("app-config", {})
    if str(cfg.get("PAYLOAD_MAC")) != "required":
        fails.add("infra/k8s ConfigMap app-config", "production must set PAYLOAD_MAC=required")
    if str(cfg.get("DEV_TOOLS")) != "false":
        fails.add("infra/k8s ConfigMap app-config", "production must set DEV_TOOLS=false")

    # Services: name -> (selector app, {port: targetPort})
    services = {}
    for _, d in kinds("Service"):
        spec = d["spec"]
        services[d["metadata"]["name"]] = (spec.get("selector", {}).get("app"),
                                           {p["port"]: p.get("targetPort", p["port"]) for p in spec.get("ports", [])})
    deployments = {}
    checked = 0
    for f, d in kinds("Deployment"):
        where0 = f"{f.relative_to(root)} Deployment {d['metadata']['name']}"
        spec = d["spec"]
        pod = spec["template"]["spec"]
        app = spec["template"]["metadata"].get("labels", {}).get("app")
        for c in pod["containers"]:
            repo = c["image"].rsplit(":", 1)[0] if ":" in c["image"].split("/")[-1] else c["image"]
            pkg = repo.split("/")[-1]
            where = f"{where0} container {c['name']}"
            if not repo.startswith("ecommerce/") or pkg not in crates:
                fails.add(where, f"image {c['image']!r} is not ecommerce/<one of {SERVICES}>")
                continue
            crate = crates[pkg]
            deployments[pkg] = (d, c, app)
            env, values = {}, {}
            for e in c.get("env", []):
                name = e["name"]
                if "value" in e:
                    env[name] = e["value"]
                elif "configMapKeyRef" in e.get("valueFrom", {}):
                    ref = e["valueFrom"]["configMapKeyRef"]
                    data = configmaps.get(ref["name"])
                    if data is None or ref["key"] not in data:
                        fails.add(where, f"{name} refers to missing ConfigMap key {ref['name']}/{ref['key']}")
                        env[name] = None
                    else:
                        env[name] = data[ref["key"]]
                elif "secretKeyRef" in e.get("valueFrom", {}):
                    ref = e["valueFrom"]["secretKeyRef"]
                    if ref["name"] != "app-secrets" or ref["key"] not in secret_keys:
                        fails.add(where, f"{name} refers to {ref['name']}/{ref['key']}, not a key of secret.template.yaml")
                    env[name] = f"<secret {ref['key']}>"
                else:
                    env[name] = None
            for ef in c.get("envFrom", []):
                fails.add(where, f"uses envFrom {ef}; name each variable so it can be checked")
            check_env(where, crate, env, fails)
            ports = {p.get("name"): p["containerPort"] for p in c.get("ports", [])}
            if list(ports.values()) != [crate.port]:
                fails.add(where, f"containerPort {list(ports.values())}, but {pkg} listens on {crate.port}")
            for probe_name, want in (("readinessProbe", "/ready"), ("livenessProbe", "/health"), ("startupProbe", None)):
                probe = c.get(probe_name)
                if not probe:
                    fails.add(where, f"has no {probe_name}")
                    continue
                hg = probe.get("httpGet")
                if not hg:
                    fails.add(where, f"{probe_name} is not an httpGet probe")
                    continue
                if hg["path"] not in crate.routes:
                    fails.add(where, f"{probe_name} path {hg['path']} is not a route of {pkg} (routes: {sorted(crate.routes)})")
                if want and hg["path"] != want:
                    fails.add(where, f"{probe_name} should probe {want} (got {hg['path']})")
                port = ports.get(hg["port"], hg["port"])
                if port != crate.port:
                    fails.add(where, f"{probe_name} port {hg['port']} is not the service port {crate.port}")
            sc = c.get("securityContext", {})
            if not (sc.get("runAsNonRoot") and sc.get("readOnlyRootFilesystem") is True
                    and sc.get("allowPrivilegeEscalation") is False and sc.get("capabilities", {}).get("drop") == ["ALL"]):
                fails.add(where, "securityContext must be non-root, read-only root filesystem, no escalation, drop ALL")
            if not c.get("resources", {}).get("requests") or not c.get("resources", {}).get("limits"):
                fails.add(where, "needs resource requests and limits")
            checked += 1
        if spec.get("replicas", 1) < 2:
            fails.add(where0, "needs at least 2 replicas")
        rolling = spec.get("strategy", {})
        if rolling.get("type") != "RollingUpdate" or rolling.get("rollingUpdate", {}).get("maxUnavailable") != 0:
            fails.add(where0, "must roll out with strategy RollingUpdate, maxUnavailable 0")
    for pkg in sorted(set(SERVICES) - set(deployments)):
        fails.add("infra/k8s/base", f"no Deployment runs image ecommerce/{pkg}")

    app_to_pkg = {app: pkg for pkg, (_, _, app) in deployments.items()}

    def resolve(host, port):
        svc = services.get(host)
        if not svc or port not in svc[1]:
            return None
        pkg = app_to_pkg.get(svc[0])
        if not pkg:
            return None
        _, c, _ = deployments[pkg]
        target = svc[1][port]
        named = {p.get("name"): p["containerPort"] for p in c.get("ports", [])}
        return pkg if named.get(target, target) == crates[pkg].port else None

    for pkg, (d, c, _) in deployments.items():
        env = {}
        for e in c.get("env", []):
            ref = e.get("valueFrom", {}).get("configMapKeyRef")
            env[e["name"]] = configmaps.get(ref["name"], {}).get(ref["key"]) if ref else e.get("value")
        check_urls(f"infra/k8s Deployment {d['metadata']['name']}", env, resolve, fails)
    check_urls("infra/k8s ConfigMap app-config", cfg, resolve, fails)

    want_srv = {"api-gateway": "api-gateway-srv", "auth-service": "auth-srv", "product-service": "product-srv",
                "order-service": "order-srv", "payment-service": "payment-srv", "event-bus": "event-bus-srv"}
    for pkg, srv in want_srv.items():
        if pkg in crates and resolve(srv, crates[pkg].port) != pkg:
            fails.add("infra/k8s", f"Service {srv}:{crates[pkg].port} does not reach {pkg}")
    scaled = {h["spec"]["scaleTargetRef"]["name"]: h["spec"] for _, h in kinds("HorizontalPodAutoscaler")}
    budgets = [p["spec"] for _, p in kinds("PodDisruptionBudget")]
    for pkg, (d, _, app) in deployments.items():
        name = d["metadata"]["name"]
        hpa = scaled.get(name)
        if not hpa:
            fails.add(f"infra/k8s Deployment {name}", "has no HorizontalPodAutoscaler")
        elif hpa.get("minReplicas", 1) < 2 or hpa.get("maxReplicas", 0) < hpa.get("minReplicas", 1):
            fails.add(f"infra/k8s Deployment {name}", "its HPA needs minReplicas >= 2 <= maxReplicas")
        if not any(b.get("selector", {}).get("matchLabels", {}).get("app") == app and b.get("minAvailable") == 1
                   for b in budgets):
            fails.add(f"infra/k8s Deployment {name}", "has no PodDisruptionBudget with minAvailable 1")
    for _, ing in kinds("Ingress"):
        routed = set()
        for rule in ing["spec"].get("rules", []):
            for p in rule.get("http", {}).get("paths", []):
                b = p["backend"]["service"]
                if resolve(b["name"], b["port"].get("number")) != "api-gateway":
                    fails.add("infra/k8s Ingress", f"backend {b} is not the gateway")
                path, path_type = p.get("path", "/"), p.get("pathType", "ImplementationSpecific")
                routed.add(path)
                if path not in PUBLIC_PATHS:
                    fails.add("infra/k8s Ingress", f"path {path} is not one of the public paths {sorted(PUBLIC_PATHS)}")
                for private in PRIVATE_PATHS:
                    if ingress_covers(path, path_type, private):
                        fails.add("infra/k8s Ingress", f"path {path} ({path_type}) makes {private} public")
                if path_type in ("Exact", "Prefix") and not re.fullmatch(r"/[A-Za-z0-9/_-]*", path):
                    fails.add("infra/k8s Ingress",
                              f"path {path} is {path_type}: ingress-nginx refuses other characters than "
                              "letters, digits, /, _ and - there (use ImplementationSpecific)")
        for missing in sorted(PUBLIC_PATHS - routed):
            fails.add("infra/k8s Ingress", f"public path {missing} is not routed to the gateway")

    # overlay patches that set environment variables must stay within the ConfigMap's keys
    for patch in sorted((k8s / "overlays").rglob("*.yaml")):
        if patch.name == "kustomization.yaml":
            continue
        for d in load_yaml_docs(patch):
            if d.get("kind") == "ConfigMap" and d["metadata"]["name"] == "app-config":
                for k in d.get("data", {}):
                    if k not in cfg:
                        fails.add(str(patch.relative_to(root)), f"patches unknown app-config key {k}")
    return checked


# ---------------------------------------------------------------- Dockerfile, skaffold
def check_dockerfile_and_skaffold(root: Path, crates: dict[str, Crate], fails: Failures) -> None:
    df = root / "Dockerfile"
    if not df.exists():
        df = root / "infra" / "Dockerfile"
    if not df.exists():
        fails.add("Dockerfile", "missing (root or infra/)")
    else:
        text = df.read_text(encoding="utf-8")
        for needle, why in (
            ("ARG SERVICE", "build arg SERVICE"),
            ('cargo build --release --locked -p "$SERVICE"', 'cargo build --release --locked -p "$SERVICE"'),
            ("--healthcheck", "HEALTHCHECK using the binary's --healthcheck"),
        ):
            if needle not in text:
                fails.add(str(df.relative_to(root)), f"lacks {why}")
        if not re.search(r"^USER\s+(?!0\b|root\b)\S+", text, re.M):
            fails.add(str(df.relative_to(root)), "does not switch to a non-root USER")
        if not re.search(r"^ENTRYPOINT\s+\[", text, re.M):
            fails.add(str(df.relative_to(root)), "ENTRYPOINT is not exec form")
        if not re.search(r"^HEALTHCHECK\b.*\n?.*CMD\s+\[", text, re.M):
            fails.add(str(df.relative_to(root)), "HEALTHCHECK is not exec form")
    sk = yaml.safe_load((root / "skaffold.yaml").read_text(encoding="utf-8"))
    arts = sk.get("build", {}).get("artifacts", [])
    got = {}
    for a in arts:
        pkg = a.get("docker", {}).get("buildArgs", {}).get("SERVICE")
        if a["image"] != f"ecommerce/{pkg}":
            fails.add("skaffold.yaml", f"artifact {a['image']} has buildArgs SERVICE={pkg!r}")
        got[pkg] = a["image"]
    if set(got) != set(SERVICES):
        fails.add("skaffold.yaml", f"artifacts should build exactly {SERVICES} (got {sorted(map(str, got))})")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent)
    root = ap.parse_args().root.resolve()
    fails = Failures()
    crates = load_crates(root, fails)
    n_compose = check_compose(root, crates, fails) if crates else 0
    n_k8s = check_k8s(root, crates, fails) if crates else 0
    check_dockerfile_and_skaffold(root, crates, fails)
    if fails:
        print(f"infra config check FAILED ({len(fails)} problem(s)):", file=sys.stderr)
        for f in fails:
            print(f"  - {f}", file=sys.stderr)
        return 1
    for name, c in crates.items():
        print(f"  {name}: port {c.port}, {len(c.keys)} env keys read, routes /health /ready: "
              f"{'/health' in c.routes and '/ready' in c.routes}")
    print(f"infra config check: ok ({n_compose} compose services, {n_k8s} Deployment containers, "
          f"Dockerfile, skaffold.yaml)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
