"""Compares two runs' summary tables cell by cell, in standard errors.

  python -m experiments.compare results/ring/summary.md results/ring_rerun/summary.md

Every cell written ``mean ± standard error`` in a Markdown table (matched by section,
the table's first column's name, the row's label and the column's name, so that a table
that gained a column still matches) is compared, and one that is such an estimate in one
file only counts as infinitely far (with ``--shared``, a rerun of part of a study, it is
left out): ``z = |a - b| / sqrt(se_a^2 +
se_b^2)``. Float32 rounding differs between CPUs and device layouts, and training
amplifies it, so a rerun elsewhere is a fresh draw of each chaotic run: two such tables
agree when every ``z`` is within ``--within`` (3 by default). Prints each cell's ``z``,
the largest first, and exits with status 1 if any is beyond.
"""

import math
import re
import sys
from pathlib import Path

from absl import app, flags

_WITHIN = flags.DEFINE_float("within", 3.0, "Largest |difference| allowed, in standard errors.")
_SHARED = flags.DEFINE_bool(
    "shared", False, "Compare only the cells both files have (a rerun of part of a study).")
_CELL = re.compile(r"^(-?[0-9.]+(?:e[-+]?[0-9]+)?)%? ± ([0-9.]+(?:e[-+]?[0-9]+)?)%?$")


def _is_number(cell: str) -> bool:
  return bool(_CELL.match(cell)) or bool(re.fullmatch(r"-?[0-9.,]+(?:e[-+]?[0-9]+)?%?", cell))


def estimates(text: str) -> dict[tuple[str, ...], tuple[float, float]]:
  """Every ``mean ± stderr`` cell of ``text``'s Markdown tables, by (section, the table's
  first column's name, row label, column): the mean and the standard error. A row's label
  is its cells before the first number (``minimax``; ``maximum_likelihood k=5``)."""
  cells = {}
  section, header = "", None
  lines = text.splitlines()
  for i, line in enumerate(lines):
    if line.startswith("#"):
      section = line.lstrip("#").strip()
    if not line.startswith("|"):
      header = None
      continue
    row = [cell.strip() for cell in line.strip().strip("|").split("|")]
    if header is None:  # A table's first line, followed by its rule.
      if i + 1 < len(lines) and lines[i + 1].startswith("|-"):
        header = row
      continue
    if set(line) <= set("|-: "):
      continue
    label_length = next((i for i, cell in enumerate(row) if i and _is_number(cell)), len(row))
    label = " ".join(row[:label_length])
    for column, cell in zip(header[1:], row[1:]):
      match = _CELL.match(cell)
      if match:
        cells[(section, header[0], label, column)] = tuple(map(float, match.groups()))
  return cells


def z_scores(expected: str, actual: str,
             shared: bool = False) -> list[tuple[float, tuple[str, ...]]]:
  """``(z, cell)`` for every estimate in either text, the largest ``z`` first; a cell that
  is an estimate in one text only (missing, reformatted or NaN in the other) is infinitely
  far, or, if ``shared``, left out."""
  a, b = estimates(expected), estimates(actual)
  scores = [] if shared else [(math.inf, cell) for cell in a.keys() ^ b.keys()]
  for cell in a.keys() & b.keys():
    (mean_a, se_a), (mean_b, se_b) = a[cell], b[cell]
    spread = math.hypot(se_a, se_b)
    z = abs(mean_a - mean_b) / spread if spread else (0.0 if mean_a == mean_b else math.inf)
    scores.append((z, cell))
  return sorted(scores, key=lambda score: -score[0])


def main(argv: list[str]) -> None:
  if len(argv) != 3:
    raise app.UsageError("give two summary files: the expected one, then the rerun")
  try:
    expected, actual = (Path(name).read_text() for name in argv[1:])
  except OSError as error:
    sys.exit(f"error: cannot read {error.filename}: {error.strerror}")
  scores = z_scores(expected, actual, shared=_SHARED.value)
  if not scores:
    sys.exit("error: the two files share no 'mean ± standard error' cell")
  beyond = [score for score in scores if score[0] > _WITHIN.value]
  for z, (section, _, row, column) in scores:
    print(f"{z:6.2f}  {section} | {row} | {column}")
  print(f"{len(scores)} cells compared; {len(beyond)} beyond {_WITHIN.value:g} standard errors")
  if beyond:
    sys.exit(1)


if __name__ == "__main__":
  app.run(main)
