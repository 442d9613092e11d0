#!/usr/bin/env bash
# Packs what the Java app needs on the GPU host, which has Python + CUDA torch but no JVM and no network
# (background: gpu/README.md in the shared directory, see SLM_SHARED below). Run it HERE, after `mvn -B -q package -DskipTests`:
#
#   tools/gpu-kit.sh            # writes gpu-kit/ at the repository root (ignored by git)
#
# gpu-kit/ then holds
#   jre.tar.xz        a jlink'ed Java runtime (reused while the JDK and the module list stay the same;
#                     jre.stamp records both, delete it to force a rebuild)
#   app.tar.xz        the unpacked shaded jar without libtorch (pytorch/), DJL's bundled JNI (jnilib/) and
#                     every native library not for linux x86_64 glibc (rebuilt on every run)
#   libdjl_torch.so   DJL's JNI built for the host's torch 2.11.0+cu130 (from $SLM_SHARED/gpu/)
#   hf_reference.py   the Hugging Face reference benchmark (from $SLM_SHARED/gpu/)
#   tokenizer/        Qwen3 tokenizer.json + tokenizer_config.json (from $SLM_SHARED/data/qwen3-tokenizer/)
#   send/             the same five, as one tar | xz stream cut into part-00, part-01, ... + MANIFEST:
#                     what actually travels (see below)
#
# Why send/: the GPU host is reached by copying the git working tree plus named extra files, at most 64 MiB IN ALL
# per copy, and the working tree alone is ~47 MiB (test models, two copies of the Qwen3 tokenizer). The kit
# (~48 MiB) therefore travels in several copies: the GPU host keeps ignored files between copies, so send one part
# per copy, one after another, and run the app with the last.
# This script sizes the parts to what the current working tree leaves free (GPU_KIT_PART_MIB overrides)
# and prints the copies to make. On the GPU host, tools/gpu-run.sh checks, joins and unpacks the parts.
# One copy is enough when the test models, which the GPU host does not need, are out of the working tree
# while packing and sending (the tree is then ~4 MiB; the kit's part ~50 MiB):
#   mv src/test/resources/models /tmp/hold/ && tools/gpu-kit.sh    # one part
#   ... the copy to the GPU host and the run there ...
#   mv /tmp/hold/models src/test/resources/
# Step train-fidelity of tools/gpu-bench.sh trains the committed tiny Qwen3: put its config.json and
# model.safetensors (9.3 MiB) back into src/test/resources/models/qwen3-tiny/ after packing; they fit beside the part.
#
# Environment: JAVA_HOME (default: the JDK of the `java` on PATH), SLM_SHARED (required: the directory
# holding gpu/libdjl_torch.so, gpu/hf_reference.py and data/qwen3-tokenizer/),
# GPU_KIT_PART_MIB (part size in MiB; default: 64 MiB - working tree - 2 MiB margin).
set -euo pipefail
cd "$(dirname "$0")/.."

JAR=target/slm-classifier.jar
KIT=gpu-kit
SHARED=${SLM_SHARED:?set SLM_SHARED to the directory holding gpu/ and data/qwen3-tokenizer/}
MIB=1048576
CALL_LIMIT=$((64 * MIB))   # working tree + extra files, per copy to the GPU host
MARGIN=$((2 * MIB))        # room for the working tree to grow between packing and sending
# The JDK modules the app needs (jdeps is blind to reflection and service loading, so this list is kept by
# hand; if the app fails on the GPU host with NoClassDefFoundError for a java.*/jdk.* class, add the module).
MODULES=java.base,java.logging,java.management,jdk.unsupported,java.naming,java.xml,java.sql,jdk.crypto.ec,\
java.net.http,jdk.httpserver,java.security.jgss,jdk.management,java.instrument,java.desktop,java.scripting
JLINK_FLAGS=(--strip-debug --no-header-files --no-man-pages --compress=0)

die() { echo "gpu-kit: $*" >&2; exit 1; }
mib() { awk -v b="$1" 'BEGIN {printf "%.1f MiB", b / 1048576}'; }

[ -f "$JAR" ] || die "$JAR not found; build it first: mvn -B -q package -DskipTests"
command -v unzip > /dev/null || die "unzip is needed (apt-get install unzip)"
command -v xz > /dev/null || die "xz is needed (apt-get install xz-utils)"
for f in "$SHARED/gpu/libdjl_torch.so" "$SHARED/gpu/hf_reference.py" \
         "$SHARED/data/qwen3-tokenizer/tokenizer.json" "$SHARED/data/qwen3-tokenizer/tokenizer_config.json"; do
  [ -f "$f" ] || die "missing $f"
done

if [ -z "${JAVA_HOME:-}" ]; then
  JAVA_HOME=$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")
fi
[ -x "$JAVA_HOME/bin/jlink" ] || die "no jlink in $JAVA_HOME/bin (set JAVA_HOME to a JDK 17)"

