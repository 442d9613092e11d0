class Model(Module):
  # torch.optim.AdamW (foreach implementation, no amsgrad) and clip_grad_norm_ as ONE TorchScript program:
  # a step of 392 LoRA tensors is a handful of multi-tensor kernels instead of thousands of engine calls.
  # Serialized TorchScript dialect (see model/decoder.py). Runs without autograd; updates in place.
  __parameters__ = []
  __buffers__ = []
  training : bool

  def clip(self: __torch__.Model, grads: List[Tensor], max_norm: float) -> Tensor:
    # Scales the gradients so their global L2 norm is at most max_norm; returns the norm before (float32).
    norms = torch._foreach_norm(grads, 2.)
    total = torch.linalg_vector_norm(torch.stack(norms), 2.)
    coefficient = torch.clamp(torch.mul(torch.reciprocal(torch.add(total, 1e-06)), max_norm), None, 1.)
    torch._foreach_mul_(grads, coefficient)
    return total

  def step(self: __torch__.Model, params: List[Tensor], grads: List[Tensor], exp_avgs: List[Tensor],
      exp_avg_sqs: List[Tensor], lr: float, beta1: float, beta2: float, eps: float, weight_decay: float,
      step_size: float, bias_correction2_sqrt: float) -> None:
    # step_size = lr / (1 - beta1^step), bias_correction2_sqrt = sqrt(1 - beta2^step), as torch computes them.
    if weight_decay != 0.:
      torch._foreach_mul_(params, 1. - lr * weight_decay)
    torch._foreach_lerp_(exp_avgs, grads, 1. - beta1)
    torch._foreach_mul_(exp_avg_sqs, beta2)
    torch._foreach_addcmul_(exp_avg_sqs, grads, grads, 1. - beta2)
    denominators = torch._foreach_sqrt(exp_avg_sqs)
    torch._foreach_div_(denominators, bias_correction2_sqrt)
    torch._foreach_add_(denominators, eps)
    torch._foreach_addcdiv_(params, exp_avgs, denominators, 0. - step_size)
    torch._foreach_zero_(grads)
    return None
