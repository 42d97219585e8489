"""GANs on 8 Gaussians on a ring (Metz et al. 2017): the default sweep."""

import ml_collections

from experiments.configs import two_sample_config


def get_config() -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.experiment = "gan_sweep"

  # The target and the parameters of each target; `target` picks one.
  config.target = "ring"
  config.ring = ml_collections.ConfigDict(dict(num_modes=8, radius=2.0, std=0.02))
  config.grid = ml_collections.ConfigDict(dict(num_per_side=5, spacing=2.0, std=0.05))
  config.line = ml_collections.ConfigDict(dict(modes=(-2.0, 2.0), std=0.5))  # 1-D.

  # The sweep: every objective at seeds first_seed .. first_seed + num_seeds - 1.
  config.objectives = ("minimax", "non_saturating", "maximum_likelihood")
  config.num_seeds = 4
  config.first_seed = 0
  # Runs vmapped together, groups in sequence inside the one program; 0 picks 2 on a
  # CPU (cache-sized) and all runs on an accelerator. Results agree to float32 rounding.
  config.vmap_size = 0

  config.num_steps = 5000
  config.batch_size = 256
  config.eval_every = 500
  # Snapshot the whole sweep every checkpoint_every steps (a multiple of eval_every) and
  # at the end, in <workdir>/checkpoints; the same command resumes from the latest.
  # 0: only at the end. By default every second evaluation, whatever eval_every becomes.
  config.checkpoint_every = 2 * config.get_ref("eval_every")
  config.latent_dim = 2

  # kind "mlp" maps latents through an MLP; "flow" is a RealNVP flow of num_couplings
  # affine couplings (each conditioner an MLP of hidden_sizes) and "gaussian" x = mean +
  # std z, both with an exact density, which the "mle" objective, the oracle
  # discriminator and the divergence metrics need (latent_dim = data dim).
  # A learning rate is a list of values (--config.generator.learning_rate=1e-3,3e-4): the
  # sweep runs every objective at each.
  config.generator = ml_collections.ConfigDict(dict(
      kind="mlp", hidden_sizes=(128, 128), activation="relu", learning_rate=(1e-3,),
      num_couplings=8,
  ))
  # kind "mlp" is trained, discriminator_steps updates per generator update; "oracle" is
  # the optimal discriminator of the current generator, a*(x) = log p_data - log p_G,
  # exact (a generator with a density), held fixed within each generator update.
  config.discriminator = ml_collections.ConfigDict(
      dict(kind="mlp", hidden_sizes=(128, 128), activation="relu", learning_rate=(1e-3,))
  )
  config.discriminator_steps = 1
  # b1 = 0.5 as in DCGAN; sgd ignores b1 and b2.
  config.optimizer = ml_collections.ConfigDict(dict(name="adam", b1=0.5, b2=0.999))

  # Evaluation: mode metrics on eval_samples generator samples, MMD^2 on the first
  # mmd_samples of them against as many fresh data samples.
  config.eval_samples = 2500
  config.mmd_samples = 1000
  config.mmd_bandwidth = 0.1
  # The final generators against held-out data: MMD and classifier tests, precision/recall
  # (two_sample.csv); False skips them and their compilation (a classifier per run).
  config.two_sample_tests = True
  config.two_sample = two_sample_config(num_samples=1000)
  return config
