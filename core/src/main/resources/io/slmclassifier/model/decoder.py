# The Qwen3 / Qwen2 / Llama decoder as ONE TorchScript program, to be read beside transformers'
# models/qwen3/modeling_qwen3.py: DecoderConfig is the part of config.json a pass needs, Qwen3DecoderLayer is
# Qwen3DecoderLayer with its Qwen3Attention and Qwen3MLP, Qwen3Model is Qwen3Model, LayerAdapter is PEFT's LoRA of
# one layer, PackedRows is a batch run as one sequence of its rows' real tokens, Model is what Java calls.
# model/Decoder.java packs this file into a TorchScript archive (TorchScriptArchive) and loads it in the PyTorch
# engine, so a forward pass is one call from Java: fused attention, fused norms, no crossing of the JNI boundary
# per operation.
#
# This is TorchScript's serialized dialect, which the engine compiles when it loads the archive: Python syntax,
# with every class qualified as __torch__.Name, every attribute declared with its type, and no dtype names.


class DecoderConfig:
  # The sizes of config.json a pass needs, under config.json's names.
  hidden_size : int
  intermediate_size : int
  num_attention_heads : int
  num_key_value_heads : int
  head_dim : int
  rms_norm_eps : float
  # The dtype every step computes in (bfloat16 on a GPU, float32 on a CPU), and the steps Decoder.Precision moves
  # to float32 (none by default, as transformers computes; all three keep the top class a little more often than
  # transformers' bfloat16 does, for a sixth less throughput).
  compute_dtype : int
  float32_final_norm : bool
  float32_prefix_merge : bool
  float32_rotary : bool
  # From how many tokens in a pass q, k and v come from three products over row blocks of qkv_proj (-1: never), so
  # that Qwen3's q and k norms read contiguous rows instead of copying them first (Decoder.Kernels).
  separate_qkv_tokens : int
  # Whether q and k of the one fused product are normed and rotated as ONE block of heads (Decoder.Kernels): three
  # kernels per layer instead of six, where a small pass's time is the host launching them.
  joint_qk : bool
  # Whether products and the whole prompt's attention call their kernels directly (Decoder.Kernels): mm on the
  # weights' transposed views over the tokens as rows, flash attention in its own [batch, seq, heads, head_dim]
  # layout. The same kernels, a third fewer operators around them, where a small pass's time is the host's (off by
  # default until measured on a GPU).
  direct_calls : bool
  # PyTorch's numbers for the dtypes the program names itself (c10::ScalarType): the serialized dialect imports
  # no dtype names (`torch.float32` is refused).
  float32 : int
  int64 : int
  boolean : int

  def __init__(self, hidden_size: int, intermediate_size: int, num_attention_heads: int, num_key_value_heads: int,
      head_dim: int, rms_norm_eps: float, compute_dtype: int, float32_final_norm: bool, float32_prefix_merge: bool,
      float32_rotary: bool, separate_qkv_tokens: int, joint_qk: bool, direct_calls: bool):
    self.hidden_size = hidden_size
    self.intermediate_size = intermediate_size
    self.num_attention_heads = num_attention_heads
    self.num_key_value_heads = num_key_value_heads
    self.head_dim = head_dim
    self.rms_norm_eps = rms_norm_eps
    self.compute_dtype = compute_dtype
    self.float32_final_norm = float32_final_norm
    self.float32_prefix_merge = float32_prefix_merge
    self.float32_rotary = float32_rotary
    self.separate_qkv_tokens = separate_qkv_tokens
    self.joint_qk = joint_qk
    self.direct_calls = direct_calls
    self.float32 = 6
    self.int64 = 4
    self.boolean = 11


class LoraPair:
  # One fused projection's low-rank update, y + scale B (A x), as a pass applies it: A [r, in] and B [out, r]. For
  # qkv_proj (and gate_up_proj) the A matrices of q, k and v are stacked into one [r_q + r_k + r_v, hidden] matrix
  # and B is block-diagonal: block i maps only the rows of A_i to the output rows of module i, so the fused
  # projection's whole update is ONE pair of products instead of three, with no concatenation. An untargeted module
  # of the group has no rows in A and zero rows in B. The scale stays out of B: the second product applies it
  # (addmm's alpha), which costs nothing, where folding it into B cost a product per module in every training step.
  A : Tensor
  B : Tensor
  scale : float
  # Rows of A per module of the group, 0 where it is not targeted: training draws one dropout mask per module, as
  # PEFT does (each LoRA layer has its own dropout).
  ranks : List[int]
  dropout : float

  def __init__(self, A: Tensor, B: Tensor, scale: float, ranks: List[int], dropout: float):
    self.A = A
    self.B = B
    self.scale = scale
    self.ranks = ranks
    self.dropout = dropout

  def add_to(self, y: Tensor, x: Tensor) -> Tensor:
    # y + scale (x A^T) B^T, the add fused into the second product (addmm): no delta is written.
    return self.add_low(y, self.low(x), self.B)

  def low(self, x: Tensor) -> Tensor:
    # x A^T for x [..., in], as [rows, r]: the first product, shared by every module of the group.
    rows = x.reshape([-1, x.size(-1)])
    if self.dropout > 0.:
      return self.low_with_dropout(rows)
    return torch.mm(rows, self.A.t())

  def add_low(self, y: Tensor, low: Tensor, B: Tensor) -> Tensor:
    # y + scale low B^T, with B this pair's B or the rows of it that map to y (one module of the group).
    flat = y.reshape([-1, y.size(-1)])
    if torch.is_grad_enabled():
      return torch.addmm(flat, low, B.t(), beta=1, alpha=self.scale).view(y.shape)
    # Serving: y is this pass's own projection output, so the update goes into it in place. Measured on an H100
    # (Qwen3-0.6B shapes, 24,576 rows, 28 layers): 51 ms with the base products against 62 ms for addmm into a
    # new tensor and 33 ms without an adapter.
    flat.addmm_(low, B.t(), beta=1, alpha=self.scale)
    return y

  def low_with_dropout(self, x: Tensor) -> Tensor:
    # x A^T with a dropout mask of its own for each module's rows of A. A training step is bound by launching
    # operators (and autograd's backward of each), so a group draws its modules' masks at once: x repeated per
    # module [n, rows, in], one dropout, one batched product with A seen as [n, r, in] (LoraConfig has one rank).
    targeted = annotate(List[int], [])
    for r in self.ranks:
      if r > 0:
        targeted.append(r)
    if len(targeted) == 1:
      return torch.mm(torch.dropout(x, self.dropout, True), self.A.t())
    n, rank, features = len(targeted), targeted[0], x.size(1)
    for r in targeted:
      assert r == rank, "the modules of a group have one rank"
    dropped = torch.dropout(x.unsqueeze(0).expand([n, x.size(0), features]), self.dropout, True)
    low = torch.bmm(dropped, self.A.view([n, rank, features]).transpose(1, 2))
    return low.transpose(0, 1).reshape([x.size(0), n * rank])


