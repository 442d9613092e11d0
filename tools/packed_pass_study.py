"""Where a packed prefix-cache pass spends the GPU's time, step by step, and what each alternative of a step costs.

The decoder program (core/.../model/decoder.py) runs its steps as ATen kernels, and TorchScript's fuser compiles some
element-wise chains of them into one kernel each (the rotary embedding, silu x up, the merge of the attention's
halves). Eager PyTorch, on Qwen3-0.6B's shapes with random weights, times the program's steps one by one, unfused:
CUDA events around each step of each of the 28 layers, a pass of 1,024 radr-like rows (27,008 tokens after a
115-token prefix, the bench's texts), summed per step. Then the alternatives of the steps that only move memory,
what the fuser does with shapes that change every call (as a stream's packed passes do; --fuser-only runs only
this part), and the own-row attention on flash's and the memory-efficient kernel's varlen paths.

    python3 tools/packed_pass_study.py [tokens] [rows] [prefix] [--fuser-only]
"""
import sys
import time

import torch
import torch.nn.functional as F

FUSER_ONLY = "--fuser-only" in sys.argv
args = [a for a in sys.argv[1:] if not a.startswith("--")]
T = int(args[0]) if len(args) > 0 else 27008
ROWS = int(args[1]) if len(args) > 1 else 1024
P = int(args[2]) if len(args) > 2 else 115
HIDDEN, INTER, HEADS, KV, D, LAYERS, EPS = 1024, 3072, 16, 8, 128, 28, 1e-6
dev, bf16 = "cuda", torch.bfloat16
torch.manual_seed(0)


def w(*shape):
    return (torch.randn(*shape, device=dev) * 0.02).to(bf16)


layers = [dict(ln1=1 + w(HIDDEN), qkv=w((HEADS + 2 * KV) * D, HIDDEN), qn=1 + w(D), kn=1 + w(D),
               o=w(HIDDEN, HEADS * D), ln2=1 + w(HIDDEN), gu=w(2 * INTER, HIDDEN), down=w(HIDDEN, INTER),
               pk=w(1, KV, P, D), pv=w(1, KV, P, D)) for _ in range(LAYERS)]
