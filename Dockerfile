# syntax=docker/dockerfile:1
# The images of the stream processor and the trainer: one jar, two services, each on CPU or on an NVIDIA GPU.
# Build from the repository root (the build context is the whole repository; .dockerignore keeps it small):
#
#   docker build --target processor -t slm-classifier-processor:cpu .
#   docker build --target processor --build-arg FLAVOR=gpu -t slm-classifier-processor:gpu .
#   docker build --target trainer --build-arg FLAVOR=gpu -t slm-classifier-trainer:gpu .
#   docker build --target trainer -t slm-classifier-trainer:cpu .
#
# Run: docker run --rm -p 9400:9400 -e SLM_BOOTSTRAP_SERVERS=... -e SLM_SCHEMA_REGISTRY_URL=... \
#        -e SLM_MODEL_DIR=... slm-classifier-processor:cpu
#      docker run --rm --gpus 1 -p 9401:9401 -e SLM_BOOTSTRAP_SERVERS=... -e SLM_SCHEMA_REGISTRY_URL=... \
#        -e SLM_MODEL_DIR=Qwen/Qwen3-0.6B -e SLM_TASK_FILE=/app/tasks/radr-intents.yaml slm-classifier-trainer:gpu
# The default configurations are /etc/slm/processor.properties and /etc/slm/trainer.properties (copies of
# processor/processor.properties and trainer/trainer.properties); every key can be overridden with SLM_*
# environment variables, or another file mounted there. Writable places for a non-root, read-only-root
# container: /var/lib/slm (state.dir, adapter.cache.dir, work.dir), /var/cache/slm (DJL's extracted JNI and
# tokenizer libraries, HF_HOME, XDG_CACHE_HOME) and /tmp. Training runs in float32 (CPU, or GPU with float32
# weights); inference on a GPU in float16.
#
# PyTorch natives: the jar carries DJL's CPU build of PyTorch 2.7.1 (ai.djl.pytorch:pytorch-native-cpu); the
# images unpack it once at build time into /opt/djl/pytorch instead of at every start. Maven Central has no
# CUDA build for PyTorch 2.7.1 (the newest ai.djl.pytorch:pytorch-native-cu* there is cu124 2.5.1), so the gpu
# target fetches DJL's own cu128 build of the same PyTorch release, the files DJL's engine would otherwise
# download at run time, and the JNI for cu128 comes from ai.djl.pytorch:pytorch-jni:2.7.1-0.36.0 in the jar.
# Containers then start with DJL_OFFLINE=true and never reach the network for natives.

ARG MAVEN_IMAGE=maven:3.9-eclipse-temurin-17
ARG JRE_IMAGE=eclipse-temurin:17-jre-noble
ARG CUDA_IMAGE=nvidia/cuda:12.8.1-runtime-ubuntu24.04
ARG FETCH_IMAGE=ubuntu:24.04
# cpu or gpu: which runtime stage the service images are built on.
ARG FLAVOR=cpu

