"""Flax linen modules, used through init/apply: MLPs, a RealNVP flow with an exact density,
and a Gaussian encoder.

The generators map latents to samples with ``apply(params, z)``; those with a density (the
flow and the Gaussian) also have ``log_prob`` and ``sample_and_log_prob``, called with
``apply(..., method=...)``. The encoder maps data to a
:class:`gan_theory.vae.DiagonalGaussian`.
"""

from collections.abc import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from gan_theory.vae import DiagonalGaussian, gaussian_log_prob, standard_normal_log_prob

__all__ = [
    "ACTIVATIONS",
    "AffineCoupling",
    "Discriminator",
    "GaussianEncoder",
    "GaussianGenerator",
    "Generator",
    "MLP",
    "RealNVP",
]

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
  output_kernel_init: nn.initializers.Initializer = nn.linear.default_kernel_init

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    if self.activation not in ACTIVATIONS:
      raise ValueError(
          f"unknown activation {self.activation!r}; valid: {', '.join(ACTIVATIONS)}"
      )
    activation = ACTIVATIONS[self.activation]
    for size in self.hidden_sizes:
      x = activation(nn.Dense(size)(x))
    return nn.Dense(self.output_size, kernel_init=self.output_kernel_init)(x)


class Generator(nn.Module):
  """Maps latents ``[..., latent_dim]`` to samples ``[..., data_dim]``."""

  hidden_sizes: Sequence[int]
  data_dim: int
  activation: str = "relu"

  @nn.compact
  def __call__(self, z: jax.Array) -> jax.Array:
    return MLP(self.hidden_sizes, self.data_dim, self.activation)(z)


