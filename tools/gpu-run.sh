#!/usr/bin/env bash
# Runs the Java app ON THE GPU HOST (no JVM, no network there) from the kit that tools/gpu-kit.sh packed.
# Background: gpu/README.md in the directory tools/gpu-kit.sh packs from ($SLM_SHARED). The kit travels as
# gpu-kit/send/MANIFEST + part-NN, one part per copy to the GPU host (gpu-kit.sh prints them); run from the
# repository root there:
#
#   tools/gpu-run.sh --kit          # while parts are still arriving: says which are there, which missing;
#                                   # once all are there: joins, checks and unpacks them, and stops
#   tools/gpu-run.sh bench --device gpu --shape qwen3-0.6b --tokenizer gpu-kit/tokenizer --batch-sizes 1,8
#   JAVA_OPTS="-Xmx32g" tools/gpu-run.sh classify ...       # extra JVM flags, split on spaces
#   python3 gpu-kit/hf_reference.py gpu-kit/tokenizer 1,8    # the HF reference (after the kit is unpacked)
#
# What it does, each step skipped when already done for this MANIFEST:
#   1. checks the parts' sha256, joins them and unpacks jre.tar.xz and app.tar.xz under $SLM_GPU_DIR
#      (default /tmp/slm-gpu); puts tokenizer/ and hf_reference.py into gpu-kit/;
#   2. copies libdjl_torch.so (DJL's JNI built for torch 2.11.0+cu130) into the lib/ directory of python3's
#      torch, where DJL looks for it beside libtorch;
#   3. points DJL at that libtorch (PYTORCH_LIBRARY_PATH, PYTORCH_VERSION, PYTORCH_FLAVOR) and runs
#      `java -Dai.djl.offline=true $JAVA_OPTS -cp <app> io.slmclassifier.cli.Main "$@"`.
set -euo pipefail
cd "$(dirname "$0")/.."

KIT=gpu-kit
SEND=$KIT/send
SCRATCH=${SLM_GPU_DIR:-/tmp/slm-gpu}

die() { echo "gpu-run: $*" >&2; exit 1; }

[ -f "$SEND/MANIFEST" ] || die "$SEND/MANIFEST is missing. Pack the kit on the build machine with
  tools/gpu-kit.sh (after mvn -B -q package -DskipTests) and send $SEND/MANIFEST and one $SEND/part-NN
  per copy, one after another (gpu-kit.sh prints them)."
[ "$(uname -sm)" = "Linux x86_64" ] || die "the kit holds linux x86_64 natives only; this is $(uname -sm)"

# --- 1. Join and unpack, once per MANIFEST (the stamp is written last: an interrupted unpack is redone).
id=$(sha256sum "$SEND/MANIFEST" | cut -d' ' -f1)
if [ "$(cat "$SCRATCH/kit.id" 2> /dev/null)" != "$id" ]; then
  parts=$(cut -d' ' -f3 "$SEND/MANIFEST")
  missing=$(for p in $parts; do [ -f "$SEND/$p" ] || echo "$p"; done)
  if [ -n "$missing" ]; then
    msg="kit incomplete: $(echo "$parts" | wc -w) parts, still missing: $(echo $missing)"
    [ "${1:-}" = --kit ] && { echo "gpu-run: $msg"; exit 0; }
    die "$msg (send them in further copies; this host keeps what came before)"
  fi
  (cd "$SEND" && sha256sum -c --quiet MANIFEST) || die "a part is damaged or from another packing; re-send"
  echo "gpu-run: unpacking the kit into $SCRATCH" >&2
  rm -rf "$SCRATCH/kit.id" "$SCRATCH/kit" "$SCRATCH/jre" "$SCRATCH/app" && mkdir -p "$SCRATCH/kit" "$SCRATCH/jre" "$SCRATCH/app"
  (cd "$SEND" && cat $parts) | xz -d | tar -C "$SCRATCH/kit" -xf -
  tar -C "$SCRATCH/jre" -xJf "$SCRATCH/kit/jre.tar.xz"
  tar -C "$SCRATCH/app" -xJf "$SCRATCH/kit/app.tar.xz"
  rm -rf "$KIT/tokenizer" && cp -r "$SCRATCH/kit/tokenizer" "$SCRATCH/kit/hf_reference.py" "$KIT/"
  echo "$id" > "$SCRATCH/kit.id"
fi
JAVA=$SCRATCH/jre/bin/java

# --- 2. The python torch, and DJL's JNI beside its libtorch.
command -v python3 > /dev/null || die "python3 not found (needed to locate torch)"
# (one python call: importing torch takes seconds)
read -r TORCH TORCH_VERSION < <(python3 -c 'import torch, os; print(os.path.dirname(torch.__file__), torch.__version__)') \
  || die "python3 cannot import torch"
case "$TORCH_VERSION" in
  2.11.0*) ;;
  *) echo "gpu-run: warning: torch is $TORCH_VERSION, libdjl_torch.so was built for 2.11.0+cu130" >&2 ;;
esac
if ! cmp -s "$SCRATCH/kit/libdjl_torch.so" "$TORCH/lib/libdjl_torch.so"; then
  echo "gpu-run: copying libdjl_torch.so into $TORCH/lib/" >&2
  cp "$SCRATCH/kit/libdjl_torch.so" "$TORCH/lib/libdjl_torch.so" || die "cannot write to $TORCH/lib/"
fi

if [ "${1:-}" = --kit ]; then
  echo "gpu-run: kit ready ($("$JAVA" -version 2>&1 | head -1); torch $TORCH_VERSION at $TORCH)"
  exit 0
fi

# --- 3. Environment for DJL, then the app.
export PYTORCH_LIBRARY_PATH=$TORCH/lib PYTORCH_VERSION=2.11.0 PYTORCH_FLAVOR=cu130 \
       OPT_OUT_TRACKING=true DJL_OFFLINE=true
export LD_LIBRARY_PATH=$TORCH/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
# DJL extracts the tokenizers native here (default ~/.djl.ai); keep it beside the unpacked kit.
export DJL_CACHE_DIR=${DJL_CACHE_DIR:-$SCRATCH/djl-cache}

read -r -a java_opts <<< "${JAVA_OPTS:-}"
exec "$JAVA" -Dai.djl.offline=true "${java_opts[@]}" -cp "$SCRATCH/app" io.slmclassifier.cli.Main "$@"
