#!/usr/bin/env bash
# The GPU benchmark of docs/benchmarks.md, run ON THE GPU HOST from the repository root after the kit is there
# (tools/gpu-kit.sh here, tools/gpu-run.sh there): Hugging Face's reference and the project's own bench in the
# same session, on the Qwen3-0.6B shape with random weights. Each step's output goes to $OUT (or ./gpu-results);
# the models bench writes go to $SLM_BENCH_WORK_DIR (or /tmp/bench-models).
#
#   tools/gpu-bench.sh [hf] [infer] [train] [kafka] [infer-noopt] [infer-broadcast] [profile] [train-fp32]
#   [train-noopt] [kafka-1024] [train-profile] [train-trace] [label-mass] [latency] [latency-alo] [latency-before]
#   [fidelity] [tasks] [tasks-kafka] [tasks-kafka-mix] [adapters-100] [train-fidelity] [infer-packed] [kafka-packed]
#   [two-gpus] [profile-1] [infer-steps-bf16] [infer-padded] [kafka-padded] [kernels] [kafka-fused-qkv]
#   [latency-warmup-before] [joint-qk] [direct-calls] [one-after-large]
#   (default: hf infer train kafka; the others are the experiments behind the defaults)
#   infer-packed / kafka-packed: the infer and kafka-1024 steps with -Dslm.prefix.packed=true, the prefix cache's
#   passes packing their rows into one sequence of real tokens instead of right-padding them (~2 / ~3 min); the
#   default now, so infer-padded / kafka-padded run the same with the rows right-padded (-Dslm.prefix.packed=false)
#   infer-steps-bf16: the infer step with every step of the program in bfloat16 (-Dslm.decoder.float32=none), the
#   precision before the float32 steps became the default (~1 min)
#   kernels: the infer step at 1, 64, 256 and 1,024 with q, k and v from one product in every pass, from three from
#   2,048 tokens (the default) and from three in every pass (-Dslm.decoder.separate.qkv.tokens; ~2 min);
#   kafka-fused-qkv: kafka-1024 with one product in every pass, the default before (~1 min)
#   joint-qk: q and k normed and rotated as one block of heads (the default) against apart, batch 1, 8 and 64 in
#   turns, and the training step at batch 8 (~3 min)
#   direct-calls: the products and the whole prompt's attention called as their kernels against through linear and
#   scaled_dot_product_attention (the default until this measures it), batch 1, 8, 256 and 1,024 in turns, twice (~3 min)
#   one-after-large: one whole prompt per pass alone, then after passes of 1,024 in the same process (~2 min)
#   profile-1: a profile of one pass of one message, prefix cache on and off, host time per operator (~1 min)
#   tasks: 4 tasks on one model through one inference worker, each with its rank-16 adapter unmerged, against one
#   task merged, equal traffic and 70/10/10/10 (~2 min); tasks-kafka / tasks-kafka-mix: the same through Kafka, one
#   processor of 4 tasks against a processor of one, and each task's new version from control event to first result
#   (~2 min each); adapters-100: GPU memory of 100 resident rank-16 adapters (~1 min)
#   latency / latency-alo: latency at 10-90% of the capacity through Kafka, exactly-once / at-least-once
#   (~5 min each; latency-before: exactly-once with Kafka Streams' producer linger.ms of 100 ms and no warm-up,
#   the settings before the latency work; latency-warmup-before: exactly-once with the warm-up before it covered
#   every whole-prompt size, 1024,1,3,2,18,513); fidelity: bfloat16 probabilities against transformers' float32, with each float32 switch of
#   the decoder in turn, on the random model and on a copy with the final norm x 6 (~5 min)
#   train-fidelity: the committed tiny Qwen3 (src/test/resources/models/qwen3-tiny: send its config.json and
#   model.safetensors, 9.3 MiB, beside the kit's one part; or a random model of its shape
#   when the working tree lacks its weights) trained on the GPU in bfloat16 and on the CPU in float32, same data,
#   seed and steps: the two learning curves within 0.02 macro-F1 (and the GPU in float32 against the CPU), and the
#   GPU-trained adapter in transformers + PEFT
#   float32 against this project's probabilities (~3 min)
#   two-gpus: on a host with two GPUs, a processor per GPU against one processor on one GPU, the same backlog through
#   Kafka, exactly once (`soak`, no kills; ~4 min)
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-gpu-results}
mkdir -p "$OUT" && OUT=$(cd "$OUT" && pwd)
steps=${*:-hf infer train kafka}
TOK=gpu-kit/tokenizer
BENCH=(bench --device gpu --shape qwen3-0.6b --tokenizer "$TOK" --work-dir "${SLM_BENCH_WORK_DIR:-/tmp/bench-models}")

