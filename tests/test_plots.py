"""Tests for experiments.plots on small hand-made arrays: every figure reads alone (a title,
labelled axes, a key), and the samples figure marks diverged runs and counts what it cannot
show."""

import collections
import io
import math

import numpy as np
from absl.testing import absltest, parameterized

from experiments import plots

MODES = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]])  # Frame: |x| <= 2.1.
DATA = np.zeros((10, 2))
Gaussian = collections.namedtuple("Gaussian", ["mean", "log_std"])


def texts(ax) -> list[str]:
  return [text.get_text() for text in ax.texts]


def renders(figure) -> bool:
  """Whether ``figure`` draws to a PNG, as the experiments write it."""
  buffer = io.BytesIO()
  figure.savefig(buffer, format="png", dpi=40)
  return buffer.getvalue().startswith(b"\x89PNG")


def samples(num_seeds: int = 2, n: int = 5) -> np.ndarray:
  return np.zeros((num_seeds, n, 2))


class SamplesFigureTest(absltest.TestCase):

  def test_a_diverged_run_says_so_and_when(self):
    points = samples()
    points[1] = np.nan
    figure = plots.samples_figure(
        {"minimax": points}, [0, 1], DATA, MODES, {"minimax": np.array([-1, 137])}, title="t"
    )
    healthy, diverged = figure.axes[:2]
    self.assertIn("diverged at step 137", texts(diverged))
    self.assertIn("0 of 5 off frame\n5 not finite", texts(diverged))
    self.assertFalse(any("diverged" in text for text in texts(healthy)))
    self.assertTrue(renders(figure))

  def test_samples_that_are_not_finite_mark_the_run_diverged_without_a_step(self):
    points = samples()
    points[0] = np.nan
    figure = plots.samples_figure({"minimax": points}, [0, 1], DATA, MODES, title="t")
    self.assertIn("diverged", texts(figure.axes[0]))

  def test_counts_the_samples_off_the_frame(self):
    points = np.array([[[0.0, 0.0], [3.0, 0.0], [0.0, -2.2], [2.0, 2.0], [np.nan, np.nan]]])
    figure = plots.samples_figure({"minimax": points}, [0], DATA, MODES, title="t")
    self.assertIn("2 of 5 off frame\n1 not finite", texts(figure.axes[0]))

  def test_counts_with_thousands_separators(self):
    points = np.zeros((1, 2500, 2))
    points[0, :12] = 50.0
    figure = plots.samples_figure({"minimax": points}, [0], DATA, MODES, title="t")
    self.assertIn("12 of 2,500 off frame", texts(figure.axes[0]))

  def test_title_labels_and_key(self):
    figure = plots.samples_figure(
        {"minimax": samples(), "non_saturating": samples()}, [3, 4], DATA, MODES,
        title="GAN sweep: final samples at step 20\nring target",
    )
    self.assertIn("step 20", figure.get_suptitle())
    panels = figure.axes
    self.assertEqual([ax.get_title() for ax in panels],
                     ["minimax, seed 3", "minimax, seed 4", "non_saturating, seed 3",
                      "non_saturating, seed 4"])
    self.assertTrue(panels[2].get_xlabel() and panels[3].get_xlabel())  # The bottom row.
    self.assertTrue(panels[0].get_ylabel() and panels[2].get_ylabel())  # The first column.
    key = [text.get_text() for text in figure.legends[0].get_texts()]
    self.assertEqual(key, ["data (10 target samples)", "minimax's samples",
                           "non_saturating's samples", "the target's 4 modes"])
    self.assertTrue(renders(figure))


