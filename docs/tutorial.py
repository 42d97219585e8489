# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # The theory of generative models, runnable: a tutorial
#
# This tutorial follows the two source documents: the course assignment on the theory of
# generative models (IFT6135: part 1, the reparameterization trick; part 2, the
# importance-weighted bound; part 3, a maximum-likelihood cost for GANs) and the lecture on
# likelihood-free learning (Isachenko, *Deep Generative Models*, lecture 8: is likelihood a
# good measure, two-sample tests, the minimax game and its optimal discriminator). Each
# section states the maths, computes it with `gan_theory` on a tiny problem, checks the
# number against the theory (an exact identity, or an estimate within a few of its standard
# errors) and draws one figure.
#
# **Run it as a script** (from the repository root, after `make setup`; about half a minute
# on a 2-core CPU, most of it JAX compiling):
#
# ```sh
# .venv/bin/python docs/tutorial.py [FIGURE_DIR]
# ```
#
# The figures go to `FIGURE_DIR`, else to `$GAN_THEORY_TUTORIAL_DIR`, else to a new
# temporary directory; the script prints where. A failed check stops it with an
# `AssertionError`. The test suite runs it (`tests/test_tutorial.py`), so it cannot rot.
#
# **Open it as a notebook**: it is a [jupytext](https://jupytext.readthedocs.io) "percent"
# script. Either `pip install jupytext` and run `jupytext --to notebook docs/tutorial.py`
# (this writes `docs/tutorial.ipynb`; do not commit it), or open `docs/tutorial.py`
# directly in VS Code (its `# %%` cells run in the interactive window) or in Jupyter with
# the jupytext extension ("Open as notebook"). In a notebook the figures show inline, and
# are saved as well.
#
# Notation. The data density is $p_\text{data}$ (the assignment's $p_D$, the lecture's
# $\pi$); the generator's is $p_G$ (the lecture's $p(x \mid \theta)$). The discriminator
# outputs a logit $a(x)$ and $D(x) = \sigma(a(x))$.

# %%
import functools
import math
import os
import sys
import tempfile
import time
from pathlib import Path

# These programs are tiny, so compiling them, not running them, takes most of the time, and
# most of a compile is LLVM optimizing the CPU code: skip that (as the test suite does),
# unless XLA_FLAGS already sets a level. Set before JAX is imported.
if "xla_backend_optimization_level" not in os.environ.get("XLA_FLAGS", ""):
  os.environ["XLA_FLAGS"] = (
      os.environ.get("XLA_FLAGS", "") + " --xla_backend_optimization_level=0").strip()

import matplotlib

INTERACTIVE = "ipykernel" in sys.modules
if not INTERACTIVE:
  matplotlib.use("Agg")  # No display needed when run as a script.
import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

from gan_theory import distributions, divergences, estimators, theory, two_sample, vae
from gan_theory.metrics import mean_and_stderr
from gan_theory.studies import iwae_bounds, likelihood_vs_samples

START = time.perf_counter()
if not INTERACTIVE and len(sys.argv) > 1:
  OUT = Path(sys.argv[1])
elif os.environ.get("GAN_THEORY_TUTORIAL_DIR"):
  OUT = Path(os.environ["GAN_THEORY_TUTORIAL_DIR"])
else:
  OUT = Path(tempfile.mkdtemp(prefix="gan_theory_tutorial_"))
OUT.mkdir(parents=True, exist_ok=True)
print(f"figures go to {OUT}")

# Every checked estimate must lie within this many standard errors of the exact value: a
# chance of about 6e-7 for each unbiased estimate to miss, and the keys are fixed.
SIGMAS = 5.0


def save(figure, name):
  """Saves ``figure`` under OUT; shows it in a notebook, closes it in a script."""
  path = OUT / name
  figure.savefig(path, dpi=80)
  print(f"figure: {path}")
  if INTERACTIVE:
    plt.show()
  else:
    plt.close(figure)


def check_estimate(label, estimate, stderr, exact):
  """Prints an estimate against its exact value, and asserts they agree within SIGMAS."""
  estimate, stderr, exact = float(estimate), float(stderr), float(exact)
  print(f"  {label:<42} {estimate:+.4f} ± {stderr:.4f}   exact {exact:+.4f}")
  assert abs(estimate - exact) <= SIGMAS * stderr, (label, estimate, stderr, exact)


# Each section computes in one jitted function and checks and draws on the host, in
# numpy: every JAX operation run on its own would be compiled on its own.


