"""Every experiment config's bad inputs, run in one fresh process.

``python -m tests.bad_inputs WORKDIR`` gives each case's config to its experiment's
``run`` with a workdir under WORKDIR, and prints one JSON line per case: its name and
the error it raised. Run with ``JAX_LOG_COMPILES=1``, the output then shows any
compilation: validation must come before everything, so no case may compile anything.
One process for the whole table keeps the suite fast; the launcher's own handling of a
bad input (one line, exit status 1) is tested per experiment in ``test_main.py``.
"""

import importlib
import json
import sys
from pathlib import Path

from experiments import main
from gan_theory.validation import ConfigError

# Bad inputs that a GAN sweep config must reject: (case, overrides, start of the message).
GAN_SWEEP_BAD_INPUTS = (
    ("unknown_target", {"target": "spiral"}, "config.target='spiral' is not allowed"),
    ("unknown_objective", {"objectives": ("minimax", "wgan")}, "config.objectives=("),
    ("repeated_objective", {"objectives": ("minimax", "minimax")},
     "config.objectives=('minimax', 'minimax'): 'minimax' is named twice"),
    ("misspelt_objective", {"objectives": ("minimax", "non_saturatin")},
     "'non_saturatin' is not one of: minimax, non_saturating, maximum_likelihood, f_kl"),
    ("unknown_activation", {"generator.activation": "swish2"},
     "config.generator.activation='swish2' is not allowed"),
    ("unknown_optimizer", {"optimizer.name": "adamw"}, "config.optimizer.name='adamw'"),
    ("zero_classifier_learning_rate", {"two_sample.classifier.learning_rate": 0.0},
     "config.two_sample.classifier.learning_rate=0.0 must be a positive number"),
    ("zero_seeds", {"num_seeds": 0}, "config.num_seeds=0 must be a positive integer"),
    ("zero_hidden_size", {"discriminator.hidden_sizes": (0,)},
     "config.discriminator.hidden_sizes"),
    ("negative_learning_rate", {"generator.learning_rate": (-1.0,)},
     "config.generator.learning_rate=-1.0 must be a positive number"),
    ("infinite_learning_rate", {"generator.learning_rate": (float("inf"),)},
     "config.generator.learning_rate=inf must be a finite positive number"),
    ("repeated_learning_rate", {"discriminator.learning_rate": (1e-3, 1e-3)},
     "config.discriminator.learning_rate=(0.001, 0.001): 0.001 is named twice"),
    ("unknown_discriminator", {"discriminator.kind": "optimal"},
     "config.discriminator.kind='optimal' is not allowed; valid: mlp, oracle"),
    ("oracle_without_a_density", {"discriminator.kind": "oracle"},
     "config.discriminator.kind='oracle' needs the generator's density"),
    ("zero_discriminator_steps", {"discriminator_steps": 0},
     "config.discriminator_steps=0 must be a positive integer"),
    ("zero_mode_std", {"ring.std": 0.0, "grid.std": 0.0}, "is not valid for target"),
    ("eval_every_not_dividing", {"eval_every": 300}, "config.eval_every=300 must divide"),
    ("checkpoint_every_not_a_multiple", {"checkpoint_every": 250},
     "config.checkpoint_every=250 must be a multiple"),
    ("mmd_samples_above_eval_samples", {"mmd_samples": 5000}, "config.mmd_samples=5000"),
)
FLOW_BAD_INPUTS = (
    ("mle_without_a_density", {"generator.kind": "mlp"}, "includes 'mle', which needs a density"),
    ("unknown_generator", {"generator.kind": "vae"}, "config.generator.kind='vae' is not allowed"),
    ("latent_dim_of_a_flow", {"latent_dim": 3}, "config.latent_dim=3 must equal the dimension"),
    ("zero_couplings", {"generator.num_couplings": 0}, "config.generator.num_couplings=0"),
    ("oracle_trained_steps", {"discriminator.kind": "oracle", "discriminator_steps": 5},
     "config.discriminator_steps=5 must be 1 with config.discriminator.kind='oracle'"),
)
THEORY_BAD_INPUTS = (
    ("unknown_objective", {"objectives": ("minimax", "wgan")}, "config.objectives=("),
    ("one_sample", {"num_samples": (1, 10)}, "each must be at least 2"),
    ("zero_seeds", {"num_seeds": 0}, "config.num_seeds=0 must be a positive integer"),
    ("zero_data_std", {"data_std": 0.0}, "config.data_std=0.0 must be a positive number"),
    ("negative_generator_std", {"generator_std": -1.5}, "config.generator_std=-1.5"),
    ("empty_interval", {"quadrature.low": 3.0, "quadrature.high": -3.0},
     "config.quadrature.low=3.0 must be below config.quadrature.high=-3.0"),
    ("two_points", {"quadrature.num_points": 2}, "config.quadrature.num_points=2"),
    ("unknown_discriminator_objective", {"discriminator.objectives": ("f_chi",)},
     "config.discriminator.objectives=('f_chi',): 'f_chi' is not one of"),
    ("discriminator_eval_every", {"discriminator.eval_every": 7},
     "config.discriminator.eval_every=7 must divide config.discriminator.num_steps=3000"),
)
IWAE_BOUNDS_BAD_INPUTS = (
    ("zero_dim", {"dim": 0}, "config.dim=0 must be a positive integer"),
    ("one_replicate", {"num_replicates": 1}, "config.num_replicates=1 must be an integer >= 2"),
    ("negative_perturbation", {"perturbation": -0.1},
     "config.perturbation=-0.1 must be a non-negative number"),
    ("zero_encoder_std", {"encoder_std": 0.0}, "config.encoder_std=0.0 must be a positive number"),
    ("k_not_a_multiple_of_the_chunk", {"num_importance_samples": (1, 750)},
     "each must be at most config.chunk_size=500 or a multiple of it"),
    ("zero_k", {"num_importance_samples": (0, 5)}, "config.num_importance_samples=(0, 5)"),
    ("zero_dimension", {"estimators.dims": (0, 2)}, "config.estimators.dims=(0, 2)"),
    ("unknown_encoder_gradient", {"encoder_gradients": ("reparameterized", "dregs")},
     "'dregs' is not one of: reparameterized, stl, dreg; did you mean 'dreg'?"),
)
DIGITS_BAD_INPUTS = (
    ("repeated_k", {"num_importance_samples": (1, 5, 5)}, "must be distinct"),
    ("zero_seeds", {"num_seeds": 0}, "config.num_seeds=0 must be a positive integer"),
    ("unknown_activation", {"decoder.activation": "sigmoid"},
     "config.decoder.activation='sigmoid' is not allowed"),
    ("batch_above_the_training_set", {"batch_size": 5000},
     "config.batch_size=5000 must be at most 1297"),
    ("eval_every_not_dividing", {"eval_every": 300}, "config.eval_every=300 must divide"),
    ("chunk_not_dividing", {"evaluation.chunk_size": 300},
     "config.evaluation.chunk_size=300 must divide config.evaluation.num_samples=5000"),
    ("checkpoint_every_not_a_multiple", {"checkpoint_every": 750},
     "config.checkpoint_every=750 must be a multiple of config.eval_every=500"),
    ("too_many_mean_field_images", {"mean_field.num_images": 251},
     "config.mean_field.num_images=251 must be at most 250"),
    ("negative_threshold", {"evaluation.active_unit_threshold": -0.01},
     "config.evaluation.active_unit_threshold=-0.01 must be a positive number"),
    ("more_samples_than_test_images", {"two_sample.num_samples": 300},
     "config.two_sample.num_samples=300 must be at most 250, the number of test images"),
)
LIKELIHOOD_VS_SAMPLES_BAD_INPUTS = (
    ("zero_dim", {"dims": (2, 0)}, "config.dims=(2, 0)"),
    ("weight_one", {"signal_weight": 1.0}, "config.signal_weight=1.0 must be a number in (0, 1)"),
    ("zero_variance", {"memorizer_variance": 0.0},
     "config.memorizer_variance=0.0 must be a positive number"),
    ("zero_mode_std", {"target.std": 0.0}, "config.target.std=0.0 must be a positive number"),
    ("neighbours_above_samples", {"two_sample.num_neighbours": 1000},
     "config.two_sample.num_neighbours=1000 must be less than config.two_sample.num_samples=1000"),
    ("zero_classifier_steps", {"two_sample.classifier.num_steps": 0},
     "config.two_sample.classifier.num_steps=0 must be a positive integer"),
    ("tiny_sample_size", {"calibration.sample_sizes": (3, 100)}, "each must be at least 4"),
    ("alpha_zero", {"calibration.alpha": 0.0}, "config.calibration.alpha=0.0 must be a number in"),
    ("unknown_problem", {"calibration.problems": ("mean_shift", "blobs")},
     "config.calibration.problems=('mean_shift', 'blobs'): 'blobs' is not one of:"
     " mean_shift, blob"),
)
ML_COST_BAD_INPUTS = (
    ("no_baseline", {"objectives": ("maximum_likelihood", "minimax")},
     "config.objectives=('maximum_likelihood', 'minimax') must include 'mle'"),
    ("oracle_without_a_density", {"generator.kind": "mlp"},
     "config.oracle=True needs the generator's density"),
    ("zero_discriminator_steps", {"discriminator_step_counts": (1, 0)},
     "config.discriminator_step_counts=(1, 0) must be a non-empty list of positive integers"),
    ("no_discriminator", {"oracle": False, "discriminator_step_counts": ()},
     "config.discriminator_step_counts=() must be a non-empty list of positive integers"),
    ("unknown_objective", {"objectives": ("mle", "wgan")}, "config.objectives=("),
    ("no_cost_reading_the_discriminator", {"objectives": ("mle", "mmd")},
     "config.objectives=('mle', 'mmd') must include a cost that reads the discriminator"),
    ("learning_rate_list", {"generator.learning_rate": (1e-3, 1e-4)},
     "config.generator.learning_rate=(0.001, 0.0001) must be one value in this experiment"),
)


