#!/usr/bin/env bash
# Validates the deployment files; exits non-zero on any error. Needs Java 17 and Maven (Maven Central), Node.js
# and npm (npm registry), and
# Docker Compose: `docker compose` where the plugin is installed, otherwise Debian's docker-compose package,
# installed here when missing (as root). No Docker engine is needed.
#
#   docker-compose.yml, docker-compose.gpu.yml  the Compose schema and model of the Compose implementation
#                                               (`config`), then the settings, health checks and topics
#   k8s/**                                      Kubernetes OpenAPI schema (Kubernetes' Java client models),
#                                               Strimzi's KafkaTopic and KafkaUser CRD schemas, references between objects
#   processor/Dockerfile, trainer/Dockerfile    stages, build sources inside the build context, alike but for the service
#   ServiceMonitor, ScaledObject                the models published on npm for the Prometheus Operator and KEDA
#                                               (custom-resources/, needs Node.js and npm)
#
# The checks themselves: tools/deploy-validate/src/main/java/io/slmclassifier/deploy/ValidateDeploy.java.
set -euo pipefail
cd "$(dirname "$0")/.."

tool=tools/deploy-validate
mkdir -p "$tool/target"

# --- Compose: resolve (and so validate) each configuration with a real Compose implementation.
if docker compose version > /dev/null 2>&1; then
  compose=(docker compose)
else
  if ! command -v docker-compose > /dev/null 2>&1; then
    if [ "$(id -u)" != 0 ]; then
      echo "validate-deploy: neither 'docker compose' nor docker-compose found (apt-get install docker-compose)" >&2
      exit 1
    fi
    echo "validate-deploy: installing docker-compose (Debian)"
    apt-get update -qq > /dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker-compose > /dev/null
  fi
  compose=(docker-compose)
fi
resolved=()
mkdir -p "$tool/target/compose"
: > "$tool/target/compose/empty.env"
for files in "docker-compose.yml" "docker-compose.yml docker-compose.gpu.yml"; do
  args=()
  for f in $files; do args+=(-f "$f"); done
  out="$tool/target/compose/$(echo "$files" | tr ' ' '+')"
  # Neither an .env file nor the shell's variables may change what is checked.
  if ! env -i PATH="$PATH" HOME="${HOME:-/root}" "${compose[@]}" --project-directory . --env-file "$tool/target/compose/empty.env" \
      "${args[@]}" config > "$out"; then
    echo "validate-deploy: $files is not a valid Compose configuration" >&2
    exit 1
  fi
  resolved+=("$out")
done

# --- Kubernetes, Strimzi, references, Dockerfiles.
mvn -B -ntp -q -Dstyle.color=never -f "$tool/pom.xml" compile dependency:build-classpath -Dmdep.outputFile=target/classpath.txt
java -cp "$tool/target/classes:$(cat "$tool/target/classpath.txt")" io.slmclassifier.deploy.ValidateDeploy . "${resolved[@]}"

# --- Operators' custom resources (ServiceMonitor, ScaledObject) that ValidateDeploy collected: their npm models.
(cd "$tool/custom-resources" && npm ci --no-audit --no-fund --silent)
node "$tool/custom-resources/validate.mjs" "$tool/target/custom-resources.json"
