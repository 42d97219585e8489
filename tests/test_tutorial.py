"""The tutorial, docs/tutorial.py, runs to its end and draws every figure.

The tutorial asserts its own numbers against the theory (exact identities, estimates within
a few standard errors), so a library change that breaks one of its claims fails here. It
runs as a reader runs it, a script in a subprocess; that inherits the session's compilation
cache and XLA flags (see conftest.py).
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TUTORIAL = ROOT / "docs" / "tutorial.py"
FIGURES = (
    "1_optimal_discriminator.png",
    "2_generator_costs.png",
    "3_reparameterization.png",
    "4_iwae_bound.png",
    "5_likelihood_vs_samples.png",
)


@pytest.mark.slow
def test_runs_and_draws_every_figure(tmp_path):
  path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
  env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONPATH": path}
  process = subprocess.run(
      [sys.executable, str(TUTORIAL), str(tmp_path)], cwd=ROOT, env=env, capture_output=True,
      text=True, timeout=600,
  )
  assert process.returncode == 0, process.stdout[-2000:] + process.stderr[-4000:]
  assert "tutorial done" in process.stdout
  assert sorted(p.name for p in tmp_path.iterdir()) == sorted(FIGURES)
  for name in FIGURES:
    assert (tmp_path / name).stat().st_size > 10_000, name  # A drawn figure, not an empty one.


def test_is_a_jupytext_percent_notebook():
  """Every cell starts with a ``# %%`` marker, and markdown cells hold only comment lines.

  jupytext reads such a file as a notebook: ``# %% [markdown]`` cells become markdown
  (their ``# `` prefixes stripped), the others code.
  """
  text = TUTORIAL.read_text()
  assert "format_name: percent" in text
  cells = re.split(r"^(?=# %%)", text, flags=re.MULTILINE)
  markdown = [cell for cell in cells if cell.startswith("# %% [markdown]")]
  code = [cell for cell in cells if cell.startswith("# %%\n")]
  assert len(markdown) >= 6 and len(code) >= 10
  assert len(markdown) + len(code) == len(cells) - 1  # The first is the jupytext header.
  for cell in markdown:
    for line in cell.splitlines():
      assert line == "#" or line.startswith("# ") or not line.strip(), line
  for section in range(1, 6):
    assert any(cell.startswith(f"# %% [markdown]\n# ## {section}.") for cell in markdown), section