# %% [markdown]
# ## 1. The optimal discriminator and the value of the game
#
# The minimax game (the lecture; the assignment's part 3) is
#
# $$\min_G \max_D V(D, G), \qquad
#   V(D, G) = \mathbb{E}_{p_\text{data}} \log D(x) + \mathbb{E}_{p_G} \log(1 - D(x)).$$
#
# For a fixed generator, $V$ is an integral of
# $y(D) = p_\text{data}(x) \log D + p_G(x) \log(1 - D)$, point by point;
# $y'(D) = p_\text{data}/D - p_G/(1 - D) = 0$ gives the optimal discriminator (the
# assignment's eq. 3.1)
#
# $$D^*(x) = \frac{p_\text{data}(x)}{p_\text{data}(x) + p_G(x)}, \qquad
#   a^*(x) = \log p_\text{data}(x) - \log p_G(x).$$
#
# Substituting it, $V(D^*, G) = -\log 4 + 2\,\mathrm{JSD}(p_\text{data}, p_G)$: the
# generator, facing the best discriminator, minimizes the Jensen-Shannon divergence.
#
# The problem, small enough to check by hand: $p_\text{data} = \tfrac12 N(-2, 0.5^2) +
# \tfrac12 N(2, 0.5^2)$, and the generator $x = \mu + \sigma z$, $z \sim N(0, 1)$, at
# $\theta_0 = (\mu, \log \sigma) = (0.5, \log 1.5)$. Densities are exact, so every integral
# is a quadrature (the trapezoid rule on $[-15, 15]$).

# %%
# Device arrays (jnp), which traced indices can index; numpy arrays elsewhere are constants.
data = distributions.GaussianMixture(modes=jnp.array([[-2.0], [2.0]]), std=0.5)
theta0 = theory.Gaussian(mean=np.float32(0.5), log_std=np.float32(math.log(1.5)))
quadrature = divergences.trapezoid(-15.0, 15.0, 3001)
SHIFTS = np.linspace(-2.0, 2.0, 41, dtype=np.float32)  # a* + s
SCALES = np.linspace(0.0, 2.0, 41, dtype=np.float32)  # c a*


def log_p_data(x):
  """``log p_data`` of an array of 1-D points, elementwise."""
  return data.log_prob(x[..., None])


@jax.jit
def the_game(key):
  """The optimal discriminator, the game's value and the divergences at ``theta0``."""
  log_pd = log_p_data(quadrature.points)
  log_pg = theory.gaussian_log_prob(theta0, quadrature.points)
  a_star = theory.optimal_discriminator_logit(log_pd, log_pg)

  def value(logit):
    return theory.game_value("minimax", quadrature, log_pd, log_pg, logit)

  # The same divergences from samples alone, with their standard errors.
  real_key, fake_key = jax.random.split(key)
  real = data.sample(real_key, 20_000)[:, 0]
  fake = theory.gaussian_sample(theta0, jax.random.normal(fake_key, (20_000,)))
  return dict(
      log_pd=log_pd, log_pg=log_pg, a_star=a_star,
      value=value(a_star),
      best_value=theory.best_game_value("minimax", quadrature, log_pd, log_pg),
      jsd=divergences.js_divergence(quadrature, log_pd, log_pg),
      forward_kl=divergences.kl_divergence(quadrature, log_pd, log_pg),
      reverse_kl=divergences.kl_divergence(quadrature, log_pg, log_pd),
      # D* is the maximum: moving its logit, up, down or scaled, lowers V.
      shifted=jax.vmap(lambda s: value(a_star + s))(SHIFTS),
      scaled=jax.vmap(lambda c: value(c * a_star))(SCALES),
      sampled=theory.divergence_estimates(
          log_p_data(real), theory.gaussian_log_prob(theta0, real),
          log_p_data(fake), theory.gaussian_log_prob(theta0, fake)),
  )


game = jax.device_get(the_game(jax.random.key(1)))
value, jsd = float(game["value"]), float(game["jsd"])
print(f"V(D*, G)      = {value:.7f}")
print(f"2 JSD - log 4 = {2 * jsd - math.log(4):.7f}")
assert abs(value - (2 * jsd - math.log(4))) < 1e-5  # Equal to float32 quadrature accuracy.
assert abs(value - float(game["best_value"])) < 1e-5
assert game["shifted"].max() <= value + 1e-6 and game["scaled"].max() <= value + 1e-6
print(f"largest V over shifted logits {game['shifted'].max():.7f}, at shift "
      f"{SHIFTS[game['shifted'].argmax()]:+.1f}")
sampled = game["sampled"]
print("Monte Carlo, 20,000 samples a side, against quadrature:")
check_estimate("JSD(p_data, p_G)", sampled.jsd, sampled.jsd_stderr, jsd)
check_estimate("KL(p_data || p_G)", sampled.forward_kl, sampled.forward_kl_stderr,
               game["forward_kl"])
check_estimate("KL(p_G || p_data)", sampled.reverse_kl, sampled.reverse_kl_stderr,
               game["reverse_kl"])