class LayerAdapter:
  # PEFT's LoRA of one decoder layer, grouped as the layer's fused weights are; None where the adapter targets no
  # module of a group.
  qkv_proj : Optional[__torch__.LoraPair]
  o_proj : Optional[__torch__.LoraPair]
  gate_up_proj : Optional[__torch__.LoraPair]
  down_proj : Optional[__torch__.LoraPair]

  def __init__(self, lora: Dict[str, Tensor], layer: int, config: __torch__.DecoderConfig, device: Device,
      scale: float, dropout: float, serving: bool):
    # lora: A and B under PEFT's names (base_model.model.model.layers.{i}.self_attn.q_proj.lora_A.weight ...).
    q_size = config.num_attention_heads * config.head_dim
    kv_size = config.num_key_value_heads * config.head_dim
    attn = "base_model.model.model.layers." + str(layer) + ".self_attn."
    mlp = "base_model.model.model.layers." + str(layer) + ".mlp."
    self.qkv_proj = self.pair(lora, [attn + "q_proj", attn + "k_proj", attn + "v_proj"], [q_size, kv_size, kv_size],
        config, device, scale, dropout, serving)
    self.o_proj = self.pair(lora, [attn + "o_proj"], [config.hidden_size], config, device, scale, dropout, serving)
    self.gate_up_proj = self.pair(lora, [mlp + "gate_proj", mlp + "up_proj"],
        [config.intermediate_size, config.intermediate_size], config, device, scale, dropout, serving)
    self.down_proj = self.pair(lora, [mlp + "down_proj"], [config.hidden_size], config, device, scale, dropout, serving)

  def pair(self, lora: Dict[str, Tensor], modules: List[str], out_features: List[int],
      config: __torch__.DecoderConfig, device: Device, scale: float, dropout: float,
      serving: bool) -> Optional[__torch__.LoraPair]:
    # Serving prepares a version once, when it is installed: detached from whoever trained it, on the model's
    # device, in the compute dtype (the engine cannot make bfloat16 arrays, the program can).
    # Training builds the same pair for every pass from the trainable A and B, so that gradients reach each one.
    As = annotate(List[Tensor], [])
    Bs = annotate(List[Optional[Tensor]], [])
    ranks = annotate(List[int], [])
    for module in modules:
      if module + ".lora_A.weight" in lora:
        A = lora[module + ".lora_A.weight"]
        As.append(A)
        Bs.append(lora[module + ".lora_B.weight"])
        ranks.append(A.size(0))
      else:
        Bs.append(None)
        ranks.append(0)
    if len(As) == 0:
      return None
    A = As[0]
    B = Bs[0]
    if len(modules) > 1:
      blocks = annotate(List[Tensor], [])
      for i in range(len(modules)):
        Bi = Bs[i]
        # An untargeted module's block: its output rows, no columns.
        blocks.append(Bi if Bi is not None else As[0].new_zeros([out_features[i], 0]))
      A = torch.cat(As, 0)
      B = torch.block_diag(blocks)
    assert B is not None
    if serving:
      A = A.detach()
      B = B.detach()
    # A serving version holds its own copy (copy=True, also where device and dtype already match: a one-module
    # group's A and B would otherwise be the adapter's own tensors), since the adapter it was made from may be closed
    # while the version serves.
    return __torch__.LoraPair(A.to(device, config.compute_dtype, False, serving),
        B.to(device, config.compute_dtype, False, serving), scale, ranks, dropout)


class PackedRows:
  # A batch run as ONE sequence of its rows' real tokens, [1, T] with T the sum of the rows' lengths: every step
  # that works token by token (embedding, norms, projections, LoRA, MLP, residuals) sees no padding at all, and
  # only the attention of each row to its own tokens needs to know where the rows begin and end. Right-padded,
  # a batch costs rows x its longest row; on radr texts after the cached prefix that is twice its real tokens.
  config : __torch__.DecoderConfig
  # Where each row starts in the sequence, then T: int32 [rows + 1] on the device, the flash kernels'
  # cumulative sequence lengths.
  cu_seqlens : Tensor
  max_len : int
  # Each token's place in the rows right-padded to max_len (flat, [T] into [rows * max_len]): made the first time
  # a kernel needs the padded layout (the CPU's own-row attention), then kept for the pass's other layers.
  slots : Optional[Tensor]

  def __init__(self, config: __torch__.DecoderConfig, cu_seqlens: Tensor, max_len: int):
    self.config = config
    self.cu_seqlens = cu_seqlens
    self.max_len = max_len
    self.slots = None

  def rows(self) -> int:
    return self.cu_seqlens.size(0) - 1

  def padded_slots(self) -> Tensor:
    slots = self.slots
    if slots is None:
      ends = self.cu_seqlens.to(self.config.int64)
      starts = ends.narrow(0, 0, self.rows())
      row_of_token = torch.repeat_interleave(ends.narrow(0, 1, self.rows()) - starts)
      tokens = torch.arange(row_of_token.size(0), dtype=self.config.int64, layout=None, device=ends.device,
          pin_memory=None)
      slots = row_of_token * self.max_len + (tokens - starts.index_select(0, row_of_token))
      self.slots = slots
    return slots

  def pad(self, x: Tensor) -> Tensor:
    # [1, T, heads, d] -> [rows, max_len, heads, d], zeros after each row's end.
    tokens = x.select(0, 0)
    padded = tokens.new_zeros([self.rows() * self.max_len, tokens.size(1), tokens.size(2)])
    padded = padded.index_copy(0, self.padded_slots(), tokens)
    return padded.view([self.rows(), self.max_len, tokens.size(1), tokens.size(2)])

  def unpad(self, x: Tensor) -> Tensor:
    # [rows, max_len, ...] -> [1, T, ...]: the real tokens' entries, in the sequence's order.
    return x.flatten(0, 1).index_select(0, self.padded_slots()).unsqueeze(0)


