"""Flax linen MLPs for the generator and the discriminator, used through init/apply."""

from collections.abc import Callable, Sequence

import flax.linen as nn
import jax

__all__ = ["ACTIVATIONS", "Discriminator", "Generator", "MLP"]

ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "relu": nn.relu,
    "leaky_relu": nn.leaky_relu,
    "elu": nn.elu,
    "gelu": nn.gelu,
    "silu": nn.silu,
    "tanh": nn.tanh,
}


class MLP(nn.Module):
  """Dense layers of ``hidden_sizes`` with ``activation``, then a linear output layer."""

  hidden_sizes: Sequence[int]
  output_size: int
  activation: str = "relu"

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    if self.activation not in ACTIVATIONS:
      raise ValueError(
          f"unknown activation {self.activation!r}; valid: {', '.join(ACTIVATIONS)}"
      )
    activation = ACTIVATIONS[self.activation]
    for size in self.hidden_sizes:
      x = activation(nn.Dense(size)(x))
    return nn.Dense(self.output_size)(x)


class Generator(nn.Module):
  """Maps latents ``[..., latent_dim]`` to samples ``[..., data_dim]``."""

  hidden_sizes: Sequence[int]
  data_dim: int
  activation: str = "relu"

  @nn.compact
  def __call__(self, z: jax.Array) -> jax.Array:
    return MLP(self.hidden_sizes, self.data_dim, self.activation)(z)


class Discriminator(nn.Module):
  """Maps samples ``[..., data_dim]`` to logits ``[...]``, with ``D = sigmoid(logit)``."""

  hidden_sizes: Sequence[int]
  activation: str = "relu"

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    return MLP(self.hidden_sizes, 1, self.activation)(x)[..., 0]