class GaussianGenerator(nn.Module):
  """``x = mean + exp(log_std) * z``, ``z ~ N(0, I)``: a diagonal Gaussian with an exact
  density, two parameters per coordinate (``mean`` and ``log_std``, starting at 0 and 0).

  The smallest generator with a density: in one dimension its maximum-likelihood fit and
  every divergence have closed forms or 1-D quadratures.
  """

  dim: int

  def setup(self):
    self.mean = self.param("mean", nn.initializers.zeros, (self.dim,))
    self.log_std = self.param("log_std", nn.initializers.zeros, (self.dim,))

  def __call__(self, z: jax.Array) -> jax.Array:
    """Samples ``[..., dim]`` from latents ``[..., dim]``."""
    return self.mean + jnp.exp(self.log_std) * z

  def sample_and_log_prob(self, z: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Samples and their log-density."""
    return self(z), standard_normal_log_prob(z) - jnp.sum(self.log_std)

  def log_prob(self, x: jax.Array) -> jax.Array:
    """The exact log-density ``[...]`` of samples ``x`` ``[..., dim]``."""
    return gaussian_log_prob(DiagonalGaussian(self.mean, self.log_std), x)


class Discriminator(nn.Module):
  """Maps samples ``[..., data_dim]`` to logits ``[...]``, with ``D = sigmoid(logit)``."""

  hidden_sizes: Sequence[int]
  activation: str = "relu"

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    return MLP(self.hidden_sizes, 1, self.activation)(x)[..., 0]


class GaussianEncoder(nn.Module):
  """Maps data ``[..., data_dim]`` to a diagonal Gaussian ``q(z | x)`` over ``[..., latent_dim]``.

  The log standard deviation is the MLP's output, unbounded: the ELBO's KL term to the
  prior, ``-log std + std^2 / 2`` per unit, pins it near 0 from both sides.
  """

  hidden_sizes: Sequence[int]
  latent_dim: int
  activation: str = "tanh"

  @nn.compact
  def __call__(self, x: jax.Array) -> DiagonalGaussian:
    out = MLP(self.hidden_sizes, 2 * self.latent_dim, self.activation)(x)
    return DiagonalGaussian(out[..., : self.latent_dim], out[..., self.latent_dim :])


class AffineCoupling(nn.Module):
  """One RealNVP coupling layer (Dinh et al. 2017): invertible, with a cheap log-determinant.

  The coordinates ``i`` with ``i % 2 == parity`` pass unchanged and condition the
  others, which are scaled and shifted: ``y = x * exp(s) + t`` with
  ``(t, s) = conditioner(kept)`` and ``s = scale * tanh(.)``, so that ``|s| <= |scale|``
  (a learned per-coordinate bound): a conditioner's output cannot blow ``exp(s)`` up. The
  conditioner's output layer starts at zero: a new layer is the identity.
  """

  dim: int
  parity: int
  hidden_sizes: Sequence[int]
  activation: str = "relu"

  def setup(self):
    self.conditioner = MLP(
        self.hidden_sizes, 2 * self.dim, self.activation, output_kernel_init=nn.initializers.zeros
    )
    self.scale = self.param("scale", nn.initializers.ones, (self.dim,))

  def _split(self, x: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    """``(kept, changed, shift, log_scale)``: the masks and the affine map of ``x``."""
    kept = (jnp.arange(self.dim) % 2 == self.parity).astype(x.dtype)
    changed = 1.0 - kept
    shift, raw = jnp.split(self.conditioner(x * kept), 2, axis=-1)
    return kept, changed, shift * changed, self.scale * jnp.tanh(raw) * changed

  def forward(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``(y, log |det dy/dx|)`` for ``x`` of shape ``[..., dim]``."""
    kept, changed, shift, log_scale = self._split(x)
    return x * kept + changed * (x * jnp.exp(log_scale) + shift), jnp.sum(log_scale, axis=-1)

  def inverse(self, y: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``(x, log |det dx/dy|)``: the exact inverse of :meth:`forward`."""
    kept, changed, shift, log_scale = self._split(y)  # The kept part of y is that of x.
    return y * kept + changed * (y - shift) * jnp.exp(-log_scale), -jnp.sum(log_scale, axis=-1)


class RealNVP(nn.Module):
  """A normalizing flow ``x = f_L(... f_1(z))``, ``z ~ N(0, I)``, with an exact density.

  ``f_l`` are :class:`AffineCoupling` layers of alternating parity, so every coordinate
  is transformed when ``num_couplings >= 2``. ``__call__`` maps latents to samples as
  :class:`Generator` does (the latent dimension is ``dim``); ``log_prob`` inverts the
  flow, ``log p(x) = log N(f^{-1}(x)) + log |det d f^{-1}(x) / dx|``.
  """

  dim: int
  num_couplings: int
  hidden_sizes: Sequence[int]
  activation: str = "relu"

  def setup(self):
    self.couplings = [
        AffineCoupling(self.dim, i % 2, self.hidden_sizes, self.activation)
        for i in range(self.num_couplings)
    ]

  def __call__(self, z: jax.Array) -> jax.Array:
    """Samples ``[..., dim]`` from latents ``[..., dim]``."""
    return self.sample_and_log_prob(z)[0]

  def sample_and_log_prob(self, z: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Samples ``x = f(z)`` and their log-density, from the forward pass alone."""
    x, log_det = z, 0.0
    for coupling in self.couplings:
      x, layer_log_det = coupling.forward(x)
      log_det += layer_log_det
    return x, standard_normal_log_prob(z) - log_det

  def inverse(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``(z, log |det dz/dx|)`` with ``z = f^{-1}(x)``."""
    z, log_det = x, 0.0
    for coupling in reversed(self.couplings):
      z, layer_log_det = coupling.inverse(z)
      log_det += layer_log_det
    return z, log_det

  def log_prob(self, x: jax.Array) -> jax.Array:
    """The exact log-density ``[...]`` of samples ``x`` ``[..., dim]``."""
    z, log_det = self.inverse(x)
    return standard_normal_log_prob(z) + log_det