# %%
figure, (left, right) = plt.subplots(1, 2, figsize=(10, 3.4), layout="constrained")
points = np.asarray(quadrature.points)
shown = (points > -5) & (points < 5)
left.plot(points[shown], np.exp(game["log_pd"][shown]), label=r"$p_\mathrm{data}$")
left.plot(points[shown], np.exp(game["log_pg"][shown]), label=r"$p_G$")
left.plot(points[shown], 1 / (1 + np.exp(-game["a_star"][shown])), "k--", label=r"$D^*(x)$")
left.set(xlabel="x", title="the optimal discriminator")
left.legend(fontsize=8)
right.plot(SHIFTS, game["shifted"], label=r"$V(\sigma(a^* + s), G)$ against $s$")
right.plot(SCALES - 1.0, game["scaled"], label=r"$V(\sigma(c\, a^*), G)$ against $c - 1$")
right.axhline(2 * jsd - math.log(4), color="k", ls=":", label=r"$2\,\mathrm{JSD} - \log 4$")
right.set(xlabel="perturbation of the optimal logit", title="V is largest at D*")
right.legend(fontsize=8)
save(figure, "1_optimal_discriminator.png")

# %% [markdown]
# ## 2. Three generator costs, and the maximum-likelihood one
#
# The generator minimizes $\mathbb{E}_{p_G} c(a(x))$, a cost of the discriminator's logit
# on its samples. Three costs:
#
# | cost | $c(a)$ | $dc/da$ | gradient at $D^*$ held fixed |
# |---|---|---|---|
# | minimax | $\log(1 - D) = -\mathrm{softplus}(a)$ | $-D$ | $2\,\mathrm{JSD}$ |
# | non-saturating | $-\log D = \mathrm{softplus}(-a)$ | $-(1 - D)$ | $\mathrm{KL}(p_G \Vert p_\text{data}) - 2\,\mathrm{JSD}$ |
# | maximum likelihood | $-e^{a} = -D/(1 - D)$ | $-D/(1 - D)$ | $\mathrm{KL}(p_\text{data} \Vert p_G)$ |
#
# The maximum-likelihood cost is the assignment's part 3. By the log-derivative identity
# $\partial_\theta p_G = p_G\, \partial_\theta \log p_G$ (eqs. 3.3, 3.4),
#
# $$\partial_\theta \mathbb{E}_{p_G} f(x)
#   = \mathbb{E}_{p_G}\big[f(x)\, \partial_\theta \log p_G(x)\big],$$
#
# and with $f = -p_\text{data}/p_G$ (held fixed) this is
# $-\int p_\text{data}\, \partial_\theta \log p_G
#   = \partial_\theta \mathrm{KL}(p_\text{data} \Vert p_G)$,
# the gradient of the negative log-likelihood. At the optimal discriminator
# $e^{a^*} = p_\text{data}/p_G$, so $f = -\exp(a)$ (eq. 3.7).
#
# First the costs as functions of $D$ and their derivatives in the logit (exact identities);
# then each cost's gradient in $\theta = (\mu, \log \sigma)$, with $D^*$ frozen at
# $\theta_0$, estimated from 20,000 samples both pathwise (through $x = \mu + \sigma z$) and
# by the score function (eq. 3.4), against the gradient of its divergence by quadrature.

# %%
NAMES = ("minimax", "non_saturating", "maximum_likelihood")
OUTPUTS = np.linspace(0.001, 0.999, 999, dtype=np.float32)  # D off 0 and 1: finite logits.


@jax.jit
def the_costs(key):
  """Each cost and its slope against D, and each cost's gradient with D* frozen at theta0."""
  costs, slopes = theory.cost_curves(NAMES, OUTPUTS)
  noise = jax.random.normal(key, (20_000,))
  return costs, slopes, theory.gradient_checks(NAMES, log_p_data, theta0, quadrature, noise)


costs, slopes, checks = jax.device_get(the_costs(jax.random.key(2)))
d = OUTPUTS.astype(np.float64)
np.testing.assert_allclose(costs, [np.log1p(-d), -np.log(d), -d / (1 - d)], rtol=1e-3, atol=1e-5)
np.testing.assert_allclose(slopes, [-d, -(1 - d), -d / (1 - d)], rtol=1e-3, atol=1e-5)
for name, slope in zip(NAMES, slopes):
  print(f"{name:<20} dc/da at D = 0.001: {slope[0]:+.4f}   at D = 0.999: {slope[-1]:+.1f}")

print("gradients with D* frozen at theta0 (estimate ± standard error):")
for index, name in enumerate(NAMES):
  for field in theory.Gaussian._fields:
    for estimator in ("pathwise", "score_function"):
      check_estimate(f"{name} d/d{field}, {estimator}",
                     getattr(getattr(checks, estimator), field)[index],
                     getattr(getattr(checks, f"{estimator}_stderr"), field)[index],
                     getattr(checks.exact, field)[index])

