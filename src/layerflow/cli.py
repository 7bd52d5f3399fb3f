"""The ``layerflow`` command line: thin, it parses, calls the library and shows progress."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import click

from layerflow._version import __version__


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        return f"{v:.6g}"
    return str(v)


def _json_safe(v: Any) -> Any:
    """NaN and infinities as ``null``: ``--json`` prints strict JSON (no ``NaN`` tokens)."""
    if isinstance(v, dict):
        return {k: _json_safe(x) for k, x in v.items()}
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="layerflow")
def cli() -> None:
    """layerflow: what a deep network does to data, layer by layer, as geometry."""


@cli.command()
def datasets() -> None:
    """List the built-in and local data sets and how to name them."""
    from rich.console import Console
    from rich.table import Table

    from layerflow.data import list_datasets

    table = Table(title="layerflow data sets (nothing is downloaded)")
    for col in ("name", "kind", "description", "example"):
        table.add_column(col)
    for entry in list_datasets():
        table.add_row(entry.name, entry.kind, entry.description, entry.example)
    Console().print(table)


def _echo_report(rep: Any) -> None:
    """The claims table first, then the detailed findings (what every report opens with)."""
    if rep.claims:
        click.echo("claims:")
        from layerflow.report.html import estimate_text, p_text

        for c in rep.claims:
            tag = "" if c.kind == "claim" else " (check)"
            click.echo(f"  - [{c.verdict}]{tag} {c.paper}: {c.claim} — {estimate_text(c)}, "
                       f"p (Holm) {p_text(c.p_adjusted)}; {c.counts}")
    if rep.findings:
        click.echo("findings:")
        for f in rep.findings:
            click.echo(f"  - {f.text}")


def _view_params() -> list[click.Option]:
    """One ``--name`` flag per option of the views that need no model, generated from their
    declarations in :mod:`layerflow.views` (a flag left out keeps the view's default)."""
    from layerflow.ricci.view import DEFAULT_K
    from layerflow.views import VIEWS, get_view

    seen: dict[str, Any] = {}
    for name in VIEWS:
        view = get_view(name)
        if view.needs_model:
            continue
        for opt in view.options:
            seen.setdefault(opt.name, (opt, []))[1].append(view.name)
    params = []
    for opt, owners in seen.values():
        allowed = opt.allowed()
        ptype: Any = {"int": int, "float": float, "bool": bool, "str": str, "ints": str,
                      "strs": str}[opt.kind]
        listed = opt.kind in ("ints", "strs")
        if allowed is not None and not listed:
            ptype = click.Choice([str(a) for a in allowed])
        default = DEFAULT_K if opt.name == "k" and opt.default is None else opt.default
        if isinstance(default, list):
            default = ",".join(map(str, default))
        extra = " (comma-separated" + (f": {', '.join(map(str, allowed))})" if allowed else ")") \
            if listed else ""
        params.append(click.Option([f"--{opt.name.replace('_', '-')}", opt.name], type=ptype,
                                   default=None, help=f"{opt.help}{extra} "
                                   f"[{'/'.join(owners)}; default: {default}]"))
    return params


class _ViewCommand(click.Command):
    """A command whose view flags are generated on first use, so ``layerflow --help`` and
    ``layerflow run`` do not import the views' modules just to list them."""

    def get_params(self, ctx: click.Context) -> list[click.Parameter]:
        if not getattr(self, "_views_added", False):
            self.params[1:1] = _view_params()
            self._views_added = True
        return super().get_params(ctx)


def _parse_view_options(raw: dict[str, Any]) -> dict[str, Any]:
    from layerflow.views import VIEWS, get_view

    kinds = {o.name: o.kind for n in VIEWS for o in get_view(n).options}
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if value is None:
            continue
        if kinds.get(key) == "ints":
            try:
                value = [int(v) for v in str(value).split(",") if v.strip()]
            except ValueError as exc:
                raise click.BadParameter(f"{value!r}: expected integers separated by commas",
                                         param_hint=f"--{key}") from exc
        elif kinds.get(key) == "strs":
            value = [v.strip() for v in str(value).split(",") if v.strip()]
        out[key] = value
    return out


@cli.command(cls=_ViewCommand)
@click.argument("trajectory", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True,
              help="print JSON instead of a table (undefined values, NaN, as null)")
def analyze(trajectory: Path, as_json: bool, **raw: Any) -> None:
    """Every metric of one saved TRAJECTORY (.npz written by Trajectory.save)."""
    from layerflow.analyze import analyze as run_analysis
    from layerflow.errors import LayerflowError
    from layerflow.trajectory import Trajectory, TrajectoryError

    try:
        traj = Trajectory.load(trajectory)
    except TrajectoryError as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        result = run_analysis(traj, **_parse_view_options(raw))
    except LayerflowError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(_json_safe({"trajectory": repr(traj), **result}), indent=2,
                              default=_fmt, allow_nan=False))
        return
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(repr(traj))
    for section, values in result.items():
        table = Table(title=section)
        table.add_column("metric")
        table.add_column("value", justify="right")
        for key, val in values.items():
            table.add_row(key, _fmt(val))
        console.print(table)


