"""The results directory: claimed before anything compiles, written file by file atomically."""

import csv
import io
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING

import jax
import ml_collections
import numpy as np
from jax.experimental import multihost_utils

if TYPE_CHECKING:  # matplotlib takes a second to import; an error line should not wait.
  from matplotlib.figure import Figure

__all__ = [
    "WorkdirError",
    "claim",
    "claim_on_process_0",
    "csv_text",
    "markdown_row",
    "markdown_table",
    "write_atomic",
    "write_figure",
    "write_text",
]

CONFIG_FILE = "config.json"


class WorkdirError(ValueError):
  """The workdir cannot hold this run's results."""


def _config_dict(config: ml_collections.ConfigDict) -> dict:
  # A JSON round trip turns tuples into lists, so it compares like a file read back.
  return json.loads(config.to_json(sort_keys=True))


def claim(
    workdir: str | os.PathLike, config: ml_collections.ConfigDict, outputs: tuple[str, ...],
    overwrite: bool,
) -> Path:
  """Makes ``workdir`` the home of ``config``'s results, or explains why it cannot be.

  A workdir is refused when it holds results of a different config (or results with
  no config.json to tell whose they are), unless ``overwrite`` is set, and when it
  cannot be created or written. A config.json with no other file beside it (a run that
  failed before writing any) does not hold the workdir; with any, they are its results.
  Once claimed, it holds this config's config.json and none of another config's outputs;
  this config's own outputs and checkpoints stay, so that a run can resume.

  Args:
    workdir: the results directory.
    config: the resolved config of this run.
    outputs: the names of the files and directories this run writes.
    overwrite: replace the results of a different config.

  Returns:
    The workdir as a ``Path``.

  Raises:
    WorkdirError: one line naming --workdir and the reason.
  """
  if not str(workdir).strip():
    # Path("") is the current directory: results would land wherever the command ran.
    raise WorkdirError("--workdir is empty: give the directory that receives the results")
  path = Path(workdir)
  try:
    path.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile(dir=path):
      pass
  except OSError as error:
    raise WorkdirError(f"--workdir={workdir} cannot be written: {error.strerror}") from None
  config_path = path / CONFIG_FILE
  if config_path.exists():
    try:
      foreign = json.loads(config_path.read_text()) != _config_dict(config)
    except (OSError, ValueError):
      foreign = True
    # A config.json alone, as a run that failed before its first snapshot leaves it, holds
    # no results; beside any other file, it tells whose they are.
    foreign = foreign and any(f.is_file() and f != config_path for f in path.rglob("*"))
    reason = "results of a different config"
  else:
    foreign = any(_holds_files(path / name) for name in outputs)
    reason = f"results without a {CONFIG_FILE}"
  if foreign and not overwrite:
    raise WorkdirError(
        f"--workdir={workdir} holds {reason}; pass --overwrite to replace them, or choose"
        " another workdir"
    )
  if foreign:
    for name in outputs:
      output = path / name
      if output.is_dir():
        shutil.rmtree(output)
      else:
        output.unlink(missing_ok=True)
  _write_config(path, config)
  return path


def _holds_files(path: Path) -> bool:
  """Whether ``path`` is a file or a directory with a file somewhere inside."""
  return path.is_file() or (path.is_dir() and any(p.is_file() for p in path.rglob("*")))


def claim_on_process_0(
    workdir: str | os.PathLike, config: ml_collections.ConfigDict, outputs: tuple[str, ...],
    overwrite: bool,
) -> Path:
  """:func:`claim` on process 0, the only one that writes; every process learns the outcome.

  Raises:
    WorkdirError: on every process, if process 0 could not claim ``workdir``.
  """
  error = None
  if jax.process_index() == 0:
    try:
      claim(workdir, config, outputs, overwrite)
    except WorkdirError as raised:
      error = raised
  if jax.process_count() > 1 and multihost_utils.broadcast_one_to_all(np.int32(error is not None)):
    error = error or WorkdirError(f"--workdir={workdir} could not be claimed by process 0")
  if error is not None:
    raise error
  return Path(workdir)


def write_atomic(path: Path, write: Callable[[IO[bytes]], None]) -> None:
  """Calls ``write`` on a temporary file beside ``path``, then renames it into place.

  A reader, or a run that dies midway, sees the old file or the whole new one,
  never a part.
  """
  handle = tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", delete=False)
  try:
    with handle:
      write(handle)
    # mkstemp files are private (0600); give the results the umask's usual mode.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(handle.name, 0o666 & ~umask)
    os.replace(handle.name, path)
  except BaseException:
    os.unlink(handle.name)
    raise


def write_figure(path: Path, figure: "Figure") -> None:
  """Writes a matplotlib ``figure`` to ``path`` as a PNG, atomically."""
  write_atomic(path, lambda f: figure.savefig(f, format="png", dpi=110))


def csv_text(header: list[str], rows: Iterable[Iterable[object]]) -> str:
  """A CSV file's text: the header, then the rows, with ``\\n`` line ends."""
  buffer = io.StringIO()
  writer = csv.writer(buffer, lineterminator="\n")
  writer.writerow(header)
  writer.writerows(rows)
  return buffer.getvalue()


def markdown_row(cells: Iterable[object]) -> str:
  """One row of a Markdown table, ``| a | b |``: each cell written by ``str``."""
  return "| " + " | ".join(map(str, cells)) + " |"


def markdown_table(
    header: Sequence[str], rows: Iterable[Iterable[object]], align: str | None = None
) -> str:
  """A Markdown table's text: the header, its rule, then a line per row; no final line end.

  Args:
    header: the column titles.
    rows: the cells of each row, written by ``str``; none gives the header alone, to
      which :func:`markdown_row` lines can follow.
    align: a letter per column, ``"r"`` for right-aligned (``---:``, numbers) or ``"l"``
      for the default (``---``); None: the default everywhere.

  Raises:
    ValueError: if ``align`` has not a letter ``l`` or ``r`` per column.
  """
  align = "l" * len(header) if align is None else align
  if len(align) != len(header) or set(align) - {"l", "r"}:
    raise ValueError(f"align={align!r} needs an 'l' or 'r' for each of {len(header)} columns")
  rule = "|" + "".join("---:|" if a == "r" else "---|" for a in align)
  return "\n".join([markdown_row(header), rule, *map(markdown_row, rows)])


def write_text(path: Path, text: str) -> None:
  """Writes ``text`` to ``path`` atomically."""
  write_atomic(path, lambda f: f.write(text.encode()))


def _write_config(path: Path, config: ml_collections.ConfigDict) -> None:
  """Writes the resolved ``config`` as ``path/config.json``, atomically."""
  write_text(path / CONFIG_FILE, json.dumps(_config_dict(config), indent=2, sort_keys=True) + "\n")