# Every experiment config file, with the bad inputs it must reject. grid.py and the flow
# configs are the GAN sweep with other defaults: they get the cases those defaults touch.
BAD_INPUTS = {
    "ring.py": GAN_SWEEP_BAD_INPUTS,
    "grid.py": tuple(
        case for case in GAN_SWEEP_BAD_INPUTS
        if case[0] in ("unknown_target", "zero_mode_std", "eval_every_not_dividing",
                       "checkpoint_every_not_a_multiple")
    ),
    "ring_flow.py": FLOW_BAD_INPUTS,
    "grid_flow.py": FLOW_BAD_INPUTS[:1],
    "theory.py": THEORY_BAD_INPUTS,
    "iwae_bounds.py": IWAE_BOUNDS_BAD_INPUTS,
    "digits.py": DIGITS_BAD_INPUTS,
    "likelihood_vs_samples.py": LIKELIHOOD_VS_SAMPLES_BAD_INPUTS,
    "ml_cost.py": ML_COST_BAD_INPUTS,
    "ml_cost_flow.py": (
        *(case for case in ML_COST_BAD_INPUTS if case[0] == "oracle_without_a_density"),
        ("flow_latent_not_the_data_dim", {"latent_dim": 1}, "config.latent_dim=1"),
    ),
}


def case_name(config_file: str, case: str) -> str:
  return f"{config_file.removesuffix('.py')}_{case}"


def run_all(workdir: Path) -> None:
  """Runs every case with its workdir ``workdir / <case name>``; prints what each raised."""
  for config_file, cases in BAD_INPUTS.items():
    module = importlib.import_module(f"experiments.configs.{config_file.removesuffix('.py')}")
    for case, overrides, _ in cases:
      name = case_name(config_file, case)
      print(json.dumps({"case": name, "started": True}), flush=True)
      config = module.get_config()
      config.update_from_flattened_dict(overrides)
      try:
        main.run(config, workdir / name)
        error = None
      except ConfigError as raised:
        error = str(raised)
      print(json.dumps({"case": name, "error": error}), flush=True)


if __name__ == "__main__":
  run_all(Path(sys.argv[1]))
