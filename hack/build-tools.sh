#!/usr/bin/env bash
# Builds the real toolchain from Go modules into a cache outside the repo:
#   kube-apiserver + kube-controller-manager, etcd, the Pulumi CLI with its Python
#   language host and dynamic-provider plugin script, and helm.
# Idempotent: a tool whose stamped binary already exists is skipped, so a warm run takes seconds.
# Usage: hack/build-tools.sh [kube|etcd|pulumi|helm ...]   (default: all)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
source "$HERE/versions.env"
TOOLS=${NEON_CKPT_TOOLS:-$HOME/.cache/neon-checkpoints-tools}
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-trimpath
# Two cores: one package at a time keeps peak memory low and leaves a core for the rest of the machine.
JOBS=${GO_BUILD_JOBS:-2}

log() { printf '[build-tools] %s\n' "$*" >&2; }

build_kube() {
  local out="$TOOLS/kube-$KUBE_VERSION"
  if [[ -x $out/bin/kube-apiserver && -x $out/bin/kube-controller-manager && -x $out/bin/kubectl ]]; then return; fi
  log "building kube-apiserver, kube-controller-manager and kubectl v$KUBE_VERSION (cold: 15-30 min)"
  mkdir -p "$out/src" "$out/bin"; cd "$out/src"
  printf 'module local/k8s-bins\n\ngo 1.25.0\n\ngodebug default=go1.25\n' > go.mod
  # k8s.io/kubernetes requires its staging modules at v0.0.0 with local replaces that a
  # dependency cannot use: replace each with its published twin, read from the real go.mod.
  local kmod minor m
  kmod=$(go mod download -json "k8s.io/kubernetes@v$KUBE_VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')
  for m in $(awk '$1 ~ /^k8s\.io\// && $2 == "v0.0.0" {print $1}' "$kmod" | sort -u); do
    go mod edit -replace="$m=$m@v0.${KUBE_VERSION#1.}"
  done
  go get -tool "k8s.io/kubernetes/cmd/kube-apiserver@v$KUBE_VERSION"
  go get -tool "k8s.io/kubernetes/cmd/kube-controller-manager@v$KUBE_VERSION"
  # kubectl from the same module: the Debian/cloud-sdk kubectl (1.32) is outside the +-1 skew of a 1.35 server.
  go get -tool "k8s.io/kubernetes/cmd/kubectl@v$KUBE_VERSION"
  go mod tidy
  minor=$(echo "$KUBE_VERSION" | cut -d. -f2)
  local ld="-s -w" p
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld="$ld -X $p.gitVersion=v$KUBE_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor"
    ld="$ld -X $p.gitTreeState=clean -X $p.gitCommit=0000000000000000000000000000000000000000"
    ld="$ld -X $p.buildDate=1970-01-01T00:00:00Z"
  done
  local cmd
  for cmd in kube-apiserver kube-controller-manager kubectl; do
    go build -p "$JOBS" -tags selinux,notest -ldflags "$ld" -o "$out/bin/$cmd.tmp" "k8s.io/kubernetes/cmd/$cmd"
    mv "$out/bin/$cmd.tmp" "$out/bin/$cmd"
  done
  "$out/bin/kube-apiserver" --version
}

build_etcd() {
  local out="$TOOLS/etcd-$ETCD_VERSION"
  if [[ -x $out/bin/etcd ]]; then return; fi
  log "building etcd v$ETCD_VERSION (cold: 2-5 min)"
  mkdir -p "$out/src" "$out/bin"; cd "$out/src"
  # Its own module, so etcd's server does not move the k8s build's pinned grpc/otel versions.
  printf 'module local/etcd-bin\n\ngo 1.25.0\n' > go.mod
  go get -tool "go.etcd.io/etcd/server/v3@v$ETCD_VERSION"
  go mod tidy
  go build -p "$JOBS" -ldflags "-s -w" -o "$out/bin/etcd.tmp" go.etcd.io/etcd/server/v3
  mv "$out/bin/etcd.tmp" "$out/bin/etcd"
  "$out/bin/etcd" --version
}

build_pulumi() {
  local out="$TOOLS/pulumi-$PULUMI_VERSION" langhost_hash
  # The language host is our own code: rebuild it whenever its sources change (the CLI only when missing).
  langhost_hash=$(cat "$HERE"/pulumi-language-python/*.go | sha256sum | cut -d' ' -f1)
  if [[ -x $out/bin/pulumi && -x $out/bin/pulumi-language-python && -x $out/bin/pulumi-language-python-exec \
        && -x $out/bin/pulumi-resource-pulumi-python \
        && $(cat "$out/bin/.langhost-src" 2>/dev/null) == "$langhost_hash" ]]; then return; fi
  mkdir -p "$out/src" "$out/bin"; cd "$out/src"
  cat > go.mod <<GOMOD
module local/pulumi-bins

go 1.25.11

replace github.com/atotto/clipboard => github.com/tgummerer/clipboard v0.0.0-20241001131231-d02d263e614e
GOMOD
  # Our own small language host (hack/pulumi-language-python): upstream's module is untagged and the
  # module proxy does not serve its pseudo-versions, so it cannot be built from there.
  rm -rf langhost && cp -r "$HERE/pulumi-language-python" langhost
  go get -tool "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi@v$PULUMI_VERSION"
  go get "github.com/pulumi/pulumi/sdk/v3@v$PULUMI_VERSION"
  go mod tidy
  grep -qE "pulumi/pkg/v3 v$PULUMI_VERSION( |\$)" go.mod
  grep -qE "pulumi/sdk/v3 v$PULUMI_VERSION( |\$)" go.mod
  local ld="-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$PULUMI_VERSION"
  if [[ ! -x $out/bin/pulumi ]]; then
    log "building the Pulumi CLI v$PULUMI_VERSION (cold: 15-30 min)"
    go build -p "$JOBS" -tags osusergo,grpcnotrace -ldflags "$ld" -o "$out/bin/pulumi.tmp" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
    mv "$out/bin/pulumi.tmp" "$out/bin/pulumi"
  fi
  log "testing and building the project's Python language host (hack/pulumi-language-python)"
  go test -p "$JOBS" ./langhost
  go build -p "$JOBS" -tags osusergo,grpcnotrace -ldflags "$ld" -o "$out/bin/pulumi-language-python.tmp" ./langhost
  mv "$out/bin/pulumi-language-python.tmp" "$out/bin/pulumi-language-python"
  # The exec script and the dynamic-provider plugin are plain files in the sdk/v3 module zip (modes are lost).
  local sdk
  sdk=$(go list -m -f '{{.Dir}}' "github.com/pulumi/pulumi/sdk/v3")
  install -m 0755 "$sdk/python/cmd/pulumi-language-python-exec" "$out/bin/"
  install -m 0755 "$sdk/python/dist/pulumi-resource-pulumi-python" "$out/bin/"
  echo "$langhost_hash" > "$out/bin/.langhost-src"
  "$out/bin/pulumi" version
}

build_helm() {
  local out="$TOOLS/helm-$HELM_VERSION"
  # Recipe stamp: a binary built with older flags is rebuilt (cheap with a warm Go cache).
  local recipe="ldflags-v2"
  if [[ -x $out/bin/helm && "$(cat "$out/bin/.recipe" 2>/dev/null)" == "$recipe" ]]; then return; fi
  log "building helm v$HELM_VERSION (cold: 3-8 min)"
  mkdir -p "$out/src" "$out/bin"; cd "$out/src"
  printf 'module local/helm-bin\n\ngo 1.25.0\n' > go.mod
  go get -tool "helm.sh/helm/v3/cmd/helm@v$HELM_VERSION"
  go mod tidy
  # Like helm's Makefile: the Kubernetes version helm assumes offline (`helm template`, lint deprecations)
  # is that of the client-go it was built with; unset, it would be v1.20 and refuse kubeVersion >=1.29.
  local kminor ld="-s -w -X helm.sh/helm/v3/internal/version.version=v$HELM_VERSION" p
  kminor=$(go list -m -f '{{.Version}}' k8s.io/client-go | cut -d. -f2)
  for p in helm.sh/helm/v3/pkg/chartutil helm.sh/helm/v3/pkg/lint/rules; do
    ld="$ld -X $p.k8sVersionMajor=1 -X $p.k8sVersionMinor=$kminor"
  done
  go build -p "$JOBS" -ldflags "$ld" -o "$out/bin/helm.tmp" helm.sh/helm/v3/cmd/helm
  mv "$out/bin/helm.tmp" "$out/bin/helm"
  echo "$recipe" > "$out/bin/.recipe"
  "$out/bin/helm" version --short
}

targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(etcd kube pulumi helm)
for t in "${targets[@]}"; do
  case $t in
    kube|etcd|pulumi|helm) (build_"$t") ;;
    *) log "unknown tool '$t' (expected kube, etcd, pulumi or helm)"; exit 2 ;;
  esac
done
