class Model(Module):
  # The Qwen3 / Qwen2 / Llama decoder as ONE TorchScript program (transformers' modeling_qwen3.py, step by step).
  # model/Decoder.java packs this file into a TorchScript archive and loads it in the PyTorch engine, so a forward
  # pass is one call from Java: fused attention, fused norms, no per-operation crossing of the JNI boundary.
  #
  # This is TorchScript's serialized dialect, not Python: dtypes are integers (6 float32, 5 float16,
  # 15 bfloat16), keyword-only arguments are named, every attribute is declared with its type.
  #
  # self.w: 0 embed_tokens, 1 norm, then 9 slots per layer (in the order Decoder's constructor hands them over):
  #   input_layernorm, qkv_proj (q, k, v rows), qkv_bias, q_norm, k_norm, o_proj, post_attention_layernorm,
  #   gate_up_proj (gate, up rows), down_proj. Absent tensors (no bias, no q/k norms) are empty.
  # self.sizes: layers, heads, kv_heads, head_dim, hidden, intermediate, compute dtype, then three
  # switches (1: on) of Decoder.Precision to find a step that loses precision in 16 bits: the final norm, the merge
  # of the prefix halves and the rotary embedding in float32. All 0 by default: every step in the compute dtype, as
  # transformers does.
  # lora: empty, or 14 per layer: A then B of q, k, v, o, gate, up, down (empty where not targeted).
  __parameters__ = []
  __buffers__ = []
  training : bool
  w : List[Tensor]
  sizes : List[int]
  eps : List[float]

  def setup(self: __torch__.Model, weights: List[Tensor], sizes: List[int], eps: float) -> None:
    converted = annotate(List[Tensor], [])
    for t in weights:
      converted.append(torch.to(t, sizes[6]))
    self.w = converted
    self.sizes = sizes
    self.eps = [eps]
    return None

  def prefill(self: __torch__.Model, ids: Tensor, cos: Tensor, sin: Tensor, lora: List[Tensor], lora_scale: float,
      dropout: float) -> Tuple[Tensor, Tensor]:
    # Keys and values [layers, kv_heads, length, head_dim] (float32) of one sequence, for later rows to attend to.
    none = torch.empty([0], dtype=6, layout=None, device=ops.prim.device(ids), pin_memory=None)
    x, keys, values = self.run(ids, cos, sin, none, none, lora, lora_scale, dropout, False, True)
    return (keys, values)

  def forward(self: __torch__.Model, ids: Tensor, last: Tensor, cos: Tensor, sin: Tensor, prefix_keys: Tensor,
      prefix_values: Tensor, lora: List[Tensor], lora_scale: float, dropout: float, merged_prefix: bool) -> Tensor:
    # Final normed hidden states (float32) at flat positions `last` of the right-padded [B, T] batch `ids`.
    x, keys, values = self.run(ids, cos, sin, prefix_keys, prefix_values, lora, lora_scale, dropout, merged_prefix,
        False)
    hidden = self.sizes[4]
    picked = torch.index_select(torch.reshape(x, [-1, hidden]), 0, last)
    if self.sizes[7] != 0:
      return torch.rms_norm(torch.to(picked, 6), [hidden], torch.to(self.w[1], 6), self.eps[0])
    return torch.to(torch.rms_norm(picked, [hidden], self.w[1], self.eps[0]), 6)

  def run(self: __torch__.Model, ids: Tensor, cos: Tensor, sin: Tensor, prefix_keys: Tensor, prefix_values: Tensor,
      lora: List[Tensor], lora_scale: float, dropout: float, merged_prefix: bool,
      keep: bool) -> Tuple[Tensor, Tensor, Tensor]:
    layers = self.sizes[0]
    hidden = self.sizes[4]
    dtype = self.sizes[6]
    eps = self.eps[0]
    # Rotary tables [T, 1, head_dim] for this run's positions, in the activations' dtype (as transformers does),
    # or float32 with the rotary switch (rotate() then computes in float32).
    rotary_dtype = dtype
    if self.sizes[9] != 0:
      rotary_dtype = 6
    cos = torch.unsqueeze(torch.to(cos, rotary_dtype), 1)
    sin = torch.unsqueeze(torch.to(sin, rotary_dtype), 1)
    prefix_k = torch.to(prefix_keys, dtype)
    prefix_v = torch.to(prefix_values, dtype)
    kept_k = annotate(List[Tensor], [])
    kept_v = annotate(List[Tensor], [])
    x = torch.embedding(self.w[0], ids)
    for i in range(layers):
      base = 2 + 9 * i
      h = torch.rms_norm(x, [hidden], self.w[base], eps)
      q, k, v = self.qkv(i, h, lora, lora_scale, dropout)
      q = self.rotate(q, cos, sin)
      k = self.rotate(k, cos, sin)
      if keep:
        kept_k.append(k)
        kept_v.append(v)
      if torch.numel(prefix_k) == 0:
        attn = self.attend(q, k, v)
      elif merged_prefix:
        attn = self.attend_prefix_merged(q, k, v, torch.unsqueeze(prefix_k[i], 0), torch.unsqueeze(prefix_v[i], 0))
      else:
        attn = self.attend_prefix_broadcast(q, k, v, torch.unsqueeze(prefix_k[i], 0), torch.unsqueeze(prefix_v[i], 0))
      o = torch.linear(attn, self.w[base + 5])
      if torch.len(lora) > 0:
        o = torch.add(o, self.lora_delta(attn, lora[14 * i + 6], lora[14 * i + 7], lora_scale, dropout))
      x = torch.add(x, o)
      h2 = torch.rms_norm(x, [hidden], self.w[base + 6], eps)
      x = torch.add(x, self.mlp(i, h2, lora, lora_scale, dropout))
    if keep:
      # [layers, B, T, kv_heads, head_dim] -> [layers, kv_heads, T, head_dim] of the single prefilled row.
      keys = torch.contiguous(torch.transpose(torch.select(torch.stack(kept_k), 1, 0), 1, 2))
      values = torch.contiguous(torch.transpose(torch.select(torch.stack(kept_v), 1, 0), 1, 2))
      return (x, torch.to(keys, 6), torch.to(values, 6))
    return (x, prefix_keys, prefix_values)

  def qkv(self: __torch__.Model, i: int, h: Tensor, lora: List[Tensor], lora_scale: float,
      dropout: float) -> Tuple[Tensor, Tensor, Tensor]:
    # q [B, T, heads, head_dim], k and v [B, T, kv_heads, head_dim]; q/k norms (Qwen3) before rotary.
    base = 2 + 9 * i
    heads = self.sizes[1]
    kv_heads = self.sizes[2]
    head_dim = self.sizes[3]
    batch = torch.size(h, 0)
    width = torch.size(h, 1)
    bias = self.w[base + 2]
    if torch.numel(bias) > 0:
      qkv = torch.linear(h, self.w[base + 1], bias)
    else:
      qkv = torch.linear(h, self.w[base + 1])
    if torch.len(lora) > 0:
      j = 14 * i
      qkv = torch.add(qkv, torch.cat([self.lora_delta(h, lora[j], lora[j + 1], lora_scale, dropout),
          self.lora_delta(h, lora[j + 2], lora[j + 3], lora_scale, dropout),
          self.lora_delta(h, lora[j + 4], lora[j + 5], lora_scale, dropout)], -1))
    # Views into the one projection's output, per head: no copies.
    per_head = torch.view(qkv, [batch, width, heads + 2 * kv_heads, head_dim])
    q = torch.narrow(per_head, 2, 0, heads)
    k = torch.narrow(per_head, 2, heads, kv_heads)
    v = torch.narrow(per_head, 2, heads + kv_heads, kv_heads)
    q_norm = self.w[base + 3]
    if torch.numel(q_norm) > 0:
      q = torch.rms_norm(q, [head_dim], q_norm, self.eps[0])
      k = torch.rms_norm(k, [head_dim], self.w[base + 4], self.eps[0])
    return (q, k, v)

  def rotate(self: __torch__.Model, x: Tensor, cos: Tensor, sin_signed: Tensor) -> Tensor:
    # x * cos + rotate_half(x) * sin, with rotate_half's sign folded into the first half of sin_signed.
    half = torch.floordiv(self.sizes[3], 2)
    if self.sizes[9] != 0:
      x32 = torch.to(x, 6)
      swapped32 = torch.cat([torch.narrow(x32, -1, half, half), torch.narrow(x32, -1, 0, half)], -1)
      return torch.to(torch.add(torch.mul(x32, cos), torch.mul(swapped32, sin_signed)), ops.prim.dtype(x))
    swapped = torch.cat([torch.narrow(x, -1, half, half), torch.narrow(x, -1, 0, half)], -1)
    return torch.add(torch.mul(x, cos), torch.mul(swapped, sin_signed))

  def mlp(self: __torch__.Model, i: int, h: Tensor, lora: List[Tensor], lora_scale: float, dropout: float) -> Tensor:
    base = 2 + 9 * i
    inter = self.sizes[5]
    gate_up = torch.linear(h, self.w[base + 7])
    if torch.len(lora) > 0:
      j = 14 * i
      gate_up = torch.add(gate_up, torch.cat([self.lora_delta(h, lora[j + 8], lora[j + 9], lora_scale, dropout),
          self.lora_delta(h, lora[j + 10], lora[j + 11], lora_scale, dropout)], -1))
    act = torch.mul(torch.silu(torch.narrow(gate_up, -1, 0, inter)), torch.narrow(gate_up, -1, inter, inter))
    down = torch.linear(act, self.w[base + 8])
    if torch.len(lora) > 0:
      down = torch.add(down, self.lora_delta(act, lora[14 * i + 12], lora[14 * i + 13], lora_scale, dropout))
    return down

  def lora_delta(self: __torch__.Model, x: Tensor, a: Tensor, b: Tensor, scale: float, dropout: float) -> Tensor:
    # scale * B (A dropout(x)); zeros of B's height where the module is not targeted (A is [0, in], B [out, 0]).
    if torch.size(a, 0) == 0:
      return torch.new_zeros(x, torch.add(torch.slice(torch.size(x), 0, -1), [torch.size(b, 0)]))
    if dropout > 0.:
      x = torch.dropout(x, dropout, True)
    a = torch.to(a, ops.prim.dtype(x))
    b = torch.to(b, ops.prim.dtype(x))
    return torch.mul(torch.linear(torch.linear(x, a), b), scale)

  def attend(self: __torch__.Model, q: Tensor, k: Tensor, v: Tensor) -> Tensor:
    # Causal attention of right-padded rows: a real token never sees padding, padded rows are never read.
    out = torch.scaled_dot_product_attention(torch.transpose(q, 1, 2), torch.transpose(k, 1, 2),
        torch.transpose(v, 1, 2), None, 0., True, scale=None, enable_gqa=True)
    return torch.flatten(torch.transpose(out, 1, 2), 2)

  def attend_prefix_broadcast(self: __torch__.Model, q: Tensor, k: Tensor, v: Tensor, prefix_k: Tensor,
      prefix_v: Tensor) -> Tensor:
    # The shared prefix broadcast to every row, then one masked attention: differentiable, used for training.
    batch = torch.size(q, 0)
    width = torch.size(q, 1)
    start = torch.size(prefix_k, 2)
    keys = torch.cat([torch.expand(prefix_k, [batch, -1, -1, -1]), torch.transpose(k, 1, 2)], 2)
    values = torch.cat([torch.expand(prefix_v, [batch, -1, -1, -1]), torch.transpose(v, 1, 2)], 2)
    ones = torch.ones([width, start + width], dtype=11, layout=None, device=ops.prim.device(q), pin_memory=None)
    mask = torch.tril(ones, start)
    out = torch.scaled_dot_product_attention(torch.transpose(q, 1, 2), keys, values, mask, 0., False, scale=None,
        enable_gqa=True)
    return torch.flatten(torch.transpose(out, 1, 2), 2)

  def attend_prefix_merged(self: __torch__.Model, q: Tensor, k: Tensor, v: Tensor, prefix_k: Tensor,
      prefix_v: Tensor) -> Tensor:
    # Every query sees the whole prefix, so its part needs no mask and no copy per row: all queries of the batch
    # attend to the prefix as ONE sequence per kv head, each row attends causally to its own tokens, and the two
    # softmax halves are merged by their log-sum-exp. Inference only (the log-sum-exp carries no gradient).
    batch = torch.size(q, 0)
    width = torch.size(q, 1)
    heads = self.sizes[1]
    kv_heads = self.sizes[2]
    head_dim = self.sizes[3]
    if ops.prim.is_cuda(q):
      # The GPU's flash kernels read kv head j // groups for query head j themselves: all views, no copies.
      rows = torch.transpose(torch.reshape(q, [1, batch * width, heads, head_dim]), 1, 2)
      o1, lse1 = self.flash(rows, prefix_k, prefix_v, False)
      o1 = torch.reshape(torch.transpose(o1, 1, 2), [batch, width, heads, head_dim])
      lse1 = torch.reshape(torch.transpose(lse1, 1, 2), [batch, width, heads])
      o2, lse2 = self.flash(torch.transpose(q, 1, 2), torch.transpose(k, 1, 2), torch.transpose(v, 1, 2), True)
    else:
      # The CPU kernel wants as many kv heads as query heads: fold the groups into the rows for the prefix
      # ([B, T, kv, g, d] -> [1, kv, g * B * T, d]) and repeat the rows' own keys and values.
      groups = torch.floordiv(heads, kv_heads)
      grouped = torch.reshape(torch.permute(torch.reshape(q, [batch, width, kv_heads, groups, head_dim]),
          [2, 3, 0, 1, 4]), [1, kv_heads, groups * batch * width, head_dim])
      o1, lse1 = self.flash(grouped, prefix_k, prefix_v, False)
      o1 = torch.reshape(torch.permute(torch.reshape(o1, [kv_heads, groups, batch, width, head_dim]),
          [2, 3, 0, 1, 4]), [batch, width, heads, head_dim])
      lse1 = torch.reshape(torch.permute(torch.reshape(lse1, [kv_heads, groups, batch, width]), [2, 3, 0, 1]),
          [batch, width, heads])
      k_all = torch.reshape(torch.expand(torch.unsqueeze(k, 3), [batch, width, kv_heads, groups, head_dim]),
          [batch, width, heads, head_dim])
      v_all = torch.reshape(torch.expand(torch.unsqueeze(v, 3), [batch, width, kv_heads, groups, head_dim]),
          [batch, width, heads, head_dim])
      o2, lse2 = self.flash(torch.transpose(q, 1, 2), torch.transpose(k_all, 1, 2), torch.transpose(v_all, 1, 2),
          True)
    o2 = torch.transpose(o2, 1, 2)
    lse2 = torch.transpose(lse2, 1, 2)
    # The prefix's share of each query's softmax mass, exp(lse1) / (exp(lse1) + exp(lse2)) = sigmoid(lse1 - lse2),
    # weighs the two outputs in ONE pass over them (lerp), fused or not: TorchScript's fuser compiles exact shapes
    # for a program's first shapes only, and a stream's batches keep changing shape.
    if self.sizes[8] != 0:
      share32 = torch.unsqueeze(torch.sigmoid(torch.sub(lse1, lse2)), -1)
      merged = torch.lerp(torch.to(o2, 6), torch.to(o1, 6), share32)
      return torch.flatten(torch.to(merged, ops.prim.dtype(q)), 2)
    share = torch.unsqueeze(torch.to(torch.sigmoid(torch.sub(lse1, lse2)), ops.prim.dtype(q)), -1)
    return torch.flatten(torch.lerp(o2, o1, share), 2)

  def flash(self: __torch__.Model, q: Tensor, k: Tensor, v: Tensor, causal: bool) -> Tuple[Tensor, Tensor]:
    # Attention output [B, H, T, d] and its log-sum-exp [B, H, T] (float32), from the flash kernels.
    if ops.prim.is_cuda(q):
      r = torch._scaled_dot_product_flash_attention(q, k, v, 0., causal, False, scale=None)
      return (r[0], torch.narrow(r[1], -1, 0, torch.size(q, 2)))
    r2 = torch._scaled_dot_product_flash_attention_for_cpu(q, k, v, 0., causal, attn_mask=None, scale=None)
    return (r2[0], r2[1])