mkdir -p "$KIT"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# --- 1. JRE: jlink + xz takes minutes, so reuse the archive while JDK + modules + flags are unchanged.
stamp="$("$JAVA_HOME/bin/java" -version 2>&1 | head -1) | $MODULES | ${JLINK_FLAGS[*]}"
if [ -f "$KIT/jre.tar.xz" ] && [ "$(cat "$KIT/jre.stamp" 2> /dev/null)" = "$stamp" ]; then
  echo "gpu-kit: jre.tar.xz is up to date (reused)"
else
  echo "gpu-kit: jlink ($JAVA_HOME) ..."
  rm -f "$KIT/jre.stamp"
  "$JAVA_HOME/bin/jlink" --add-modules "$MODULES" "${JLINK_FLAGS[@]}" --output "$tmp/jre"
  tar -C "$tmp/jre" -cf - . | xz -9 -T0 > "$KIT/jre.tar.xz.part"
  mv "$KIT/jre.tar.xz.part" "$KIT/jre.tar.xz"
  echo "$stamp" > "$KIT/jre.stamp"
fi

# --- 2. The app: the shaded jar unpacked, without libtorch and DJL's JNI (the GPU host uses its own torch and
# the libdjl_torch.so below), and with only the linux x86_64 glibc natives of JNA, RocksDB, zstd, lz4,
# snappy and the HF tokenizers.
echo "gpu-kit: slimming $JAR ..."
unzip -q "$JAR" -d "$tmp/app" -x 'pytorch/*' 'jnilib/*'
keep='(^|/)(linux-x86-64|linux-x86_64|linux/amd64|Linux/x86_64)/|^librocksdbjni-linux64\.so$'
(cd "$tmp/app" && find . -type f -regextype posix-extended \
    -regex '.*\.(so|so\.[0-9.]+|dll|dylib|jnilib|a)$' -printf '%P\n' | grep -Ev "$keep" | xargs -r rm -f)
echo "gpu-kit: natives kept:"
(cd "$tmp/app" && find . -type f -regextype posix-extended -regex '.*\.(so|so\.[0-9.]+)$' -printf '  %P\n' | sort)
tar -C "$tmp/app" -cf - . | xz -9 -T0 > "$KIT/app.tar.xz.part"
mv "$KIT/app.tar.xz.part" "$KIT/app.tar.xz"

# --- 3. The rest, copied as they are (the shared originals are read-only, hence -f and chmod).
cp -f "$SHARED/gpu/libdjl_torch.so" "$SHARED/gpu/hf_reference.py" "$KIT/"
mkdir -p "$KIT/tokenizer"
cp -f "$SHARED/data/qwen3-tokenizer/tokenizer.json" "$SHARED/data/qwen3-tokenizer/tokenizer_config.json" "$KIT/tokenizer/"
chmod -R u+w "$KIT"

# --- 4. What travels: one stream, cut into parts that fit beside the working tree in one call each.
tree=$(git ls-files -z -co --exclude-standard | { du -cb --files0-from=- 2> /dev/null || true; } | tail -1 | cut -f1)
[ -e shared ] && tree=$((tree + $(du -sbL shared | cut -f1)))
if [ -n "${GPU_KIT_PART_MIB:-}" ]; then
  part=$((GPU_KIT_PART_MIB * MIB))
else
  part=$(((CALL_LIMIT - tree - MARGIN) / MIB * MIB))
fi
[ "$part" -ge $((4 * MIB)) ] || die "the working tree ($(mib "$tree")) leaves no room for the kit in one copy"
rm -rf "$KIT/send"
mkdir "$KIT/send"
tar -C "$KIT" -cf - jre.tar.xz app.tar.xz libdjl_torch.so hf_reference.py tokenizer \
  | xz -6 -T0 | split -b "$part" -d -a 2 - "$KIT/send/part-"
(cd "$KIT/send" && sha256sum part-* > MANIFEST)
parts=$(cd "$KIT/send" && ls part-*)

# --- Sizes and the copies to make.
echo "gpu-kit: sizes"
find "$KIT" -maxdepth 2 -type f ! -path "$KIT/send/*" -printf '%s %p\n' | sort -k2 \
  | awk '{printf "  %8.1f MiB  %s\n", $1 / 1048576, $2}'
total=$(cat "$KIT"/send/part-* | wc -c)
echo "gpu-kit: to send $(mib "$total") in $(echo "$parts" | wc -l) part(s) of at most $(mib "$part");" \
     "working tree $(mib "$tree"), limit per copy $(mib "$CALL_LIMIT")"
echo "gpu-kit: copies to the GPU host, one after another (each: the working tree plus these files, then the command):"
last=$(echo "$parts" | tail -1)
for p in $parts; do
  if [ "$p" = "$last" ]; then cmd='tools/gpu-run.sh <command> ...'; else cmd='tools/gpu-run.sh --kit'; fi
  echo "  files [\"$KIT/send/MANIFEST\", \"$KIT/send/$p\"]   command: $cmd"
done
