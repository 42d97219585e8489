"""VAEs and IWAEs on scikit-learn's bundled 8 x 8 digits, binarized (no download).

For each k in num_importance_samples, num_seeds runs per encoder gradient estimator train
on the k-sample IWAE bound (k = 1: the VAE's ELBO) in one compiled program; each is then evaluated on the 250 test
images with 5,000 importance samples, its active units counted, and the mean field fitted
on the first mean_field.num_images test images.
"""

import ml_collections

from experiments.configs import two_sample_config


def get_config() -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.experiment = "vae_digits"

  config.num_importance_samples = (1, 5, 50)
  # The encoder's gradient estimators (gan_theory.vae.ENCODER_GRADIENTS): each trains
  # num_seeds runs, on the same seeds, in each k's program.
  config.encoder_gradients = ("reparameterized", "stl", "dreg")
  config.num_seeds = 4
  config.first_seed = 0
  config.vmap_size = 0  # Runs vmapped together per device; 0: 2 on a CPU, all on a GPU/TPU.

  config.latent_dim = 8
  config.encoder = ml_collections.ConfigDict(dict(hidden_sizes=(64, 64), activation="tanh"))
  config.decoder = ml_collections.ConfigDict(dict(hidden_sizes=(64, 64), activation="tanh"))
  config.learning_rate = 1e-3
  config.batch_size = 64
  config.num_steps = 5000
  config.eval_every = 500
  # Snapshot each k's runs every checkpoint_every steps (a multiple of eval_every; 0: only
  # at the end) in workdir/checkpoints/k<k>, to resume from.
  config.checkpoint_every = 2 * config.get_ref("eval_every")

  config.evaluation = ml_collections.ConfigDict(dict(
      num_samples=5000, chunk_size=500, active_unit_threshold=0.01,
  ))
  config.mean_field = ml_collections.ConfigDict(dict(
      num_images=100, num_steps=2000, num_samples=16, learning_rate=0.05,
  ))
  config.num_pictures = 64  # Decoded prior samples, and test images with reconstructions.
  # Binary samples of each model against the 250 test images, by every two-sample test.
  config.two_sample = two_sample_config(num_samples=250)
  return config