# ---------------------------------------------------------------------------------------------------------------
FROM ${MAVEN_IMAGE} AS build
# Must match <pytorch.version> in pom.xml; the build stops if the jar carries another version.
ARG PYTORCH_VERSION=2.7.1
WORKDIR /src
COPY pom.xml ./
COPY schemas ./schemas
COPY src/main ./src/main
RUN --mount=type=cache,target=/root/.m2 mvn -B -ntp -Dmaven.test.skip=true package
RUN set -eu; \
    mkdir -p /out/natives; cd /out/natives; \
    jar xf /src/target/slm-classifier.jar native/lib/pytorch.properties jnilib/pytorch.properties; \
    grep -q "^version=${PYTORCH_VERSION}-" native/lib/pytorch.properties \
      || { echo "the jar carries PyTorch $(grep '^version=' native/lib/pytorch.properties), not ${PYTORCH_VERSION}"; exit 1; }; \
    grep -q "^jni_version=${PYTORCH_VERSION}-" jnilib/pytorch.properties; \
    jar xf /src/target/slm-classifier.jar pytorch/cpu/linux-x86_64/; \
    mkdir -p /out/pytorch-cpu; mv pytorch/cpu/linux-x86_64/* /out/pytorch-cpu/; \
    test -f /out/pytorch-cpu/libtorch.so; \
    cp /src/target/slm-classifier.jar /out/slm-classifier.jar

# ---------------------------------------------------------------------------------------------------------------
# DJL's CUDA build of PyTorch (only built when FLAVOR=gpu).
FROM ${FETCH_IMAGE} AS natives-cuda
ARG PYTORCH_VERSION=2.7.1
ARG PYTORCH_FLAVOR=cu128
ARG DJL_NATIVES_URL=https://publish.djl.ai/pytorch
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/*
RUN set -eu; \
    mkdir -p /opt/djl/pytorch; cd /opt/djl/pytorch; \
    base="${DJL_NATIVES_URL}/${PYTORCH_VERSION}"; \
    curl -fsSL --retry 3 "${base}/files.txt" | tr -d '\r' \
      | grep "^${PYTORCH_FLAVOR}/linux-x86_64/native/lib/.*\.gz$" > /tmp/files.txt; \
    test -s /tmp/files.txt || { echo "no ${PYTORCH_FLAVOR} natives listed for PyTorch ${PYTORCH_VERSION}"; exit 1; }; \
    while read -r path; do \
      name="$(basename "${path}" .gz)"; name="$(printf '%b' "${name//%/\\x}")"; \
      echo "fetching ${path}"; \
      curl -fsSL --retry 3 "${base}/${path}" | gunzip > "${name}"; \
    done < /tmp/files.txt; \
    test -f libtorch.so && test -f libtorch_cuda.so; \
    ls -l

# ---------------------------------------------------------------------------------------------------------------
FROM ${JRE_IMAGE} AS jre

# ---------------------------------------------------------------------------------------------------------------
# FLAVOR=gpu: CUDA 12.8 runtime (libcudart, which DJL uses to count GPUs) with the JRE and DJL's cu128 natives.
# Needs an NVIDIA driver for CUDA 12.8 (>= 570) on the host and the NVIDIA container toolkit.
FROM ${CUDA_IMAGE} AS runtime-gpu
ENV JAVA_HOME=/opt/java/openjdk
ENV PATH=/opt/java/openjdk/bin:${PATH}
COPY --from=jre /opt/java/openjdk /opt/java/openjdk
COPY --from=natives-cuda /opt/djl/pytorch /opt/djl/pytorch
ARG PYTORCH_FLAVOR=cu128
ENV PYTORCH_FLAVOR=${PYTORCH_FLAVOR}

# ---------------------------------------------------------------------------------------------------------------
# FLAVOR=cpu (the default): slim JRE 17 and the CPU natives from the jar.
FROM jre AS runtime-cpu
COPY --from=build /out/pytorch-cpu /opt/djl/pytorch
ENV PYTORCH_FLAVOR=cpu

# ---------------------------------------------------------------------------------------------------------------
# What both services share, on the runtime chosen by FLAVOR.
FROM runtime-${FLAVOR} AS runtime
ARG PYTORCH_VERSION=2.7.1
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 slm \
 && useradd --system --uid 10001 --gid slm --home-dir /var/lib/slm --shell /usr/sbin/nologin slm \
 && mkdir -p /app /etc/slm /var/lib/slm /var/cache/slm/djl /var/cache/slm/huggingface \
 && chown -R slm:slm /var/lib/slm /var/cache/slm
COPY --from=build /out/slm-classifier.jar /app/slm-classifier.jar
COPY tasks /app/tasks
COPY processor/processor.properties /etc/slm/processor.properties
COPY trainer/trainer.properties /etc/slm/trainer.properties
ENV OPT_OUT_TRACKING=true \
    DJL_OFFLINE=true \
    PYTORCH_LIBRARY_PATH=/opt/djl/pytorch \
    PYTORCH_VERSION=${PYTORCH_VERSION} \
    ENGINE_CACHE_DIR=/var/cache/slm/djl \
    DJL_CACHE_DIR=/var/cache/slm/djl \
    XDG_CACHE_HOME=/var/cache/slm \
    HF_HOME=/var/cache/slm/huggingface
WORKDIR /app
USER 10001:10001
ENTRYPOINT ["java", "-XX:MaxRAMPercentage=50", "-XX:+ExitOnOutOfMemoryError", "-jar", "/app/slm-classifier.jar"]

# ---------------------------------------------------------------------------------------------------------------
FROM runtime AS trainer
EXPOSE 9401
CMD ["trainer", "--config", "/etc/slm/trainer.properties"]

# ---------------------------------------------------------------------------------------------------------------
# The processor, the default target.
FROM runtime AS processor
EXPOSE 9400
CMD ["processor", "--config", "/etc/slm/processor.properties"]