# The maximum-likelihood cost's gradient is that of KL(p_data || p_G), whose closed form in
# (mu, log sigma) is -E_data grad log p_G = ((mu - E x) / s^2, 1 - E (x - mu)^2 / s^2); here
# E x = 0 and E (x - mu)^2 = 2^2 + 0.5^2 + 0.5^2 = 4.5, s^2 = 2.25: (0.2222, -1).
ml = NAMES.index("maximum_likelihood")
closed_form = (0.5 / 2.25, 1.0 - 4.5 / 2.25)
print(f"grad KL(p_data || p_G): quadrature ({checks.exact.mean[ml]:.4f}, "
      f"{checks.exact.log_std[ml]:.4f}), closed form ({closed_form[0]:.4f}, {closed_form[1]:.4f})")
np.testing.assert_allclose([checks.exact.mean[ml], checks.exact.log_std[ml]], closed_form,
                           atol=1e-3)

# %%
figure, axes = plt.subplots(1, 3, figsize=(14, 3.4), layout="constrained")
for index, name in enumerate(NAMES):
  axes[0].plot(OUTPUTS, costs[index], label=name)
  axes[1].plot(OUTPUTS, np.abs(slopes[index]), label=name)
axes[0].set(xlabel="D(G(z))", ylim=(-5, 5), title="cost of one sample")
axes[1].set(xlabel="D(G(z))", yscale="log", title="|dc/da|: flat where D rejects the sample")
axes[0].legend(fontsize=8)
labels = [f"{name}\n{field}" for name in NAMES for field in theory.Gaussian._fields]
rows = np.arange(len(labels))
for offset, estimator in ((-0.2, "pathwise"), (0.2, "score_function")):
  estimate = np.stack(getattr(checks, estimator), 1).ravel()
  stderr = np.stack(getattr(checks, f"{estimator}_stderr"), 1).ravel()
  axes[2].errorbar(estimate, rows + offset, xerr=SIGMAS * stderr, fmt="o", ms=3,
                   label=f"{estimator} ± {SIGMAS:g} s.e.")
axes[2].scatter(np.stack(checks.exact, 1).ravel(), rows, marker="x", c="k", zorder=3,
                label="gradient of the divergence")
axes[2].set_yticks(rows, labels, fontsize=7)
axes[2].set(title="gradient with D* frozen: estimates and exact")
axes[2].legend(fontsize=7)
save(figure, "2_generator_costs.png")

# %% [markdown]
# ## 3. The reparameterization trick
#
# The assignment's part 1.1: a Gaussian $q = N(\mu, L L^\top)$ is sampled by transforming
# standard normal noise, $z = \mu + L\varepsilon$, $\varepsilon \sim N(0, I)$; then
# $\mathbb{E} z = \mu$ and $\mathrm{Cov}\, z = L\, \mathrm{Cov}(\varepsilon) L^\top = L L^\top$.
# Since the sample is a differentiable function of $(\mu, L)$, the gradient of an
# expectation moves inside it:
#
# $$\nabla_{\mu, L}\, \mathbb{E}_{q} f(z)
#   = \mathbb{E}_{\varepsilon}\, \nabla_{\mu, L} f(\mu + L\varepsilon)
#   \quad \text{(pathwise)},$$
#
# where the score-function estimator (section 2's eq. 3.4) averages
# $f(z)\, \nabla \log q(z)$ instead and needs only values of $f$. Both are unbiased; they
# differ in variance. For a quadratic $f(z) = \tfrac12 (z - c)^\top A (z - c)$ the exact
# gradient is known ($A(\mu - c)$ in the mean; `estimators.quadratic_gradient`), so both can
# be checked.

# %%
q = vae.FullCovarianceGaussian(mean=np.array([1.0, -0.5], np.float32),
                               scale_tril=np.array([[1.0, 0.0], [0.6, 0.5]], np.float32))
hessian = np.array([[2.0, 0.5], [0.5, 1.0]], np.float32)
centre = np.array([-1.0, 1.0], np.float32)
N = 20_000


def quadratic(z):
  return 0.5 * (z - centre) @ hessian @ (z - centre)


@jax.jit
def the_trick(key):
  """Samples ``z = mu + L eps``, and both estimators of ``grad E_q[f]`` on the same noise."""
  eps = jax.random.normal(key, (N, 2))
  z = vae.reparameterize(q, eps)
  pathwise = estimators.pathwise_gradients(quadratic, vae.reparameterize, q, eps)
  score = estimators.score_function_gradients(quadratic, vae.gaussian_log_prob, q, z)
  # The mean's gradient: each estimator's mean, standard error and per-sample variance.
  moments = {name: (*mean_and_stderr(per_sample.mean), jnp.var(per_sample.mean, axis=0))
             for name, per_sample in (("pathwise", pathwise), ("score_function", score))}
  return z, moments, estimators.quadratic_gradient(q, hessian, centre)