# Rows of 18 to 36 tokens summing to T.
lengths = torch.full((ROWS,), T // ROWS, dtype=torch.int32)
lengths[: T % ROWS] += 1
g = torch.Generator().manual_seed(1)
for _ in range(ROWS * 4):
    i, j = torch.randint(0, ROWS, (2,), generator=g).tolist()
    if lengths[i] < 36 and lengths[j] > 18:
        lengths[i] += 1
        lengths[j] -= 1
cu = torch.zeros(ROWS + 1, dtype=torch.int32)
cu[1:] = torch.cumsum(lengths, 0)
cu = cu.to(dev)
max_len = int(lengths.max())
place = torch.cat([torch.arange(int(n)) for n in lengths]).to(dev)
inv = 1.0 / (1e6 ** (torch.arange(0, D, 2, device=dev).float() / D))
pos = (P + torch.arange(max_len, device=dev)).float()
freqs = torch.outer(pos, inv)
emb = torch.cat([freqs, freqs], -1)
sin_signed = torch.cat([-emb.sin()[:, : D // 2], emb.sin()[:, D // 2:]], -1)
cos = emb.cos().to(bf16).index_select(0, place).unsqueeze(1)  # [T, 1, D]
sin = sin_signed.to(bf16).index_select(0, place).unsqueeze(1)
x0 = (torch.randn(1, T, HIDDEN, device=dev)).to(bf16)


def rotary_cat(x):
    half = D // 2
    swapped = torch.cat([x.narrow(-1, half, half), x.narrow(-1, 0, half)], -1)
    return x * cos + swapped * sin


def rotary_halves(x):
    # x * cos, then each half's rotate_half term added in place: no swapped copy, one kernel fewer.
    half = D // 2
    out = x * cos
    out.narrow(-1, 0, half).addcmul_(x.narrow(-1, half, half), sin.narrow(-1, 0, half))
    out.narrow(-1, half, half).addcmul_(x.narrow(-1, 0, half), sin.narrow(-1, half, half))
    return out


def rotary_addcmul(x):
    half = D // 2
    swapped = torch.cat([x.narrow(-1, half, half), x.narrow(-1, 0, half)], -1)
    return torch.addcmul(x * cos, swapped, sin)


def merge(o1, lse1, o2, lse2):
    share = torch.sigmoid(lse1 - lse2).to(bf16).unsqueeze(-1)
    return torch.lerp(o2, o1, share).flatten(2)


def layer(x, L, steps, rotary=rotary_cat, qk_norm="two", mlp="silu_mul", residual="add"):
    def mark(name):
        if steps is not None:
            e = torch.cuda.Event(enable_timing=True)
            e.record()
            steps.append((name, e))

    def norms_then_rotary(q, k):
        # Qwen3's two per-head norms with their weights, then the rotary of each: the program's way apart.
        q = torch.rms_norm(q, [D], L["qn"], EPS)
        k = torch.rms_norm(k, [D], L["kn"], EPS)
        mark("q/k norms")
        q, k = rotary(q), rotary(k)
        mark("rotary")
        return q, k

    mark("start")
    h = torch.rms_norm(x, [HIDDEN], L["ln1"], EPS)
    mark("norm")
    if qk_norm == "separate":
        # q, k and v from three products: contiguous outputs, so the norms read them without a copy.
        q = F.linear(h, L["qkv"].narrow(0, 0, HEADS * D)).view(1, T, HEADS, D)
        k = F.linear(h, L["qkv"].narrow(0, HEADS * D, KV * D)).view(1, T, KV, D)
        v = F.linear(h, L["qkv"].narrow(0, (HEADS + KV) * D, KV * D)).view(1, T, KV, D)
        mark("qkv product")
        q, k = norms_then_rotary(q, k)
    else:
        qkv = F.linear(h, L["qkv"])
        mark("qkv product")
        per_head = qkv.view(1, T, HEADS + 2 * KV, D)
        q, k, v = per_head.narrow(2, 0, HEADS), per_head.narrow(2, HEADS, KV), per_head.narrow(2, HEADS + KV, KV)
        if qk_norm == "folded":
            # The norm's scale s = rsqrt(mean(x^2) + eps) from a strided reduction (no copy), the weight folded into the
            # rotary tables (w * cos, swap(w) * sin: [T, 1, D] per layer), s applied last: 4 kernels per tensor.
            def normed_rotary(x, weight):
                s = torch.rsqrt(torch.linalg.vector_norm(x, 2., -1, True, dtype=torch.float32).square_() / D + EPS)
                half = D // 2
                wsw = torch.cat([weight.narrow(0, half, half), weight.narrow(0, 0, half)])
                cw, sw = cos * weight, sin * wsw
                out = x * cw
                out.narrow(-1, 0, half).addcmul_(x.narrow(-1, half, half), sw.narrow(-1, 0, half))
                out.narrow(-1, half, half).addcmul_(x.narrow(-1, 0, half), sw.narrow(-1, half, half))
                return out.mul_(s.to(bf16))
            q, k = normed_rotary(q, L["qn"]), normed_rotary(k, L["kn"])
            mark("rotary")
        elif qk_norm == "two":
            q, k = norms_then_rotary(q, k)
        else:
            # One norm over q's and k's heads, no weight, then ONE rotary over both with the weights folded in.
            qk = torch.rms_norm(per_head.narrow(2, 0, HEADS + KV), [D], None, EPS)
            qk = qk * L["qkn"]
            mark("q/k norms")
            qk = rotary(qk)
            q, k = qk.narrow(2, 0, HEADS), qk.narrow(2, HEADS, KV)
            mark("rotary")
    rows = q.transpose(1, 2)
    r1 = torch._scaled_dot_product_flash_attention(rows, L["pk"], L["pv"], 0., False, False, scale=None)
    o1, lse1 = r1[0].transpose(1, 2), r1[1].narrow(-1, 0, T).transpose(1, 2)
    mark("prefix attention")
    r2 = torch.ops.aten._flash_attention_forward(q.select(0, 0), k.select(0, 0), v.select(0, 0), cu, cu, max_len, max_len,
                                        0., True, False, scale=None)
    assert r2[1].dim() == 2, "flash-attention's unpadded log-sum-exp layout [heads, T]"
    lse2 = r2[1].transpose(0, 1).unsqueeze(0)
    mark("own-row attention")
    a = merge(o1, lse1, r2[0].unsqueeze(0), lse2)
    mark("merge")
    o = F.linear(a, L["o"])
    mark("o product")
    x = x + o if residual == "add" else x.add_(o)
    mark("residual")
    h = torch.rms_norm(x, [HIDDEN], L["ln2"], EPS)
    mark("norm")
    if mlp == "separate":
        # gate and up from two products: contiguous, so silu and the product run vectorized, in place.
        gate = F.linear(h, L["gu"].narrow(0, 0, INTER))
        up = F.linear(h, L["gu"].narrow(0, INTER, INTER))
        mark("gate/up product")
        act = F.silu(gate, inplace=True).mul_(up)
    else:
        gu = F.linear(h, L["gu"])
        mark("gate/up product")
        if mlp == "silu_mul":
            act = F.silu(gu.narrow(-1, 0, INTER)) * gu.narrow(-1, INTER, INTER)
        else:
            gate = gu.narrow(-1, 0, INTER)
            act = F.silu(gate, inplace=True).mul_(gu.narrow(-1, INTER, INTER))
    mark("silu * up")
    d = F.linear(act, L["down"])
    mark("down product")
    x = x + d if residual == "add" else x.add_(d)
    mark("residual")
    return x


for L in layers:
    L["qkn"] = torch.cat([L["qn"].expand(HEADS, D), L["kn"].expand(KV, D)]).contiguous()


def run(variant, passes=6, **kw):
    with torch.no_grad():
        for _ in range(2):
            x = x0.clone()
            for L in layers:
                x = layer(x, L, None, **kw)
        torch.cuda.synchronize()
        totals, per_step = [], {}
        for _ in range(passes):
            x = x0.clone()
            steps = []
            start = torch.cuda.Event(enable_timing=True)
            end = torch.cuda.Event(enable_timing=True)
            start.record()
            for L in layers:
                x = layer(x, L, steps, **kw)
            end.record()
            torch.cuda.synchronize()
            totals.append(start.elapsed_time(end))
            for (_, a), (name, b) in zip(steps, steps[1:]):
                if name != "start":
                    per_step[name] = per_step.get(name, 0.0) + a.elapsed_time(b) / passes
        totals.sort()
        print(f"\n{variant}: pass {totals[len(totals) // 2]:.1f} ms (median of {passes}), "
              f"{ROWS / totals[len(totals) // 2] * 1000:,.0f} rows/s")
        for name, t in sorted(per_step.items(), key=lambda kv: -kv[1]):
            print(f"  {name:20s} {t:7.2f} ms")
    return x


def timed(fn, *args, n=20):
    with torch.no_grad():
        for _ in range(3):
            fn(*args)
        torch.cuda.synchronize()
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record()
        for _ in range(n):
            fn(*args)
        e.record()
        torch.cuda.synchronize()
        return s.elapsed_time(e) / n


print(torch.cuda.get_device_name(), torch.__version__, f"T={T} rows={ROWS} prefix={P} longest={max_len}")
if not FUSER_ONLY:
    ref = run("as decoder.py runs it")
    alt = run("rotary: x*cos, then each half's term added in place", rotary=rotary_halves)
    print("  max |diff| against decoder.py's:", (alt.float() - ref.float()).abs().max().item())
    alt = run("rotary: addcmul of the swapped halves", rotary=rotary_addcmul)
    print("  max |diff|:", (alt.float() - ref.float()).abs().max().item())
    alt = run("q and k: one norm and one rotary over their 24 heads, halves in place", rotary=rotary_halves, qk_norm="one")
    print("  max |diff|:", (alt.float() - ref.float()).abs().max().item())
    alt = run("q, k, v from three products, norms without copies, halves in place", rotary=rotary_halves,
              qk_norm="separate")
    print("  max |diff|:", (alt.float() - ref.float()).abs().max().item())
    alt = run("q/k norm's scale from a strided reduction, weight folded into the rotary tables", qk_norm="folded")
    print("  max |diff|:", (alt.float() - ref.float()).abs().max().item())
    alt = run("q, k, v and gate, up from separate products, halves in place", rotary=rotary_halves,
              qk_norm="separate", mlp="separate")
    print("  max |diff|:", (alt.float() - ref.float()).abs().max().item())
    alt = run("+ silu and up in place, residuals in place", rotary=rotary_halves, qk_norm="one", mlp="inplace",
              residual="inplace")
    print("  max |diff|:", (alt.float() - ref.float()).abs().max().item())

# TorchScript's fuser on the element-wise steps, shapes changing every call as a stream's packed passes do.
print("\nTorchScript fuser, element-wise steps, T changing every call:")
print("  texpr fuser", torch._C._jit_texpr_fuser_enabled(), "can fuse on GPU", torch._C._jit_can_fuse_on_gpu(),
      "profiling executor", torch._C._jit_set_profiling_executor(True))
print("  fusion strategy:", torch._C._jit_set_fusion_strategy([("STATIC", 2), ("DYNAMIC", 10)]))


@torch.jit.script
def silu_mul_script(gu: torch.Tensor, inter: int) -> torch.Tensor:
    return torch.nn.functional.silu(gu.narrow(-1, 0, inter)) * gu.narrow(-1, inter, inter)


def rotary_eager(x, cos, sin):
    half = x.size(-1) // 2
    swapped = torch.cat([x.narrow(-1, half, half), x.narrow(-1, 0, half)], -1)
    return x * cos + swapped * sin


@torch.jit.script
def rotary_script(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    half = x.size(-1) // 2
    swapped = torch.cat([x.narrow(-1, half, half), x.narrow(-1, 0, half)], -1)
    return x * cos + swapped * sin


with torch.no_grad():
    for i, t in enumerate([T - 640, T - 320, T, T + 96, T - 48, T + 200, T - 1000, T + 17, T - 5, T + 333, T - 77,
                           T + 1, T - 2, T + 3, T - 4, T]):
        gu = torch.randn(1, t, 2 * INTER, device=dev).to(bf16)
        q = torch.randn(1, t, HEADS, D, device=dev).to(bf16)
        c, s = cos[:1].expand(t, 1, D), sin[:1].expand(t, 1, D)
        firsts = []
        for _ in range(3):  # the first calls at a new shape: profiling, then compiling a fused kernel
            started = time.perf_counter()
            rotary_script(q, c, s)
            torch.cuda.synchronize()
            firsts.append(f"{(time.perf_counter() - started) * 1000:.1f}")
        eager_mlp = timed(lambda: F.silu(gu.narrow(-1, 0, INTER)) * gu.narrow(-1, INTER, INTER))
        script_mlp = timed(silu_mul_script, gu, INTER)
        eager_rot = timed(rotary_eager, q, c, s)
        script_rot = timed(rotary_script, q, c, s)
        print(f"  call {i:2d} T={t}: silu*up eager {eager_mlp:.3f} ms, script {script_mlp:.3f}; "
              f"rotary eager {eager_rot:.3f}, script {script_rot:.3f} (its first calls {'/'.join(firsts)} ms)")
    print(torch.jit.last_executed_optimized_graph())

# The own-row attention: flash's varlen kernel against the memory-efficient kernel's (kv heads repeated for it).
with torch.no_grad():
    q = torch.randn(T, HEADS, D, device=dev).to(bf16)
    k = torch.randn(T, KV, D, device=dev).to(bf16)
    v = torch.randn(T, KV, D, device=dev).to(bf16)
    flash_ms = timed(lambda: torch.ops.aten._flash_attention_forward(q, k, v, cu, cu, max_len, max_len, 0., True,
                                                                      False, scale=None))
    print(f"\nown-row attention, one layer: flash varlen {flash_ms:.3f} ms")
    try:
        def efficient():
            k16 = k.repeat_interleave(HEADS // KV, 1)
            v16 = v.repeat_interleave(HEADS // KV, 1)
            return torch.ops.aten._efficient_attention_forward(q.unsqueeze(0), k16.unsqueeze(0), v16.unsqueeze(0),
                                                               None, cu, cu, max_len, max_len, 0., 1, True)
        eff_ms = timed(efficient)
        o_eff = efficient()[0].squeeze(0)
        o_fl = torch.ops.aten._flash_attention_forward(q, k, v, cu, cu, max_len, max_len, 0., True, False,
                                                        scale=None)[0]
        print(f"  efficient varlen (kv repeated) {eff_ms:.3f} ms, max |diff| {(o_eff.float() - o_fl.float()).abs().max().item():.4f},"
              f" lse shape {tuple(efficient()[1].shape)}")
    except Exception as e:  # the kernel's schema or support differs between releases
        print("  efficient varlen:", repr(e)[:300])