class CurvesFigureTest(absltest.TestCase):

  def curves(self, names, objectives=("minimax", "non_saturating")):
    steps = np.array([0, 10, 20])
    line = (np.array([1.0, 2.0, 3.0]), np.array([0.1, 0.1, 0.1]))
    return steps, {name: {objective: line for objective in objectives} for name in names}

  def test_each_objective_cost_gets_its_own_panel(self):
    steps, curves = self.curves(("high_quality", "generator_loss"))
    figure = plots.curves_figure(steps, curves, plots.GAN_METRIC_PANELS, 4, title="GAN sweep")
    visible = [ax for ax in figure.axes if ax.get_visible()]
    self.assertEqual([ax.get_title() for ax in visible],
                     ["high-quality samples (%)", "generator cost: minimax",
                      "generator cost: non_saturating"])
    self.assertLen(visible[1].get_lines(), 1)
    self.assertLen(visible[0].get_lines(), 2)
    self.assertIn("%", visible[0].get_ylabel())
    self.assertIn("over 4 seeds", figure.get_suptitle())
    self.assertTrue(renders(figure))

  def test_every_gan_metric_has_a_title_and_labelled_axes(self):
    steps, curves = self.curves(tuple(plots.GAN_METRIC_PANELS))
    figure = plots.curves_figure(steps, curves, plots.GAN_METRIC_PANELS, 2, title="GAN sweep")
    for ax in figure.axes:
      if ax.get_visible():
        self.assertTrue(ax.get_title() and ax.get_xlabel() and ax.get_ylabel(), ax.get_title())
    self.assertEqual([t.get_text() for t in figure.legends[0].get_texts()],
                     ["minimax", "non_saturating"])

  def test_a_panel_of_diverged_runs_says_why_it_is_empty(self):
    steps = np.array([0, 10, 20])
    nan = np.full(3, np.nan)
    curves = {"mmd2": {"minimax": (nan, nan)},
              "modes": {"minimax": (np.array([1.0, np.nan, np.nan]), nan)}}
    figure = plots.curves_figure(steps, curves, plots.GAN_METRIC_PANELS, 2, title="t")
    self.assertEqual(texts(figure.axes[0]), ["no finite values:\nevery run diverged"])
    self.assertEqual(texts(figure.axes[1]), [])
    self.assertLessEqual(figure.axes[1].get_xlim()[0], 0)  # The whole run, though it ended.
    self.assertGreaterEqual(figure.axes[1].get_xlim()[1], 20)

  def test_a_symlog_panel_within_a_decade_has_ticks_to_read(self):
    steps = np.array([0, 10, 20])
    curves = {"nll": {"mle": (np.array([3.7, 3.8, 4.1]), np.array([0.01, 0.01, 0.01]))}}
    figure = plots.curves_figure(steps, curves, plots.GAN_METRIC_PANELS, 2, title="t")
    ax = figure.axes[0]
    figure.canvas.draw()
    low, high = ax.get_ylim()
    self.assertGreaterEqual(sum(low <= tick <= high for tick in ax.get_yticks()), 2)
    self.assertIn("symmetric log scale", ax.get_ylabel())


class TitleTest(absltest.TestCase):

  def test_a_long_title_wraps_to_the_figure(self):
    figure = plots.power_figure(
        [10], {("p", 10, "null", "mmd"): 0.0, ("p", 10, "alternative", "mmd"): 0.5}, 0.05,
        (0.0, 0.2), panels={"p": "problem"}, title="word " * 60)
    lines = figure.get_suptitle().split("\n")
    self.assertGreater(len(lines), 1)
    self.assertLess(max(map(len, lines)), 100)