z, moments, exact = jax.device_get(the_trick(jax.random.key(9)))
covariance = q.scale_tril @ q.scale_tril.T
sample_covariance = np.cov(z.T)
print("z = mu + L eps: sample moments against (mu, L L^T):")
for i in range(2):
  check_estimate(f"E z_{i}", z[:, i].mean(), math.sqrt(covariance[i, i] / N), q.mean[i])
  for j in range(i + 1):
    # The standard error of a Gaussian sample covariance entry.
    stderr = math.sqrt((covariance[i, i] * covariance[j, j] + covariance[i, j] ** 2) / N)
    check_estimate(f"Cov(z_{i}, z_{j})", sample_covariance[i, j], stderr, covariance[i, j])
print("grad_mu E_q[f]:")
for name, (means, stderrs, _) in moments.items():
  for i in range(2):
    check_estimate(f"{name} d/dmu_{i}", means[i], stderrs[i], exact.mean[i])
variance_ratio = moments["score_function"][2].mean() / moments["pathwise"][2].mean()
print(f"per-sample variance in the mean, score function / pathwise: {variance_ratio:.1f}")
assert variance_ratio > 1.0

# %% [markdown]
# The variance as the dimension grows: a random Gaussian and quadratic in each dimension
# (`iwae_bounds.quadratic_problem`, `iwae_bounds.estimator_moments`). The latter also sums
# $z^2 = ((\text{estimate} - \text{exact}) / \text{s.e.})^2$ over the gradient's entries,
# about one per entry for an unbiased estimator: a $\chi^2$ check of both estimators.

# %%
DIMS = (2, 16, 128)
problem_key, noise_key = jax.random.split(jax.random.key(4))
# One random problem in the largest dimension, each smaller one its first d coordinates: one
# set of random draws to compile, not one per dimension.
largest = jax.jit(iwae_bounds.quadratic_problem, static_argnums=(1, 2))(
    problem_key, "diagonal", DIMS[-1])
largest_noise = jax.jit(jax.random.normal, static_argnums=1)(noise_key, (4096, DIMS[-1]))


@functools.partial(jax.jit, static_argnums=2)
def estimator_variance(problem, noise, dim):
  """Both estimators' moments on the problem's first ``dim`` coordinates."""
  q, hessian, centre = problem
  q = vae.DiagonalGaussian(q.mean[:dim], q.log_std[:dim])
  return iwae_bounds.estimator_moments(
      iwae_bounds.QuadraticProblem(q, hessian[:dim, :dim], centre[:dim]), noise[:, :dim])


variances = {"pathwise": [], "score_function": []}
for dim in DIMS:
  moments = jax.device_get(estimator_variance(largest, largest_noise, dim))
  for (estimator, field), moment in moments.items():
    if field == "mean":
      variances[estimator].append(float(moment.variance_per_entry))
    # Chi-squared with `entries` degrees of freedom: mean `entries`, sd sqrt(2 entries).
    entries = int(moment.entries)
    assert moment.sum_z_squared < entries + SIGMAS * math.sqrt(2 * entries), (
        dim, estimator, field, float(moment.sum_z_squared))
for dim, path, sf in zip(DIMS, variances["pathwise"], variances["score_function"]):
  print(f"  d = {dim:>3}: per-entry variance of grad_mu: pathwise {path:6.2f}, "
        f"score function {sf:9.1f}")
assert all(sf > path for path, sf in zip(variances["pathwise"], variances["score_function"]))

# %%
figure, (left, right) = plt.subplots(1, 2, figsize=(10, 3.4), layout="constrained")
left.scatter(z[:2000, 0], z[:2000, 1], s=2, alpha=0.4)
angles = np.linspace(0, 2 * np.pi, 200)
for radius in (1.0, 2.0):  # Ellipses of L L^T: mu + L (a circle of that radius).
  ellipse = q.mean + radius * np.stack([np.cos(angles), np.sin(angles)], 1) @ q.scale_tril.T
  left.plot(ellipse[:, 0], ellipse[:, 1], "k-", lw=1)
left.set(aspect="equal", title=r"$z = \mu + L\varepsilon$ and ellipses of $L L^\top$")
for estimator, values in variances.items():
  right.plot(DIMS, values, "o-", label=estimator)
right.set(xscale="log", yscale="log", xlabel="dimension d",
          ylabel="per-sample variance per entry", title=r"estimators of $\nabla_\mu E_q f$")
right.legend(fontsize=8)
save(figure, "3_reparameterization.png")

