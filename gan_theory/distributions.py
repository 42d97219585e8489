"""Toy targets: equal-weight isotropic Gaussian mixtures with an exact log-density."""

import math

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["TARGETS", "GaussianMixture", "grid", "make_target", "ring"]


@flax.struct.dataclass
class GaussianMixture:
  """``p(x) = 1/K sum_k N(x | modes[k], std^2 I)``.

  Attributes:
    modes: ``[K, d]`` mode centres.
    std: the standard deviation of every component, per coordinate.
  """

  modes: jax.Array
  std: float = flax.struct.field(pytree_node=False)

  @property
  def num_modes(self) -> int:
    return self.modes.shape[0]

  @property
  def dim(self) -> int:
    return self.modes.shape[1]

  def sample(self, key: jax.Array, num_samples: int) -> jax.Array:
    """Draws ``[num_samples, d]`` samples."""
    mode_key, noise_key = jax.random.split(key)
    component = jax.random.randint(mode_key, (num_samples,), 0, self.num_modes)
    noise = jax.random.normal(noise_key, (num_samples, self.dim))
    return self.modes[component] + self.std * noise

  def log_prob(self, x: jax.Array) -> jax.Array:
    """The exact log-density of ``x`` with shape ``[..., d]``, computed by logsumexp."""
    squared_distance = jnp.sum((x[..., None, :] - self.modes) ** 2, axis=-1)
    log_normal = -0.5 * squared_distance / self.std**2 - 0.5 * self.dim * math.log(
        2 * math.pi * self.std**2
    )
    return jax.nn.logsumexp(log_normal, axis=-1) - math.log(self.num_modes)


def _check_positive(**params) -> None:
  for name, value in params.items():
    if not value > 0:
      raise ValueError(f"{name}={value!r} must be positive")


def ring(num_modes: int = 8, radius: float = 2.0, std: float = 0.02) -> GaussianMixture:
  """``num_modes`` Gaussians evenly spaced on a circle (Metz et al. 2017, Unrolled GAN)."""
  _check_positive(num_modes=num_modes, radius=radius, std=std)
  angles = 2 * np.pi * np.arange(num_modes) / num_modes
  modes = radius * np.stack([np.cos(angles), np.sin(angles)], axis=-1)
  return GaussianMixture(modes=jax.device_put(modes.astype(np.float32)), std=std)


def grid(num_per_side: int = 5, spacing: float = 2.0, std: float = 0.05) -> GaussianMixture:
  """A square grid of Gaussians centred on 0 (VEEGAN, PacGAN): {-4,-2,0,2,4}^2 by default."""
  _check_positive(num_per_side=num_per_side, spacing=spacing, std=std)
  axis = spacing * (np.arange(num_per_side) - (num_per_side - 1) / 2)
  modes = np.stack(np.meshgrid(axis, axis, indexing="ij"), axis=-1).reshape(-1, 2)
  return GaussianMixture(modes=jax.device_put(modes.astype(np.float32)), std=std)


TARGETS = {"ring": ring, "grid": grid}


def make_target(name: str, **params) -> GaussianMixture:
  """Builds target ``name`` from :data:`TARGETS` with keyword ``params``.

  Raises:
    ValueError: if ``name`` is not a known target or a parameter is not positive.
  """
  if name not in TARGETS:
    raise ValueError(f"unknown target {name!r}; valid: {', '.join(TARGETS)}")
  return TARGETS[name](**params)