@cli.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def report(directory: Path) -> None:
    """(Re)build DIRECTORY/report.html and its PNG figures from the results store there."""
    from layerflow.report import ReportError, load_input, render_report

    try:
        rep = render_report(load_input(directory), directory)
    except ReportError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"report: {rep.path}")
    for name, path in rep.figures.items():
        click.echo(f"  figure {name}: {path}")
    for name, why in rep.skipped.items():
        click.echo(f"  figure {name} skipped: {why}")
    _echo_report(rep)


@cli.command()
@click.argument("config", required=False, default="default")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="output folder (default: the config's `out`, else results/<name>)")
@click.option("--backend", type=click.Choice(["local", "dask", "ray", "serial"]), default=None,
              help="where the networks train (default: the config's backend, local)")
@click.option("--address", default=None, help="Dask scheduler / Ray cluster address")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="worker processes (default: the number of cores)")
@click.option("--print-config", is_flag=True, help="print the resolved YAML config and exit")
@click.option("--no-report", is_flag=True, help="do not build the HTML report afterwards")
def run(config: str, out: Path | None, backend: str | None, address: str | None,
        workers: int | None, print_config: bool, no_report: bool) -> None:
    """Run a sweep: CONFIG is a YAML file or a built-in name (default: `default`).

    Finished networks in the output folder are skipped, so an interrupted run resumes.
    """
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from layerflow.sweep import BackendError, ConfigError, builtin_configs, load_config, run_sweep

    if config == "default" and "default" not in builtin_configs():
        config = "paper-ricci"
    try:
        cfg = load_config(config)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    if print_config:
        click.echo(cfg.to_yaml(), nl=False)
        return
    console = Console(stderr=True)
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TextColumn("ETA"),
               TimeRemainingColumn())
    with Progress(*columns, console=console, transient=False) as bar:
        tid = bar.add_task(f"{cfg.name}: networks", total=None, rate="")

        def progress(p: Any) -> None:
            bar.update(tid, total=p.networks_total, completed=p.networks_done,
                       rate=f"{p.rate:.2f} nets/s  tasks {p.tasks_done}/{p.tasks_total}")

        try:
            result = run_sweep(cfg, out, backend=backend, workers=workers, address=address,
                               progress=progress)
        except (ConfigError, BackendError) as exc:
            raise click.ClickException(str(exc)) from exc
    done = ", ".join(f"{v} {k}" for k, v in sorted(result.statuses.items())) or "nothing new"
    click.echo(f"{result.n_runs} networks ({result.n_skipped} already done; {done}) in "
               f"{result.seconds:.1f} s -> {result.out}")
    if result.n_failed:
        click.echo(f"{result.n_failed} failed; run the same command again to retry them", err=True)
    if not no_report:
        try:
            from layerflow.report import ReportError, load_input, render_report
        except ImportError:
            return
        try:
            rep = render_report(load_input(result.out), result.out)
        except ReportError as exc:
            raise click.ClickException(f"no report: {exc}") from exc
        click.echo(f"report: {rep.path}")
        _echo_report(rep)


def main() -> None:
    cli(prog_name="layerflow")


if __name__ == "__main__":  # pragma: no cover
    main()