class Qwen3DecoderLayer:
  # One decoder layer, its tensors under the checkpoint's names (model.layers.{i}.input_layernorm.weight ...), in
  # the compute dtype. Two fusions, made once by DecoderWeights: q_proj, k_proj and v_proj are stacked into
  # qkv_proj (rows q, then k, then v) and gate_proj and up_proj into gate_up_proj (rows gate, then up), because the
  # modules of each group read the same input: one product reads it once and launches one kernel, not three.
  config : __torch__.DecoderConfig
  input_layernorm : Tensor
  qkv_proj : Tensor
  qkv_bias : Optional[Tensor]
  # Row blocks of qkv_proj and qkv_bias (views, no memory of their own) for the separate products of large passes.
  q_proj : Tensor
  k_proj : Tensor
  v_proj : Tensor
  q_bias : Optional[Tensor]
  k_bias : Optional[Tensor]
  v_bias : Optional[Tensor]
  qkv_sizes : List[int]
  q_norm : Optional[Tensor]
  k_norm : Optional[Tensor]
  # q_norm's weight for each query head, then k_norm's for each kv head [heads + kv_heads, head_dim]: the q and k of
  # the fused product are ONE block of heads there, normed at once.
  qk_norm : Optional[Tensor]
  o_proj : Tensor
  post_attention_layernorm : Tensor
  gate_up_proj : Tensor
  down_proj : Tensor
  # Each weight above as [in, out] (its .t(): a view), what a product of the tokens as rows reads (direct_calls).
  qkv_proj_t : Tensor
  q_proj_t : Tensor
  k_proj_t : Tensor
  v_proj_t : Tensor
  o_proj_t : Tensor
  gate_up_proj_t : Tensor
  down_proj_t : Tensor

  def __init__(self, config: __torch__.DecoderConfig, input_layernorm: Tensor, qkv_proj: Tensor,
      qkv_bias: Optional[Tensor], q_norm: Optional[Tensor], k_norm: Optional[Tensor], o_proj: Tensor,
      post_attention_layernorm: Tensor, gate_up_proj: Tensor, down_proj: Tensor):
    # qkv_bias: Qwen2's attention bias, None for Qwen3 and Llama; q_norm and k_norm: Qwen3's per-head RMS norms of
    # queries and keys, None for Qwen2 and Llama.
    self.config = config
    self.input_layernorm = input_layernorm
    self.qkv_proj = qkv_proj
    self.qkv_bias = qkv_bias
    self.qkv_sizes = [config.num_attention_heads * config.head_dim, config.num_key_value_heads * config.head_dim,
        config.num_key_value_heads * config.head_dim]
    blocks = torch.split_with_sizes(qkv_proj, self.qkv_sizes, 0)
    self.q_proj, self.k_proj, self.v_proj = blocks[0], blocks[1], blocks[2]
    self.q_bias = None
    self.k_bias = None
    self.v_bias = None
    if qkv_bias is not None:
      biases = torch.split_with_sizes(qkv_bias, self.qkv_sizes, 0)
      self.q_bias, self.k_bias, self.v_bias = biases[0], biases[1], biases[2]
    self.q_norm = q_norm
    self.k_norm = k_norm
    self.qk_norm = None
    if q_norm is not None and k_norm is not None:
      self.qk_norm = torch.cat([q_norm.expand([config.num_attention_heads, config.head_dim]),
          k_norm.expand([config.num_key_value_heads, config.head_dim])], 0)
    self.o_proj = o_proj
    self.post_attention_layernorm = post_attention_layernorm
    self.gate_up_proj = gate_up_proj
    self.down_proj = down_proj
    self.qkv_proj_t = qkv_proj.t()
    self.q_proj_t, self.k_proj_t, self.v_proj_t = self.q_proj.t(), self.k_proj.t(), self.v_proj.t()
    self.o_proj_t = o_proj.t()
    self.gate_up_proj_t = gate_up_proj.t()
    self.down_proj_t = down_proj.t()

  def forward(self, hidden_states: Tensor, cos: Tensor, sin: Tensor, prefix_key: Optional[Tensor],
      prefix_value: Optional[Tensor], merged_prefix: bool, packed: Optional[__torch__.PackedRows],
      adapter: Optional[__torch__.LayerAdapter]) -> Tuple[Tensor, Tensor, Tensor]:
    # Qwen3DecoderLayer.forward; also hands back this layer's keys and values, which prefill keeps.
    config = self.config
    residual = hidden_states
    hidden_states = torch.rms_norm(hidden_states, [config.hidden_size], self.input_layernorm, config.rms_norm_eps)
    hidden_states, key_states, value_states = self.self_attn(hidden_states, cos, sin, prefix_key, prefix_value,
        merged_prefix, packed, adapter)
    hidden_states = residual + hidden_states

    residual = hidden_states
    hidden_states = torch.rms_norm(hidden_states, [config.hidden_size], self.post_attention_layernorm,
        config.rms_norm_eps)
    hidden_states = self.mlp(hidden_states, adapter)
    hidden_states = residual + hidden_states
    return (hidden_states, key_states, value_states)

  def self_attn(self, hidden_states: Tensor, cos: Tensor, sin: Tensor, prefix_key: Optional[Tensor],
      prefix_value: Optional[Tensor], merged_prefix: bool, packed: Optional[__torch__.PackedRows],
      adapter: Optional[__torch__.LayerAdapter]) -> Tuple[Tensor, Tensor, Tensor]:
    # Qwen3Attention.forward, with the tensors in [batch, seq, heads, head_dim] order until the kernels want heads
    # first. Queries of the rows attend to a shared cached prefix (the task's prompt) and causally to themselves;
    # with packed rows, batch is 1 and seq is every row's tokens one after the other.
    config = self.config
    batch, width = hidden_states.size(0), hidden_states.size(1)
    heads, kv_heads = config.num_attention_heads, config.num_key_value_heads
    if config.separate_qkv_tokens >= 0 and batch * width >= config.separate_qkv_tokens:
      query_states, key_states, value_states = self.project_qkv_separately(hidden_states, adapter)
      query_states, key_states = self.norm_and_rotate_apart(query_states, key_states, cos, sin)
    else:
      qkv = self.project(hidden_states, self.qkv_proj, self.qkv_proj_t, self.qkv_bias)
      if adapter is not None:
        qkv = self.lora(adapter.qkv_proj, qkv, hidden_states)
      # Views into the one projection's output, per head: no copies. split, not narrow, where training's gradients
      # flow back: split's backward is one concatenation, narrow's a zeroed tensor of the whole input for each view.
      per_head = qkv.view([batch, width, heads + 2 * kv_heads, config.head_dim])
      if config.joint_qk:
        qk_and_v = torch.split_with_sizes(per_head, [heads + kv_heads, kv_heads], 2)
        query_states, key_states = self.norm_and_rotate_jointly(qk_and_v[0], cos, sin)
        value_states = qk_and_v[1]
      else:
        qkv_states = torch.split_with_sizes(per_head, [heads, kv_heads, kv_heads], 2)
        query_states, key_states = self.norm_and_rotate_apart(qkv_states[0], qkv_states[1], cos, sin)
        value_states = qkv_states[2]

    if prefix_key is None or prefix_value is None:
      attn_output = self.attend(query_states, key_states, value_states)
    elif packed is not None:
      attn_output = self.attend_prefix_packed(query_states, key_states, value_states, prefix_key, prefix_value,
          packed)
    elif merged_prefix:
      attn_output = self.attend_prefix_merged(query_states, key_states, value_states, prefix_key, prefix_value)
    else:
      attn_output = self.attend_prefix_broadcast(query_states, key_states, value_states, prefix_key, prefix_value)
    hidden_states = self.project(attn_output, self.o_proj, self.o_proj_t, None)
    if adapter is not None:
      hidden_states = self.lora(adapter.o_proj, hidden_states, attn_output)
    return (hidden_states, key_states, value_states)

  def norm_and_rotate_apart(self, query_states: Tensor, key_states: Tensor, cos: Tensor,
      sin: Tensor) -> Tuple[Tensor, Tensor]:
    # Qwen3's per-head RMS norms of queries and keys (Qwen2 and Llama have none), then the rotary embedding.
    config = self.config
    q_norm, k_norm = self.q_norm, self.k_norm
    if q_norm is not None and k_norm is not None:
      query_states = torch.rms_norm(query_states, [config.head_dim], q_norm, config.rms_norm_eps)
      key_states = torch.rms_norm(key_states, [config.head_dim], k_norm, config.rms_norm_eps)
    return (self.apply_rotary_pos_emb(query_states, cos, sin), self.apply_rotary_pos_emb(key_states, cos, sin))

  def norm_and_rotate_jointly(self, qk: Tensor, cos: Tensor, sin: Tensor) -> Tuple[Tensor, Tensor]:
    # The same for q and k as ONE block of heads [batch, seq, heads + kv_heads, head_dim]: one norm, one weighting,
    # one rotary, where a small pass's time is the host launching kernels.
    config = self.config
    qk_norm = self.qk_norm
    if qk_norm is not None:
      # Normed, rounded to the compute dtype, then weighted: Qwen3RMSNorm's order, head by head.
      qk = torch.rms_norm(qk, [config.head_dim], None, config.rms_norm_eps) * qk_norm
    qk = self.apply_rotary_pos_emb(qk, cos, sin)
    q_and_k = torch.split_with_sizes(qk, [config.num_attention_heads, config.num_key_value_heads], 2)
    return (q_and_k[0], q_and_k[1])

  def project_qkv_separately(self, hidden_states: Tensor,
      adapter: Optional[__torch__.LayerAdapter]) -> Tuple[Tensor, Tensor, Tensor]:
    # q, k and v [batch, seq, heads, head_dim] from a product each: contiguous, where the fused product's are views
    # with the other two's columns between their rows, which the norms copy before they read them. An adapter's
    # first product is shared (x A^T of the three stacked A), its second runs per module on B's rows for it.
    config = self.config
    batch, width = hidden_states.size(0), hidden_states.size(1)
    q = self.project(hidden_states, self.q_proj, self.q_proj_t, self.q_bias)
    k = self.project(hidden_states, self.k_proj, self.k_proj_t, self.k_bias)
    v = self.project(hidden_states, self.v_proj, self.v_proj_t, self.v_bias)
    pair = adapter.qkv_proj if adapter is not None else None
    if pair is not None:
      low = pair.low(hidden_states)
      rows = torch.split_with_sizes(pair.B, self.qkv_sizes, 0)
      q = pair.add_low(q, low, rows[0])
      k = pair.add_low(k, low, rows[1])
      v = pair.add_low(v, low, rows[2])
    return (q.view([batch, width, config.num_attention_heads, config.head_dim]),
        k.view([batch, width, config.num_key_value_heads, config.head_dim]),
        v.view([batch, width, config.num_key_value_heads, config.head_dim]))

  def mlp(self, hidden_states: Tensor, adapter: Optional[__torch__.LayerAdapter]) -> Tensor:
    # Qwen3MLP.forward: down_proj(silu(gate_proj(x)) * up_proj(x)), gate and up from one product.
    intermediate_size = self.config.intermediate_size
    gate_up = self.project(hidden_states, self.gate_up_proj, self.gate_up_proj_t, None)
    if adapter is not None:
      gate_up = self.lora(adapter.gate_up_proj, gate_up, hidden_states)
    gate_and_up = torch.split(gate_up, intermediate_size, -1)
    activated = torch.silu(gate_and_up[0]) * gate_and_up[1]
    down = self.project(activated, self.down_proj, self.down_proj_t, None)
    if adapter is not None:
      down = self.lora(adapter.down_proj, down, activated)
    return down

  def project(self, x: Tensor, weight: Tensor, weight_t: Tensor, bias: Optional[Tensor]) -> Tensor:
    # nn.Linear's x W^T + b for x [batch, seq, in]. linear() of a 3-d input goes through matmul, which transposes
    # W, flattens x, multiplies and views the result back: five operators around the one kernel. With direct_calls
    # the product is that kernel on the tokens as rows and W^T kept as a view: mm (addmm with a bias) and two views.
    if not self.config.direct_calls:
      return torch.linear(x, weight, bias)
    rows = x.reshape([-1, x.size(-1)])
    if bias is None:
      y = torch.mm(rows, weight_t)
    else:
      y = torch.addmm(bias, rows, weight_t)
    return y.view([x.size(0), x.size(1), weight_t.size(1)])

  def lora(self, pair: Optional[__torch__.LoraPair], y: Tensor, x: Tensor) -> Tensor:
    # A projection's output y plus the adapter's update of it, where the adapter targets the projection.
    if pair is None:
      return y
    return pair.add_to(y, x)

  def apply_rotary_pos_emb(self, x: Tensor, cos: Tensor, sin_signed: Tensor) -> Tensor:
    # x * cos + rotate_half(x) * sin, with rotate_half's sign folded into the first half of sin_signed (Java's
    # RotaryEmbedding): rotate_half is then a swap of the two halves. cos and sin are [seq, 1, head_dim], in the
    # activations' dtype as transformers has them, or float32 with Decoder.Precision's rotary switch.
    half = self.config.head_dim // 2
    if self.config.float32_rotary:
      x32 = x.to(self.config.float32)
      halves32 = torch.split(x32, half, -1)
      swapped32 = torch.cat([halves32[1], halves32[0]], -1)
      return (x32 * cos + swapped32 * sin_signed).to(x.dtype)
    halves = torch.split(x, half, -1)
    swapped = torch.cat([halves[1], halves[0]], -1)
    return x * cos + swapped * sin_signed

  def attend(self, q: Tensor, k: Tensor, v: Tensor) -> Tensor:
    # Causal attention of right-padded rows: a real token never sees padding, padded rows are never read.
    if q.is_cuda and q.dtype != self.config.float32:
      # The flash kernel scaled_dot_product_attention picks for these shapes, called without its choosing one on the
      # host in every layer of every pass; it reads the kv heads of grouped queries itself.
      if self.config.direct_calls:
        # What _scaled_dot_product_flash_attention calls after moving heads back behind seq: the kernel in its own
        # layout, q, k and v [batch, seq, heads, head_dim] (only the last dimension contiguous), output the same;
        # the schema is quoted in attend_prefix_packed.
        direct = torch._flash_attention_forward(q, k, v, None, None, q.size(1), k.size(1), 0., True, False,
            scale=None)
        return direct[0].flatten(2)
      r = torch._scaled_dot_product_flash_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), 0., True,
          False, scale=None)
      return r[0].transpose(1, 2).flatten(2)
    out = torch.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), None, 0., True,
        scale=None, enable_gqa=True)
    return out.transpose(1, 2).flatten(2)

  def attend_prefix_broadcast(self, q: Tensor, k: Tensor, v: Tensor, prefix_k: Tensor, prefix_v: Tensor) -> Tensor:
    # The shared prefix ([1, kv_heads, prefix, head_dim]) broadcast to every row, then one masked attention:
    # differentiable, used for training.
    batch, width = q.size(0), q.size(1)
    start = prefix_k.size(2)
    keys = torch.cat([prefix_k.expand([batch, -1, -1, -1]), k.transpose(1, 2)], 2)
    values = torch.cat([prefix_v.expand([batch, -1, -1, -1]), v.transpose(1, 2)], 2)
    ones = torch.ones([width, start + width], dtype=self.config.boolean, layout=None, device=q.device,
        pin_memory=None)
    mask = torch.tril(ones, start)
    out = torch.scaled_dot_product_attention(q.transpose(1, 2), keys, values, mask, 0., False, scale=None,
        enable_gqa=True)
    return out.transpose(1, 2).flatten(2)

  def attend_prefix_merged(self, q: Tensor, k: Tensor, v: Tensor, prefix_k: Tensor, prefix_v: Tensor) -> Tensor:
    # Every query sees the whole prefix, so its part needs no mask and no copy per row: all queries of the batch
    # attend to the prefix as ONE sequence per kv head, each row attends causally to its own tokens, and the two
    # softmax halves are merged by their log-sum-exp. Inference only (the log-sum-exp carries no gradient).
    o1, lse1 = self.attend_prefix_half(q, prefix_k, prefix_v)
    if q.is_cuda:
      # The GPU's flash kernels read kv head j // groups for query head j themselves: all views, no copies.
      o2, lse2 = self.flash(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), True)
      return self.merge_halves(q, o1, lse1, o2.transpose(1, 2), lse2.transpose(1, 2))
    o2, lse2 = self.attend_own_rows_cpu(q, k, v)
    return self.merge_halves(q, o1, lse1, o2, lse2)

  def attend_prefix_packed(self, q: Tensor, k: Tensor, v: Tensor, prefix_k: Tensor, prefix_v: Tensor,
      packed: __torch__.PackedRows) -> Tensor:
    # attend_prefix_merged for packed rows (q [1, T, heads, d]): the prefix half is the same, every token one query
    # of ONE sequence; the own half keeps each token to the tokens of its own row at or before it.
    o1, lse1 = self.attend_prefix_half(q, prefix_k, prefix_v)
    if packed.max_len == 1:
      # Every row one token, which attends to the prefix and to itself only: its own half is its value, with the
      # single logit q.k / sqrt(d) as log-sum-exp. Exact without a kernel; and the GPU's varlen kernel takes
      # this shape down another road (query groups folded into the rows), whose log-sum-exp layout differs.
      config = self.config
      k_all = self.repeat_kv_heads(k)
      logit = (q.to(config.float32) * k_all.to(config.float32)).sum(-1) / (float(config.head_dim) ** 0.5)
      return self.merge_halves(q, o1, lse1, self.repeat_kv_heads(v), logit)
    if q.is_cuda:
      # The varlen flash kernel takes the rows by their cumulative lengths: no padding, no mask, GQA native.
      # Its schema in PyTorch's native_functions.yaml (the same ten positional arguments from 2.5 through 2.11;
      # later keyword-only arguments all default to None):
      #   _flash_attention_forward(Tensor query, Tensor key, Tensor value, Tensor? cum_seq_q, Tensor? cum_seq_k,
      #       SymInt max_q, SymInt max_k, float dropout_p, bool is_causal, bool return_debug_mask, *,
      #       float? scale=None, ...) -> (Tensor output, Tensor softmax_logsumexp, Tensor rng_state,
      #       Tensor unused, Tensor debug_attn_mask)
      # with query [T, heads, d], key and value [T, kv_heads, d] (views: only the last dimension must be
      # contiguous) and output [T, heads, d].
      r = torch._flash_attention_forward(q.select(0, 0), k.select(0, 0), v.select(0, 0), packed.cu_seqlens,
          packed.cu_seqlens, packed.max_len, packed.max_len, 0., True, False, scale=None)
      lse2 = r[1]
      if lse2.dim() == 2:
        # [heads, T]: flash-attention's unpadded layout (mha_varlen_fwd since flash-attention 2.6).
        lse2 = lse2.transpose(0, 1).unsqueeze(0)
      else:
        # [rows, heads, max_len]: the padded layout of the flash-attention copies before it.
        lse2 = packed.unpad(lse2.narrow(2, 0, packed.max_len).transpose(1, 2))
      return self.merge_halves(q, o1, lse1, r[0].unsqueeze(0), lse2)
    # The CPU has no varlen kernel: the rows' own tokens are right-padded for its causal kernel, then unpadded.
    # The padded tokens come after every real token of their row, so no real token sees one.
    o2, lse2 = self.attend_own_rows_cpu(packed.pad(q), packed.pad(k), packed.pad(v))
    return self.merge_halves(q, o1, lse1, packed.unpad(o2), packed.unpad(lse2))

  def attend_prefix_half(self, q: Tensor, prefix_k: Tensor, prefix_v: Tensor) -> Tuple[Tensor, Tensor]:
    # Every query of q [B, T, heads, d] against the whole prefix [1, kv_heads, P, d]: output [B, T, heads, d] and
    # log-sum-exp [B, T, heads].
    config = self.config
    batch, width = q.size(0), q.size(1)
    heads, kv_heads, head_dim = config.num_attention_heads, config.num_key_value_heads, config.head_dim
    if q.is_cuda:
      rows = q.reshape([1, batch * width, heads, head_dim]).transpose(1, 2)
      o1, lse1 = self.flash(rows, prefix_k, prefix_v, False)
      return (o1.transpose(1, 2).reshape([batch, width, heads, head_dim]),
          lse1.transpose(1, 2).reshape([batch, width, heads]))
    # The CPU kernel wants as many kv heads as query heads: fold the groups into the rows
    # ([B, T, kv, g, d] -> [1, kv, g * B * T, d]).
    groups = heads // kv_heads
    grouped = q.reshape([batch, width, kv_heads, groups, head_dim]).permute([2, 3, 0, 1, 4]).reshape(
        [1, kv_heads, groups * batch * width, head_dim])
    o1, lse1 = self.flash(grouped, prefix_k, prefix_v, False)
    o1 = o1.reshape([kv_heads, groups, batch, width, head_dim]).permute([2, 3, 0, 1, 4]).reshape(
        [batch, width, heads, head_dim])
    lse1 = lse1.reshape([kv_heads, groups, batch, width]).permute([2, 3, 0, 1]).reshape([batch, width, heads])
    return (o1, lse1)

  def attend_own_rows_cpu(self, q: Tensor, k: Tensor, v: Tensor) -> Tuple[Tensor, Tensor]:
    # Each right-padded row causally to its own tokens, on the CPU kernel (which wants as many kv heads as query
    # heads): output [B, T, heads, d], log-sum-exp [B, T, heads].
    k_all, v_all = self.repeat_kv_heads(k), self.repeat_kv_heads(v)
    o2, lse2 = self.flash(q.transpose(1, 2), k_all.transpose(1, 2), v_all.transpose(1, 2), True)
    return (o2.transpose(1, 2), lse2.transpose(1, 2))

  def repeat_kv_heads(self, x: Tensor) -> Tensor:
    # transformers' repeat_kv in [B, T, heads, d] order: kv head j serves query heads j * groups to j * groups +
    # groups - 1, so [B, T, kv_heads, d] -> [B, T, heads, d].
    config = self.config
    batch, width = x.size(0), x.size(1)
    heads, kv_heads, head_dim = config.num_attention_heads, config.num_key_value_heads, config.head_dim
    return x.unsqueeze(3).expand([batch, width, kv_heads, heads // kv_heads, head_dim]).reshape(
        [batch, width, heads, head_dim])

  def merge_halves(self, q: Tensor, o1: Tensor, lse1: Tensor, o2: Tensor, lse2: Tensor) -> Tensor:
    # The prefix's share of each query's softmax mass, exp(lse1) / (exp(lse1) + exp(lse2)) = sigmoid(lse1 - lse2),
    # weighs the two outputs [B, T, heads, d] in ONE pass over them (lerp), fused or not: TorchScript's fuser
    # compiles exact shapes for a program's first shapes only, and a stream's batches keep changing shape.
    config = self.config
    if config.float32_prefix_merge:
      share32 = torch.sigmoid(lse1 - lse2).unsqueeze(-1)
      merged = torch.lerp(o2.to(config.float32), o1.to(config.float32), share32)
      return merged.to(q.dtype).flatten(2)
    share = torch.sigmoid(lse1 - lse2).to(q.dtype).unsqueeze(-1)
    return torch.lerp(o2, o1, share).flatten(2)

  def flash(self, q: Tensor, k: Tensor, v: Tensor, causal: bool) -> Tuple[Tensor, Tensor]:
    # Attention output [B, H, T, d] and its log-sum-exp [B, H, T] (float32), from the flash kernels.
    if q.is_cuda:
      r = torch._scaled_dot_product_flash_attention(q, k, v, 0., causal, False, scale=None)
      return (r[0], r[1].narrow(-1, 0, q.size(2)))
    r2 = torch._scaled_dot_product_flash_attention_for_cpu(q, k, v, 0., causal, attn_mask=None, scale=None)
    return (r2[0], r2[1])


class Qwen3Model:
  # Qwen3Model: embed_tokens, the decoder layers, the final norm (the LM head stays in Java: the sliced head reads
  # only the label tokens' rows of it).
  config : __torch__.DecoderConfig
  embed_tokens : Tensor
  layers : List[__torch__.Qwen3DecoderLayer]
  norm : Tensor

  def __init__(self, config: __torch__.DecoderConfig, weights: Dict[str, Tensor], num_hidden_layers: int):
    # weights: the checkpoint's tensors by name, q/k/v and gate/up fused (model.layers.{i}.self_attn.qkv_proj.weight,
    # model.layers.{i}.mlp.gate_up_proj.weight); kept in the compute dtype.
    self.config = config
    self.embed_tokens = self.weight(weights, "model.embed_tokens.weight")
    self.norm = self.weight(weights, "model.norm.weight")
    layers = annotate(List[__torch__.Qwen3DecoderLayer], [])
    for i in range(num_hidden_layers):
      prefix = "model.layers." + str(i) + "."
      layers.append(__torch__.Qwen3DecoderLayer(config,
          self.weight(weights, prefix + "input_layernorm.weight"),
          self.weight(weights, prefix + "self_attn.qkv_proj.weight"),
          self.optional_weight(weights, prefix + "self_attn.qkv_proj.bias"),
          self.optional_weight(weights, prefix + "self_attn.q_norm.weight"),
          self.optional_weight(weights, prefix + "self_attn.k_norm.weight"),
          self.weight(weights, prefix + "self_attn.o_proj.weight"),
          self.weight(weights, prefix + "post_attention_layernorm.weight"),
          self.weight(weights, prefix + "mlp.gate_up_proj.weight"),
          self.weight(weights, prefix + "mlp.down_proj.weight")))
    self.layers = layers

  def weight(self, weights: Dict[str, Tensor], name: str) -> Tensor:
    return weights[name].to(self.config.compute_dtype)

  def optional_weight(self, weights: Dict[str, Tensor], name: str) -> Optional[Tensor]:
    if name in weights:
      return weights[name].to(self.config.compute_dtype)
    return None

  def forward(self, input_ids: Tensor, cos: Tensor, sin: Tensor, prefix_keys: Optional[Tensor],
      prefix_values: Optional[Tensor], merged_prefix: bool, packed: Optional[__torch__.PackedRows],
      adapter: List[__torch__.LayerAdapter]) -> Tuple[Tensor, List[Tensor], List[Tensor]]:
    # The last hidden states [batch, seq, hidden] before the final norm, and each layer's keys and values
    # [batch, seq, kv_heads, head_dim]. prefix_keys / prefix_values: [layers, kv_heads, prefix, head_dim] of a
    # prefix every row continues, or None; packed: where the rows of a [1, T] batch begin and end, or None for
    # right-padded rows; adapter: one LayerAdapter per layer, or none.
    config = self.config
    # Rotary tables [seq, 1, head_dim] for these positions, in the activations' dtype (as transformers has them),
    # or float32 with the rotary switch (apply_rotary_pos_emb then computes in float32).
    rotary_dtype = config.float32 if config.float32_rotary else config.compute_dtype
    cos = cos.to(rotary_dtype).unsqueeze(1)
    sin = sin.to(rotary_dtype).unsqueeze(1)
    if prefix_keys is not None:
      prefix_keys = prefix_keys.to(config.compute_dtype)
    if prefix_values is not None:
      prefix_values = prefix_values.to(config.compute_dtype)
    all_keys = annotate(List[Tensor], [])
    all_values = annotate(List[Tensor], [])
    hidden_states = torch.embedding(self.embed_tokens, input_ids)
    for i, decoder_layer in enumerate(self.layers):
      prefix_key = annotate(Optional[Tensor], None)
      prefix_value = annotate(Optional[Tensor], None)
      if prefix_keys is not None and prefix_values is not None:
        prefix_key = prefix_keys[i].unsqueeze(0)
        prefix_value = prefix_values[i].unsqueeze(0)
      layer_adapter = adapter[i] if len(adapter) > 0 else None
      hidden_states, key_states, value_states = decoder_layer.forward(hidden_states, cos, sin, prefix_key,
          prefix_value, merged_prefix, packed, layer_adapter)
      all_keys.append(key_states)
      all_values.append(value_states)
    return (hidden_states, all_keys, all_values)


class Model(Module):
  # What Java calls (model/Decoder.java). An archive's attributes start as None (TorchScriptArchive: its pickle
  # holds no tensors), so the model is set by setup() and Optional until then.
  __parameters__ = []
  __buffers__ = []
  training : bool
  model : Optional[__torch__.Qwen3Model]

  def setup(self, weights: Dict[str, Tensor], num_hidden_layers: int, hidden_size: int, intermediate_size: int,
      num_attention_heads: int, num_key_value_heads: int, head_dim: int, rms_norm_eps: float, compute_dtype: int,
      float32_final_norm: bool, float32_prefix_merge: bool, float32_rotary: bool, separate_qkv_tokens: int,
      joint_qk: bool, direct_calls: bool) -> None:
    config = __torch__.DecoderConfig(hidden_size, intermediate_size, num_attention_heads, num_key_value_heads,
        head_dim, rms_norm_eps, compute_dtype, float32_final_norm, float32_prefix_merge, float32_rotary,
        separate_qkv_tokens, joint_qk, direct_calls)
    self.model = __torch__.Qwen3Model(config, weights, num_hidden_layers)

  def qwen3(self) -> __torch__.Qwen3Model:
    model = self.model
    assert model is not None, "Decoder calls setup() first"
    return model

  def serving_adapter(self, lora: Dict[str, Tensor], scale: float) -> List[__torch__.LayerAdapter]:
    # A version prepared once for serving (see LayerAdapter.pair); Java keeps the list and hands it to each pass.
    # A pass then launches 2 kernels per update, 4 updates per layer (x A^T, then y + low B^T in one addmm),
    # against 41 when every pass cast, applied, scaled, concatenated and added the 7 projections' A and B one by
    # one: 224 kernels per pass of Qwen3-0.6B (28 layers) instead of 1,148.
    model = self.qwen3()
    device = model.embed_tokens.device
    return [__torch__.LayerAdapter(lora, i, model.config, device, scale, 0., True) for i in range(len(model.layers))]

  def training_adapter(self, lora: Dict[str, Tensor], scale: float,
      dropout: float) -> List[__torch__.LayerAdapter]:
    # The same structure built from the trainable A and B for one pass, on the gradient path to each of them.
    model = self.qwen3()
    device = model.embed_tokens.device
    return [__torch__.LayerAdapter(lora, i, model.config, device, scale, dropout, False)
        for i in range(len(model.layers))]

  def no_adapter(self) -> List[__torch__.LayerAdapter]:
    return annotate(List[__torch__.LayerAdapter], [])

  def adapter_tensors(self, adapter: List[__torch__.LayerAdapter]) -> List[Tensor]:
    # What a prepared adapter holds (its memory, its device and dtype).
    tensors = annotate(List[Tensor], [])
    for layer in adapter:
      for pair in [layer.qkv_proj, layer.o_proj, layer.gate_up_proj, layer.down_proj]:
        if pair is not None:
          tensors.append(pair.A)
          tensors.append(pair.B)
    return tensors

  def adapter_bytes(self, adapter: List[__torch__.LayerAdapter]) -> int:
    return sum([t.numel() * t.element_size() for t in self.adapter_tensors(adapter)])

  def prefill(self, input_ids: Tensor, cos: Tensor, sin: Tensor,
      adapter: List[__torch__.LayerAdapter]) -> Tuple[Tensor, Tensor]:
    # Keys and values [layers, kv_heads, seq, head_dim] (float32) of one sequence, for later rows to attend to.
    model = self.qwen3()
    hidden_states, all_keys, all_values = model.forward(input_ids, cos, sin, None, None, False, None, adapter)
    # [layers, 1, seq, kv_heads, head_dim] -> [layers, kv_heads, seq, head_dim] of the single prefilled row.
    keys = torch.stack(all_keys).select(1, 0).transpose(1, 2).contiguous()
    values = torch.stack(all_values).select(1, 0).transpose(1, 2).contiguous()
    return (keys.to(model.config.float32), values.to(model.config.float32))

  def forward(self, input_ids: Tensor, last: Tensor, cos: Tensor, sin: Tensor, prefix_keys: Tensor,
      prefix_values: Tensor, adapter: List[__torch__.LayerAdapter], merged_prefix: bool) -> Tensor:
    # Final normed hidden states (float32) at flat positions `last` of the right-padded [batch, seq] `input_ids`;
    # prefix_keys / prefix_values empty when the rows continue no cached prefix.
    model = self.qwen3()
    prefix_k = annotate(Optional[Tensor], None)
    prefix_v = annotate(Optional[Tensor], None)
    if prefix_keys.numel() > 0:
      prefix_k = prefix_keys
      prefix_v = prefix_values
    hidden_states, all_keys, all_values = model.forward(input_ids, cos, sin, prefix_k, prefix_v, merged_prefix, None,
        adapter)
    return self.final_norm(hidden_states, last)

  def forward_packed(self, input_ids: Tensor, last: Tensor, cos: Tensor, sin: Tensor, place_in_row: Tensor,
      prefix_keys: Tensor, prefix_values: Tensor, adapter: List[__torch__.LayerAdapter], cu_seqlens: Tensor,
      max_len: int) -> Tensor:
    # forward for rows that continue a cached prefix, packed into ONE sequence of their real tokens (PackedRows):
    # input_ids [1, T]; cos and sin [max_len, head_dim], the rotary tables of the longest row's positions (the
    # prefix's length + 0, 1, ...), which hold every row's; place_in_row [T] each token's place in its row, which
    # picks its row of them here, on the device (a table per token sent from Java would be T x head_dim floats
    # each way, megabytes per pass); cu_seqlens int32 [rows + 1] where each row starts, then T; max_len the
    # longest row; `last` each row's last token in the sequence. Inference only, as the merged prefix attention.
    model = self.qwen3()
    cos = cos.index_select(0, place_in_row)
    sin = sin.index_select(0, place_in_row)
    packed = __torch__.PackedRows(model.config, cu_seqlens, max_len)
    hidden_states, all_keys, all_values = model.forward(input_ids, cos, sin, prefix_keys, prefix_values, True, packed,
        adapter)
    return self.final_norm(hidden_states, last)

  def final_norm(self, hidden_states: Tensor, last: Tensor) -> Tensor:
    # The final norm of the picked positions only (flat indices into [batch * seq]), in float32.
    model = self.qwen3()
    config = model.config
    picked = hidden_states.reshape([-1, config.hidden_size]).index_select(0, last)
    if config.float32_final_norm:
      return torch.rms_norm(picked.to(config.float32), [config.hidden_size], model.norm.to(config.float32),
          config.rms_norm_eps)
    return torch.rms_norm(picked, [config.hidden_size], model.norm, config.rms_norm_eps).to(config.float32)