tools/gpu-run.sh --kit > "$OUT/kit.txt" 2>&1 || { cat "$OUT/kit.txt"; exit 1; }
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv > "$OUT/gpu.txt" 2>&1

run() { # name, timeout, command...
  local name=$1 limit=$2; shift 2
  echo "== $name: ${JAVA_OPTS:+JAVA_OPTS=$JAVA_OPTS }$*" | tee -a "$OUT/commands.txt"
  local start=$SECONDS
  timeout "$limit" "$@" > "$OUT/$name.txt" 2>&1
  echo "   exit $? after $((SECONDS - start)) s" | tee -a "$OUT/commands.txt"
  grep -v " INFO \| WARN \|^\[" "$OUT/$name.txt" | tail -30
}

for step in $steps; do
  case $step in
    hf) run hf-reference 240 python3 gpu-kit/hf_reference.py "$TOK" 1,8,64,256,1024 ;;
    infer) run java-infer 150 tools/gpu-run.sh "${BENCH[@]}" --batch-sizes 1,8,64,256,1024 --iterations 10 ;;
    label-mass) run java-infer-label-mass 150 tools/gpu-run.sh "${BENCH[@]}" --batch-sizes 1,64,1024 --iterations 10 \
          --prefix-cache on --label-mass ;;
    infer-noopt) JAVA_OPTS=-Dai.djl.pytorch.graph_optimizer=false \
        run java-infer-noopt 120 tools/gpu-run.sh "${BENCH[@]}" --batch-sizes 1,8,64,256,1024 --iterations 10 ;;
    infer-broadcast) JAVA_OPTS=-Dslm.prefix.attention=broadcast \
        run java-infer-broadcast 120 tools/gpu-run.sh "${BENCH[@]}" --batch-sizes 256,1024 --iterations 10 ;;
    infer-steps-bf16) JAVA_OPTS=-Dslm.decoder.float32=none \
        run java-infer-steps-bf16 150 tools/gpu-run.sh "${BENCH[@]}" --batch-sizes 1,8,64,256,1024 --iterations 10 ;;
    infer-padded) JAVA_OPTS=-Dslm.prefix.packed=false \
        run java-infer-padded 150 tools/gpu-run.sh "${BENCH[@]}" --batch-sizes 1,8,64,256,1024 --iterations 10 ;;
    kafka-padded) JAVA_OPTS=-Dslm.prefix.packed=false \
        run java-kafka-padded 200 tools/gpu-run.sh "${BENCH[@]}" --kafka --batch-sizes 1024 --messages 40000 --repeats 3 ;;
    kernels)
      # Decoder.Kernels: q, k and v from one fused product in every pass (-1) against three products from 2,048
      # tokens in a pass (the default) and in every pass (0).
      for t in -1 2048 0; do
        JAVA_OPTS="-Dslm.decoder.separate.qkv.tokens=$t" \
            run "java-kernels-$t" 150 tools/gpu-run.sh "${BENCH[@]}" --batch-sizes 1,64,256,1024 --iterations 10
      done ;;
    joint-qk)
      # Decoder.Kernels: q and k of the fused product normed and rotated as one block of heads (the default) against
      # apart, in turns, twice: passes under 2,048 tokens (batch 1 and 8, 64 after the prefix), then the training
      # step at batch 8 (1,128 tokens).
      for round in 1 2; do
        for j in true false; do
          JAVA_OPTS="-Dslm.decoder.joint.qk=$j" \
              run "java-joint-qk-$j-$round" 100 tools/gpu-run.sh "${BENCH[@]}" --batch-sizes 1,8,64 --iterations 20
        done
      done
      for j in true false; do
        JAVA_OPTS="-Dslm.decoder.joint.qk=$j" \
            run "java-train-joint-qk-$j" 100 tools/gpu-run.sh "${BENCH[@]}" --train --batch-sizes 8 --steps 10
      done ;;
    direct-calls)
      # Decoder.Kernels: products as mm on the weights' transposed views and the whole prompt's flash attention in
      # its own layout against linear and scaled_dot_product_attention's wrappers (the default), in turns, twice.
      for round in 1 2; do
        for d in true false; do
          JAVA_OPTS="-Dslm.decoder.direct.calls=$d" \
              run "java-direct-calls-$d-$round" 100 tools/gpu-run.sh "${BENCH[@]}" --batch-sizes 1,8,256,1024 --iterations 20
        done
      done ;;
    one-after-large)
      # One whole prompt per pass in a process that ran nothing else, then after passes of 1,024 whole prompts in the
      # same process, in turns, twice: on one host step profile-1 measured 6.1 ms and step infer (batch 1 after the
      # other sizes) 9.3 ms for the same pass.
      for round in 1 2; do
        run "java-one-alone-$round" 100 tools/gpu-run.sh "${BENCH[@]}" --batch-sizes 1 --prefix-cache off --iterations 20
        run "java-one-after-large-$round" 100 tools/gpu-run.sh "${BENCH[@]}" --batch-sizes 1024,1 --prefix-cache off \
            --iterations 20
      done ;;
    kafka-fused-qkv) JAVA_OPTS="-Dslm.decoder.separate.qkv.tokens=-1" \
        run java-kafka-fused-qkv 200 tools/gpu-run.sh "${BENCH[@]}" --kafka --batch-sizes 1024 --messages 40000 --repeats 3 ;;
    infer-packed) JAVA_OPTS=-Dslm.prefix.packed=true \
        run java-infer-packed 150 tools/gpu-run.sh "${BENCH[@]}" --batch-sizes 1,8,64,256,1024 --iterations 10 ;;
    profile) CUDA_LAUNCH_BLOCKING=1 run java-profile 120 tools/gpu-run.sh "${BENCH[@]}" --batch-sizes 1024 \
          --iterations 1 --profile "$OUT/trace.json"
        for t in on off; do python3 tools/profile_summary.py "$OUT/$t-trace.json" 30 > "$OUT/profile-$t.txt"; \
          cat "$OUT/profile-$t.txt"; rm -f "$OUT/$t-trace.json"; done ;;
    profile-1)
      # One message per pass, without CUDA_LAUNCH_BLOCKING: at batch 1 the host's time per operator is the question.
      run java-profile-1 120 tools/gpu-run.sh "${BENCH[@]}" --batch-sizes 1 --iterations 20 --profile "$OUT/trace-1.json"
        for t in on off; do python3 tools/profile_summary.py "$OUT/$t-trace-1.json" 40 > "$OUT/profile-1-$t.txt"; \
          cat "$OUT/profile-1-$t.txt"; gzip -f "$OUT/$t-trace-1.json"; done ;;
    train-profile) CUDA_LAUNCH_BLOCKING=1 run java-train-profile 120 tools/gpu-run.sh "${BENCH[@]}" --train --batch-sizes 8 \
          --steps 3 --profile "$OUT/trace.json"
        python3 tools/profile_summary.py "$OUT/train-trace.json" 40 > "$OUT/profile-train.txt"
        cat "$OUT/profile-train.txt"; rm -f "$OUT/train-trace.json" ;;
    train-trace) run java-train-trace 120 tools/gpu-run.sh "${BENCH[@]}" --train --batch-sizes 8 \
          --steps 3 --profile "$OUT/trace.json"
        python3 tools/profile_summary.py "$OUT/train-trace.json" 40 > "$OUT/profile-train-async.txt"
        cat "$OUT/profile-train-async.txt"; gzip -f "$OUT/train-trace.json" ;;
    train-noopt) JAVA_OPTS=-Dai.djl.pytorch.graph_optimizer=false \
        run java-train-noopt 100 tools/gpu-run.sh "${BENCH[@]}" --train --batch-sizes 8,32 --steps 10 ;;
    kafka-1024) run java-kafka-1024 200 tools/gpu-run.sh "${BENCH[@]}" --kafka --batch-sizes 1024 --messages 40000 --repeats 3 ;;
    kafka-packed) JAVA_OPTS=-Dslm.prefix.packed=true \
        run java-kafka-packed 200 tools/gpu-run.sh "${BENCH[@]}" --kafka --batch-sizes 1024 --messages 40000 --repeats 3 ;;
    train-fp32) run java-train-fp32 100 tools/gpu-run.sh "${BENCH[@]}" --train --dtype float32 --batch-sizes 8,32 --steps 10 ;;
    train) run java-train 100 tools/gpu-run.sh "${BENCH[@]}" --train --batch-sizes 8,32 --steps 10 ;;
    kafka) run java-kafka 400 tools/gpu-run.sh "${BENCH[@]}" --kafka --batch-sizes 256,1024 --messages 60000 --repeats 3 ;;
    latency) run java-latency 580 tools/gpu-run.sh "${BENCH[@]}" --kafka --batch-sizes 1024 --messages 40000 \
          --rate-percent 10,25,50,75,90 --duration 30 --guarantee exactly_once_v2 --json "$OUT/latency.json" ;;
    latency-alo) run java-latency-alo 580 tools/gpu-run.sh "${BENCH[@]}" --kafka --batch-sizes 1024 --messages 40000 \
          --rate-percent 10,25,50,75,90 --duration 30 --guarantee at_least_once --json "$OUT/latency-alo.json" ;;
    latency-before) run java-latency-before 580 tools/gpu-run.sh "${BENCH[@]}" --kafka --batch-sizes 1024 --messages 40000 \
          --rate-percent 10,25,50,75,90 --duration 30 --guarantee exactly_once_v2 \
          --set kafka.producer.linger.ms=100 --set warmup.batch.sizes=none ;;
    latency-warmup-before) run java-latency-warmup-before 580 tools/gpu-run.sh "${BENCH[@]}" --kafka --batch-sizes 1024 \
          --messages 40000 --rate-percent 10,25,50,75,90 --duration 30 --guarantee exactly_once_v2 \
          --set warmup.batch.sizes=1024,1,3,2,18,513 --json "$OUT/latency-warmup-before.json" ;;
    fidelity)
      # The same 512 texts through this project's bfloat16 program with each float32 switch (Decoder.Precision),
      # then transformers float32 / bfloat16 on the same ids; on the random weights and with the final norm x 6.
      mkdir -p "$OUT/fidelity"
      random_model=${SLM_BENCH_WORK_DIR:-/tmp/bench-models}/qwen3-0.6b-random
      run java-fidelity-write 120 tools/gpu-run.sh "${BENCH[@]}" --batch-sizes 64 --probabilities "$OUT/fidelity/random-none.jsonl"
      python3 tools/bf16_fidelity.py scale-norm "$random_model" "$random_model-norm6" 6 > "$OUT/fidelity/scale-norm.txt" 2>&1
      for variant in random norm6; do
        model=$random_model; [ "$variant" = norm6 ] && model=$random_model-norm6
        files=()
        for steps in none final-norm prefix-merge rotary all; do
          f=$OUT/fidelity/$variant-$steps.jsonl
          [ -f "$f" ] || JAVA_OPTS=-Dslm.decoder.float32=$steps run "java-fidelity-$variant-$steps" 120 tools/gpu-run.sh bench \
              --device gpu --model "$model" --batch-sizes 64 --probabilities "$f"
          files+=("project bf16, float32 $steps=$f")
        done
        run "fidelity-$variant" 300 python3 tools/bf16_fidelity.py compare "$model" tasks/radr-intents.yaml "${files[@]}"
      done ;;
    # 12 batches per run: the full-prompt side runs at about a third of the others' rate.
    tasks) run java-tasks 120 tools/gpu-run.sh "${BENCH[@]}" --tasks 4 --batch-sizes 1024 --messages 12288 --repeats 3
        run java-tasks-mix 120 tools/gpu-run.sh "${BENCH[@]}" --tasks 4 --mix 70,10,10,10 --batch-sizes 1024 \
          --messages 12288 --repeats 3 ;;
    tasks-kafka) run java-tasks-kafka 170 tools/gpu-run.sh "${BENCH[@]}" --kafka --tasks 4 --batch-sizes 1024 \
          --messages 20480 --repeats 3 --json "$OUT/tasks-kafka.json" ;;
    tasks-kafka-mix) run java-tasks-kafka-mix 170 tools/gpu-run.sh "${BENCH[@]}" --kafka --tasks 4 --mix 70,10,10,10 \
          --batch-sizes 1024 --messages 20480 --repeats 3 --json "$OUT/tasks-kafka-mix.json" ;;
    two-gpus)
      # A processor per GPU (device gpu:N, a list taken in turns by soak's processors) against one processor on one
      # GPU: the same backlog of 200,000 records sent as fast as the producer can, read back exactly once; msg/s is
      # sent / total s. Two, one, two: the pair's spread shows. Needs a host with two GPUs (nvidia-h100-x2).
      model=${SLM_BENCH_WORK_DIR:-/tmp/bench-models}/qwen3-0.6b-random
      [ -f "$model/model.safetensors" ] || run two-gpus-model 120 tools/gpu-run.sh "${BENCH[@]}" --batch-sizes 1 --iterations 1
      for side in "gpu:0,gpu:1 2" "gpu:0 1" "gpu:0,gpu:1 2"; do
        set -- $side
        # 4 stream threads per processor, as bench --kafka runs one: one thread cannot keep a GPU's batches full.
        SLM_NUM_STREAM_THREADS=4 run "two-gpus-$2-$SECONDS" 400 tools/gpu-run.sh soak --model "$model" --device "$1" \
            --processors "$2" --partitions 8 --messages 200000 --rate 1000000 --kill-every 100000 \
            --work-dir "/tmp/soak-$2-$SECONDS"
      done ;;
    adapters-100) run java-adapters-100 120 tools/gpu-run.sh "${BENCH[@]}" --resident-adapters 100 ;;
    train-fidelity)
      # LoRA dropout off: each device draws its masks from its own generator, and a CPU step runs the shared prefix
      # once per batch where a GPU step runs it per row, so no seed gives the two runs the same masks. Without
      # dropout they compute the same function and differ only in precision. Warm-up: with the full rate from the
      # first step, the first steps' large updates turn a rounding difference into a different path.
      tf=$OUT/train-fidelity
      tiny=src/test/resources/models/qwen3-tiny
      mkdir -p "$tf"
      if [ -f "$tiny/model.safetensors" ]; then
        # Sent without its tokenizer (a call carries 64 MiB, the kit ~50): the kit's is the same Qwen3 tokenizer.
        [ -f "$tiny/tokenizer.json" ] || cp "$TOK"/tokenizer.json "$TOK"/tokenizer_config.json "$tiny"/
      else
        # A random model of the same shape instead. Its curves say little: it learns nothing for ~80 steps, and
        # where learning sets in any rounding difference makes another path (docs/benchmarks.md).
        echo "train-fidelity: $tiny/model.safetensors is not here; training a random model of its shape"
        run train-fidelity-model 120 tools/gpu-run.sh bench --device cpu --config "$tiny/config.json" --tokenizer "$TOK" \
            --work-dir "$tf/models" --batch-sizes 1 --iterations 1
        tiny=$tf/models/qwen3-tiny-random
      fi
      python3 tools/train_fidelity.py data "$tf" 320 160 | tee "$tf/data.txt"
      TRAIN=(train --model "$tiny" --task tasks/radr-intents.yaml --train "$tf/train.jsonl"
             --validation "$tf/validation.jsonl" --epochs 4 --batch-size 8 --lr 3e-3 --warmup-steps 10
             --lora-dropout 0 --eval-every 10 --seed 7 --overwrite)
      run train-fidelity-gpu 150 tools/gpu-run.sh "${TRAIN[@]}" --device gpu --output "$tf/adapter-gpu"
      run train-fidelity-cpu 150 tools/gpu-run.sh "${TRAIN[@]}" --device cpu --output "$tf/adapter-cpu"
      run train-fidelity-curve 30 python3 tools/train_fidelity.py curve "cpu float32=$tf/adapter-cpu/training_metrics.json" \
          "gpu bfloat16=$tf/adapter-gpu/training_metrics.json" 0.02
      # The same on the GPU in float32: how far two devices' float32 runs drift apart (summation order alone).
      run train-fidelity-gpu-float32 150 tools/gpu-run.sh "${TRAIN[@]}" --device gpu --dtype float32 \
          --output "$tf/adapter-gpu-float32"
      run train-fidelity-curve-float32 30 python3 tools/train_fidelity.py curve \
          "cpu float32=$tf/adapter-cpu/training_metrics.json" "gpu float32=$tf/adapter-gpu-float32/training_metrics.json" 0.02
      # The GPU-trained adapter as the processor serves it (merged, bfloat16), and in float32 on the same GPU: the
      # first against PEFT at a bfloat16 tolerance, the second at a float32 one (the adapter read as PEFT reads it).
      for dtype in bfloat16 float32; do
        run "train-fidelity-project-$dtype" 90 tools/gpu-run.sh bench --device gpu --dtype "$dtype" --model "$tiny" \
            --task tasks/radr-intents.yaml --adapter "$tf/adapter-gpu" --batch-sizes 64 \
            --probabilities "$tf/project-$dtype.jsonl"
      done
      run train-fidelity-peft 120 python3 tools/train_fidelity.py peft "$tiny" "$tf/adapter-gpu" 0.05 \
          "project bfloat16 (GPU)=$tf/project-bfloat16.jsonl"
      run train-fidelity-peft-float32 120 python3 tools/train_fidelity.py peft "$tiny" "$tf/adapter-gpu" 1e-3 \
          "project float32 (GPU)=$tf/project-float32.jsonl" ;;
    *) echo "unknown step $step"; exit 2 ;;
  esac
done