def _figure(name: str):
  """Figure ``name``, of the functions not tested above, on small arrays."""
  ks, dims, sizes = [1, 10, 100], [1, 2, 4], np.array([10, 100, 1000])
  falling = np.array([1.0, 0.3, 0.1])
  errors = Gaussian(np.stack([falling, falling], 1), np.stack([falling, falling], 1))
  quantities = ("log_likelihood_per_dim", "classifier_accuracy", "precision", "recall",
                "mmd_p_value")
  builders = {
      "errors": lambda: plots.errors_figure(
          ("minimax", "non_saturating"), sizes, {"pathwise": errors, "score_function": errors},
          {"pathwise": errors, "score_function": errors}, title="theory"),
      "cost_curves": lambda: plots.cost_curves_figure(
          ("minimax",), np.linspace(0.01, 0.99, 20), np.ones((1, 20)), np.ones((1, 20)),
          title="theory"),
      "gradient_share": lambda: plots.gradient_share_figure(
          {"minimax": (np.full(10, 0.1), np.full(10, 0.01))},
          {"minimax": (np.linspace(0.01, 1.0, 100), np.full(100, 0.01))}, 3, title="GAN sweep"),
      "bounds": lambda: plots.bounds_figure(
          ks, {k: (-5.0 - 1.0 / k, 0.01) for k in ks}, -5.0, title="IWAE bounds"),
      "snr": lambda: plots.snr_figure(
          ks, {(estimator, part, "bias"): falling for estimator in ("reparameterized", "dreg")
               for part in ("decoder", "encoder")}, 0.02, title="IWAE bounds"),
      "estimator_variance": lambda: plots.estimator_variance_figure(
          dims, {(covariance, estimator, "mean"): falling for covariance in ("diagonal", "full")
                 for estimator in ("pathwise", "score_function")}, title="IWAE bounds"),
      "likelihood_vs_samples": lambda: plots.likelihood_vs_samples_figure(
          [2, 10], {(q, m): np.array([[0.5, 0.1], [0.6, 0.1]]) for q in quantities
                    for m in ("data", "memorizer")}, math.log(0.01), title="likelihood"),
      "power": lambda: plots.power_figure(
          [25, 50], {(p, n, h, t): 0.05 for p in ("shift", "blob") for n in (25, 50)
                     for h in ("null", "alternative") for t in ("mmd", "classifier")},
          0.05, (0.0, 0.1), panels={"shift": "a shift", "blob": "Blob"}, title="calibration"),
  }
  return builders[name]()


class EveryFigureTest(parameterized.TestCase):

  @parameterized.parameters("cost_curves", "gradient_share", "bounds", "snr",
                            "estimator_variance", "likelihood_vs_samples", "power")
  def test_reads_alone(self, name):
    figure = _figure(name)
    self.assertTrue(figure.get_suptitle())
    for ax in figure.axes:
      self.assertTrue(ax.get_xlabel(), name)
      self.assertTrue(ax.get_title(), name)
    # The variance and power panels share their y axis, labelled once.
    self.assertTrue(figure.axes[0].get_ylabel(), name)
    if name not in ("estimator_variance", "power"):
      self.assertTrue(all(ax.get_ylabel() for ax in figure.axes), name)
    self.assertTrue(any(ax.get_legend() for ax in figure.axes), name)  # A key.
    self.assertTrue(renders(figure))

  def test_errors_label_every_row_and_the_bottom(self):
    figure = _figure("errors")
    self.assertTrue(figure.get_suptitle())
    self.assertTrue(figure.axes[0].get_legend())
    axes = np.array(figure.axes).reshape(2, 2)
    self.assertTrue(all(ax.get_ylabel() for ax in axes[:, 0]))
    self.assertTrue(all(ax.get_xlabel() for ax in axes[-1]))
    self.assertTrue(all(ax.get_title() for ax in axes.flat))


class ImageGridFigureTest(absltest.TestCase):

  def test_blocks_titles_key_and_a_diverged_block(self):
    good = np.linspace(0.0, 1.0, 2 * 16).reshape(2, 16)
    figure = plots.image_grid_figure(
        {"k = 1": good, "k = 5": np.full((2, 16), np.nan)}, side=4, columns=8, stacked=False,
        title="VAEs at step 200", key="pixel probability of ink",
    )
    blocks, bar = figure.axes[:2], figure.axes[-1]
    self.assertEqual([ax.get_title() for ax in blocks], ["k = 1", "k = 5"])
    self.assertEqual(texts(blocks[0]), [])
    self.assertEqual(texts(blocks[1]), ["diverged: pixels not finite"])
    self.assertEqual(bar.get_xlabel(), "pixel probability of ink")
    # At most as many columns as the largest block has images: no blank tiles.
    self.assertEqual(blocks[0].get_images()[0].get_array().shape, (6, 12))
    self.assertIn("step 200", figure.get_suptitle())
    self.assertTrue(renders(figure))


if __name__ == "__main__":
  absltest.main()
