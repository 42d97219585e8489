"""Toy targets and models with an exact log-density: equal-weight Gaussian mixtures (a
kernel density estimate is one, centred on its data) and blends of two."""

import math

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.stats import multivariate_normal

__all__ = [
    "BLOB_CORRELATIONS",
    "TARGETS",
    "Blend",
    "GaussianMixture",
    "blob",
    "grid",
    "line",
    "make_target",
    "moment_matched_gaussian",
    "random_mixture",
    "ring",
]


@flax.struct.dataclass
class GaussianMixture:
  """``p(x) = 1/K sum_k N(x | modes[k], std^2 L_k L_k^T)``, isotropic unless ``tril``.

  Attributes:
    modes: ``[K, d]`` mode centres.
    std: the standard deviation of every component, per coordinate.
    tril: ``[K, d, d]`` lower-triangular factors ``L_k`` of the components' correlation
      matrices (unit diagonal in ``L_k L_k^T``), or None for the identity.
  """

  modes: jax.Array
  std: float = flax.struct.field(pytree_node=False)
  tril: jax.Array | None = None

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
    if self.tril is not None:
      noise = jnp.einsum("nij,nj->ni", self.tril[component], noise)
    return self.modes[component] + self.std * noise

  def log_prob(self, x: jax.Array) -> jax.Array:
    """The exact log-density of ``x`` with shape ``[..., d]``, computed by logsumexp."""
    if self.tril is None:
      covariance = self.std**2
    else:
      covariance = self.std**2 * self.tril @ jnp.swapaxes(self.tril, -1, -2)
    log_normal = multivariate_normal.logpdf(x[..., None, :], self.modes, covariance)
    return jax.nn.logsumexp(log_normal, axis=-1) - math.log(self.num_modes)


@flax.struct.dataclass
class Blend:
  """``p(x) = first_weight p_first(x) + (1 - first_weight) p_second(x)``.

  Attributes:
    first: a mixture.
    second: a mixture of the same dimension.
    first_weight: in (0, 1).
  """

  first: GaussianMixture
  second: GaussianMixture
  first_weight: float = flax.struct.field(pytree_node=False)

  @property
  def dim(self) -> int:
    return self.first.dim

  def sample(self, key: jax.Array, num_samples: int) -> jax.Array:
    """Draws ``[num_samples, d]`` samples: each from ``first`` with chance ``first_weight``."""
    choice_key, first_key, second_key = jax.random.split(key, 3)
    from_first = jax.random.bernoulli(choice_key, self.first_weight, (num_samples, 1))
    return jnp.where(
        from_first,
        self.first.sample(first_key, num_samples),
        self.second.sample(second_key, num_samples),
    )

  def log_prob(self, x: jax.Array) -> jax.Array:
    """The exact log-density of ``x`` with shape ``[..., d]``, by logaddexp."""
    return jnp.logaddexp(
        math.log(self.first_weight) + self.first.log_prob(x),
        math.log1p(-self.first_weight) + self.second.log_prob(x),
    )


def random_mixture(
    key: jax.Array, dim: int, num_modes: int, mode_scale: float, std: float
) -> GaussianMixture:
  """``num_modes`` Gaussians of ``std`` whose centres are drawn from N(0, mode_scale^2 I_dim)."""
  _check_positive(dim=dim, num_modes=num_modes, mode_scale=mode_scale, std=std)
  return GaussianMixture(modes=mode_scale * jax.random.normal(key, (num_modes, dim)), std=std)


def moment_matched_gaussian(mixture: GaussianMixture) -> GaussianMixture:
  """The isotropic Gaussian with the mixture's mean and mean per-coordinate variance.

  A mixture of equal weights has covariance ``std^2 I + Cov(modes)``; the Gaussian's
  variance per coordinate is that matrix's mean diagonal entry. The modes must be
  concrete (not traced): the Gaussian's std is a static float.
  """
  modes = np.asarray(mixture.modes, np.float64)
  variance = mixture.std**2 + np.mean(np.var(modes, axis=0))
  return GaussianMixture(
      modes=jnp.asarray(modes.mean(axis=0)[None], jnp.float32), std=float(np.sqrt(variance))
  )


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


def line(modes: tuple[float, ...] = (-2.0, 2.0), std: float = 0.5) -> GaussianMixture:
  """Gaussians on the real line at ``modes``: by default the theory problem's
  ``N(-2, 0.5^2) / 2 + N(2, 0.5^2) / 2``, whose maximum-likelihood Gaussian is
  ``N(0, 2.06^2)`` (its mean and variance)."""
  _check_positive(std=std)
  if not modes:
    raise ValueError("modes must name at least one mode")
  modes = np.asarray(modes, np.float32).reshape(-1, 1)
  return GaussianMixture(modes=jax.device_put(modes), std=std)


# Blob-D's correlations per mode of the 3 x 3 grid, row by row (Liu et al. 2020: covariance
# 0.03 on the diagonal, -0.02 - 0.002 i off it for i < 4, 0 at the centre, 0.02 + 0.002 (i - 5)
# beyond, divided by 0.03).
BLOB_CORRELATIONS = tuple(c / 0.03 for c in (
    -0.020, -0.022, -0.024, -0.026, 0.0, 0.020, 0.022, 0.024, 0.026,
))


def blob(correlated: bool = False) -> GaussianMixture:
  """The Blob benchmark of two-sample tests (Liu et al. 2020): 9 Gaussians of variance 0.03
  on the unit grid {-1, 0, 1}^2; ``correlated`` gives each its correlation from
  :data:`BLOB_CORRELATIONS` (Blob-D's second distribution; the first is uncorrelated)."""
  mixture = grid(num_per_side=3, spacing=1.0, std=math.sqrt(0.03))
  if not correlated:
    return mixture
  tril = np.linalg.cholesky(np.array([[[1.0, rho], [rho, 1.0]] for rho in BLOB_CORRELATIONS]))
  return mixture.replace(tril=jax.device_put(tril.astype(np.float32)))


TARGETS = {"ring": ring, "grid": grid, "line": line}


def make_target(name: str, **params) -> GaussianMixture:
  """Builds target ``name`` from :data:`TARGETS` with keyword ``params``.

  Raises:
    ValueError: if ``name`` is not a known target or a parameter is not positive.
  """
  if name not in TARGETS:
    raise ValueError(f"unknown target {name!r}; valid: {', '.join(TARGETS)}")
  return TARGETS[name](**params)