# %% [markdown]
# ## 4. The importance-weighted bound, and why $k = 2$ beats the ELBO
#
# The assignment's part 2. With $z_i \sim q(z \mid x)$ and weights
# $w_i = p(x, z_i) / q(z_i \mid x)$, so that $\mathbb{E}_q w_i = p(x)$,
#
# $$\mathcal{L}_k = \mathbb{E}\Big[\log \frac1k \sum_{i=1}^k w_i\Big] \le
#   \log \mathbb{E}\Big[\frac1k \sum_i w_i\Big] = \log p(x)$$
#
# by Jensen's inequality (2.1); $\mathcal{L}_1$ is the ELBO. For $k = 2$ (2.2), the
# concavity of $\log$ gives, draw by draw,
# $\log \frac{w_1 + w_2}{2} \ge \frac{\log w_1 + \log w_2}{2}$, and the right side's
# expectation is $\mathcal{L}_1$: so $\mathcal{L}_2 \ge \mathcal{L}_1$. The same argument
# on the $k$ subsets of $k - 1$ weights gives $\mathcal{L}_{k-1} \le \mathcal{L}_k$.
#
# The model is linear-Gaussian, $p(z) = N(0, I)$, $p(x \mid z) = N(z + \mu, I)$ in 4
# dimensions, whose $\log p(x)$ is exact, with a perturbed linear encoder $q(z \mid x)$ on
# 16 data points. Every $\mathcal{L}_k$ ($k$ dividing 256) is estimated from the same 256
# weights per draw (the mean over their disjoint groups of $k$), so that the differences
# between $k$s are measured on common random numbers. For large $k$ the gap
# $\log p(x) - \mathcal{L}_k$ falls like $\mathrm{Var}(w) / (2k\, p(x)^2)$ (the delta
# method), that is like $1/k$.

# %%
REPLICATES, K_MAX = 200, 256
KS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


@jax.jit
def the_bounds(key):
  """Each ``L_k`` of KS over replicates (mean, s.e.), the pairs' Jensen gaps, exact bounds."""
  problem_key, noise_key = jax.random.split(key)
  model, encoder, x = iwae_bounds.linear_gaussian_problem(
      problem_key, dim=4, num_data=16, encoder_std=1.0, perturbation=0.1)
  noise = jax.random.normal(noise_key, (16, REPLICATES, K_MAX, 4))

  def log_weights(proposal, point, noise):
    log_joint = lambda z: vae.linear_gaussian_log_joint(model, point, z)
    return vae.log_weights(log_joint, proposal, noise)

  def of_encoder(point, noise):  # [R, K_MAX] log-weights of the encoder's proposal.
    proposal = vae.linear_encoder(encoder, point)
    return jax.vmap(lambda e: log_weights(proposal, point, e))(noise)

  log_w = jax.vmap(of_encoder)(x, noise)  # [16, R, K_MAX]
  # L_k per replicate, averaged over the data points: [len(KS), R].
  bounds = jnp.stack([
      jnp.mean(vae.iwae_bound(log_w.reshape(16, REPLICATES, K_MAX // k, k)), axis=(0, 2))
      for k in KS])
  pairs = log_w.reshape(16, REPLICATES, K_MAX // 2, 2)
  # With the exact posterior as the proposal every weight is p(x): every bound is log p(x).
  exact_proposal = jax.vmap(lambda point, e: vae.iwae_bound(log_weights(
      vae.linear_gaussian_posterior(model, point), point, e)))(x, noise[:, 0, :8])
  return dict(
      log_px=vae.linear_gaussian_log_marginal(model, x),
      bounds=mean_and_stderr(bounds, axis=1),
      # L_{k'} - L_k from one k in KS to the next, on common random numbers: less noisy.
      steps=mean_and_stderr(bounds[1:] - bounds[:-1], axis=1),
      jensen_gaps=vae.iwae_bound(pairs) - vae.elbo(pairs), exact_proposal=exact_proposal)


iwae = jax.device_get(the_bounds(jax.random.key(5)))
mean_log_px = float(iwae["log_px"].mean())
means, stderrs = iwae["bounds"]
print(f"log p(x), averaged over the points: {mean_log_px:.4f}")
for k, mean, stderr in zip(KS, means, stderrs):
  print(f"  L_{k:<4} {mean:.4f} ± {stderr:.4f}   gap {mean_log_px - mean:.4f}")

# 2.2, draw by draw: log((w1 + w2) / 2) >= (log w1 + log w2) / 2 for every pair of weights.
jensen_gaps = iwae["jensen_gaps"]
assert jensen_gaps.min() >= -1e-5, jensen_gaps.min()
steps, step_stderrs = iwae["steps"]
gain, gain_stderr = steps[0], step_stderrs[0]
print(f"L_2 - L_1 = {gain:.4f} ± {gain_stderr:.4f}; every one of {jensen_gaps.size} pairs gains")
assert gain > SIGMAS * gain_stderr

# Monotone in k (no step down beyond its noise) and below log p(x) (none above it).
assert np.all(steps > -SIGMAS * step_stderrs), (steps, step_stderrs)
assert np.all(means <= mean_log_px + SIGMAS * stderrs)
exact_error = np.abs(iwae["exact_proposal"] - iwae["log_px"]).max()
print(f"exact posterior as proposal: max |L_8 - log p(x)| = {exact_error:.1e}")
assert exact_error < 1e-4

# %%
figure, axes = plt.subplots(1, 3, figsize=(14, 3.4), layout="constrained")
axes[0].errorbar(KS, means, yerr=SIGMAS * stderrs, fmt="o-", ms=3, label=r"$\mathcal{L}_k$")
axes[0].axhline(mean_log_px, color="k", ls=":", label=r"$\log p(x)$")
axes[0].set(xscale="log", xlabel="k", title="the bound rises with k")
axes[0].legend(fontsize=8)
gaps = mean_log_px - means
axes[1].plot(KS, gaps, "o-", ms=3, label=r"$\log p(x) - \mathcal{L}_k$")
axes[1].plot(KS, gaps[-1] * KS[-1] / np.asarray(KS), "k:", label="1/k, the large-k rate")
axes[1].set(xscale="log", yscale="log", xlabel="k", title="the gap")
axes[1].legend(fontsize=8)
axes[2].hist(jensen_gaps.ravel(), bins=60)
axes[2].set(yscale="log", xlabel=r"$\log\frac{w_1 + w_2}{2} - \frac{\log w_1 + \log w_2}{2}$",
            title="k = 2 against the ELBO, pair by pair: never below 0")
save(figure, "4_iwae_bound.png")

# %% [markdown]
# ## 5. The lecture: is likelihood a good measure? Two-sample tests
#
# The lecture's two counterexamples. For a data density $p$ (here a mixture of 8 Gaussians
# in 10 dimensions):
#
# * **poor likelihood, great samples**: the memorizer
#   $p_1(x) = \frac1n \sum_i N(x \mid x_i, \epsilon I)$ on $n$ training points, small
#   $\epsilon$: its samples are copies of data, its likelihood of new data is poor;
# * **great likelihood, poor samples**: $p_2 = 0.01\, p + 0.99\, p_\text{noise}$ (here
#   $p_\text{noise}$ is the Gaussian of $p$'s mean and variance): 99% of its samples are
#   noise, yet $\log p_2(x) \ge \log p(x) - \log 100$ at every $x$, a constant that
#   $\log p(x)$ dwarfs as the dimension grows.
#
# A likelihood-free comparison: the two-sample test of $H_0: p_\text{data} = p_\text{model}$
# from samples alone. The MMD test's statistic is the unbiased $\mathrm{MMD}^2$ with a
# Gaussian kernel, and its null distribution comes from relabelling the pooled sample at
# random; the classifier test trains a discriminator on half of each sample, and its
# held-out accuracy is the statistic (the GAN's discriminator is such a learned test).

# %%
DIM, NUM_TRAIN, NUM_TEST, PERMUTATIONS = 10, 500, 250, 500
MODELS = likelihood_vs_samples.MODELS
assert MODELS == ("data", "memorizer", "noisy"), MODELS  # The order study_models returns.
target_key, key = jax.random.split(jax.random.key(6))
# Concrete (not traced): the noisy model's Gaussian is fitted to the modes in numpy.
target = jax.jit(distributions.random_mixture, static_argnums=(1, 2, 3, 4))(
    target_key, DIM, 8, 2.0, 0.5)


@jax.jit
def likelihoods_and_tests(key):
  """Each model's log-likelihood of held-out data, and both tests of its samples."""
  data_key, sample_key, mmd_key, classifier_key = jax.random.split(key, 4)
  # One draw of p: the memorizer's training points, held-out points, and p's own samples.
  draws = target.sample(data_key, NUM_TRAIN + 2 * NUM_TEST)
  train, held_out = draws[:NUM_TRAIN], draws[NUM_TRAIN:NUM_TRAIN + NUM_TEST]
  models = likelihood_vs_samples.study_models(
      target, train, memorizer_variance=0.01, signal_weight=0.01)  # (p, p1, p2)
  _, p1, p2 = models
  p1_key, p2_key = jax.random.split(sample_key)
  samples = jnp.stack([draws[NUM_TRAIN + NUM_TEST:], p1.sample(p1_key, NUM_TEST),
                       p2.sample(p2_key, NUM_TEST)])  # In MODELS order.
  mmd = jax.vmap(lambda k, s: two_sample.mmd_permutation_test(
      k, held_out, s, num_permutations=PERMUTATIONS))(jax.random.split(mmd_key, 3), samples)
  classifier = jax.vmap(lambda k, s: two_sample.classifier_two_sample_test(
      k, held_out, s, hidden_sizes=(32, 32), num_steps=300))(
      jax.random.split(classifier_key, 3), samples)
  return dict(
      log_probs=jnp.stack([model.log_prob(held_out) for model in models]),
      memorizer_on_train=jnp.mean(p1.log_prob(train)), mmd=mmd, classifier=classifier)


lecture = jax.device_get(likelihoods_and_tests(key))
log_probs = lecture["log_probs"]  # [models, NUM_TEST]
log_likelihood = log_probs.mean(1)
for name, ll in zip(MODELS, log_likelihood):
  print(f"{name:<10} held-out log-likelihood {ll:9.2f} nats")
print(f"memorizer on its own training points: {lecture['memorizer_on_train']:.2f} nats")
data_index, memorizer, noisy = (MODELS.index(name) for name in ("data", "memorizer", "noisy"))
# The lecture's bound, point by point: log p2 >= log p - log 100.
assert np.all(log_probs[noisy] >= log_probs[data_index] - math.log(100) - 1e-4)
assert log_likelihood[memorizer] < log_likelihood[noisy] < log_likelihood[data_index]
assert lecture["memorizer_on_train"] > log_likelihood[data_index]  # It learned its points.

mmd, classifier = lecture["mmd"], lecture["classifier"]
for index, name in enumerate(MODELS):
  print(f"{name:<10} MMD^2 {mmd.statistic[index]:+.4f}, p = {mmd.p_value[index]:.3f};"
        f" classifier accuracy {classifier.accuracy[index]:.3f},"
        f" p = {classifier.p_value[index]:.2g}")
# The noisy model, close in likelihood, is told apart by both tests beyond doubt: the MMD's
# smallest possible p-value, 1 / (permutations + 1), and a classifier right almost always.
# The memorizer, far off in likelihood, is not, or barely: its samples are copies of data,
# blurred by epsilon and with repeats, which a classifier may pick up a little
# (docs/likelihood_vs_samples.md: accuracy 0.51 to 0.54 with 1,000 points). Under H0 (p
# against itself) a p-value is uniform, so the memorizer's and p's are checked at 0.001,
# not at 5%, where one seed in twenty would fail.
assert mmd.p_value[noisy] <= 1 / (PERMUTATIONS + 1) + 1e-6 and classifier.p_value[noisy] < 1e-6
for index in (data_index, memorizer):
  assert mmd.p_value[index] > 1e-3 and classifier.p_value[index] > 1e-3, MODELS[index]

# %%
figure, axes = plt.subplots(1, 4, figsize=(15, 3.2), layout="constrained")
axes[0].bar(MODELS, log_likelihood, color=["C0", "C1", "C2"])
axes[0].axhline(log_likelihood[data_index] - math.log(100), color="k", ls=":",
                label=r"$\log p - \log 100$")
axes[0].set(title="held-out log-likelihood (nats)")
axes[0].legend(fontsize=8)
for index, name in enumerate(MODELS):
  ax = axes[index + 1]
  ax.hist(mmd.permuted[index], bins=30, color="0.7", label="relabelled ($H_0$)")
  ax.axvline(mmd.statistic[index], color=f"C{index}", lw=2, label="observed")
  ax.set_title(f"{name}: MMD p = {mmd.p_value[index]:.3f}, classifier accuracy "
               f"{classifier.accuracy[index]:.2f}", fontsize=9)
  ax.set(xlabel=r"MMD$^2$")
  ax.locator_params(axis="x", nbins=4)
axes[1].legend(fontsize=8)
save(figure, "5_likelihood_vs_samples.png")

# %% [markdown]
# ## Summary
#
# * $D^* = p_\text{data} / (p_\text{data} + p_G)$ maximizes the game's value, which is then
#   $2\,\mathrm{JSD} - \log 4$.
# * With $D^*$ frozen, the minimax, non-saturating and maximum-likelihood costs follow the
#   gradients of $2\,\mathrm{JSD}$, $\mathrm{KL}(p_G \Vert p_\text{data}) - 2\,\mathrm{JSD}$ and
#   $\mathrm{KL}(p_\text{data} \Vert p_G)$; where $D$ rejects a sample, only the
#   non-saturating cost has a gradient.
# * $z = \mu + L\varepsilon$ makes samples differentiable; here the pathwise gradient has
#   far less variance than the score function's, and the gap grows with the dimension.
# * $\mathcal{L}_1 \le \mathcal{L}_2 \le \dots \le \mathcal{L}_k \le \log p(x)$, the step
#   from 1 to 2 by Jensen's inequality on each pair of weights.
# * Likelihood and sample quality can disagree both ways; a two-sample test judges samples
#   without a likelihood.
#
# More: `docs/theory.md`, `docs/vae.md`, `docs/iwae_bounds.md`,
# `docs/likelihood_vs_samples.md`, and the experiments behind them.

# %%
print(f"tutorial done in {time.perf_counter() - START:.1f} s; figures in {OUT}")
