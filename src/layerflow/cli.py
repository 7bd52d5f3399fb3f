"""The ``layerflow`` command line: thin, it parses, calls the library and shows progress."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import click

from layerflow._version import __version__


def _json_safe(v: Any) -> Any:
    """NaN and infinities as ``null``: ``--json`` prints strict JSON (no ``NaN`` tokens)."""
    if isinstance(v, dict):
        return {k: _json_safe(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_json_safe(x) for x in v]
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="layerflow")
def cli() -> None:
    """layerflow: what a deep network does to data, layer by layer, as geometry."""


@cli.command()
@click.option("--fetch", "fetch_names", multiple=True, metavar="NAME",
              help="fetch a set into the data cache (mnist, fmnist, cifar10, cifar100); repeat "
                   "for several")
@click.option("--root", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="the data cache folder (default: $LAYERFLOW_DATA, else "
                   "~/.cache/layerflow/data)")
@click.option("--mirror", default=None,
              help="a mirror base URL for --fetch ({set} is replaced by the set's name; default: "
                   "$LAYERFLOW_MIRROR, else the official hosts)")
def datasets(fetch_names: tuple[str, ...], root: Path | None, mirror: str | None) -> None:
    """List the data sets, where each comes from and whether it is cached; --fetch fetches."""
    from rich.console import Console
    from rich.table import Table

    from layerflow._errors import DataError
    from layerflow.data import list_datasets
    from layerflow.data._remote import REMOTE_SETS, cache_status, data_home, fetch

    console = Console()
    for name in fetch_names:
        try:
            with _byte_progress(console) as progress:
                folder = fetch(name, root=root, mirror=mirror, progress=progress)
        except DataError as exc:
            raise click.ClickException(str(exc)) from exc
        console.print(f"{name}: verified in {folder}")
    table = Table(title=f"layerflow data sets (cache: {data_home(root)})")
    for col in ("name", "kind", "comes from", "cached", "description", "example"):
        table.add_column(col)
    for entry in list_datasets():
        cached = "not needed"
        origin = entry.origin
        if entry.remote is not None:
            rs = REMOTE_SETS[entry.remote]
            status = cache_status(rs, root)
            ok = sum(v == "verified" for v in status.values())
            cached = "yes (verified)" if ok == len(status) else (
                f"no ({ok}/{len(status)} files)" if ok or any(
                    v.startswith("partial") for v in status.values()) else "no")
            origin = rs.mirrors[0]
        table.add_row(entry.name, entry.kind, origin, cached, entry.description, entry.example)
    console.print(table)


class _byte_progress:
    """A rich progress bar fed by :func:`layerflow.data._remote.fetch`'s ``progress`` callback."""

    def __init__(self, console: Any) -> None:
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TransferSpeedColumn,
        )

        self.bar = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                            TransferSpeedColumn(), console=console)
        self.tasks: dict[str, Any] = {}

    def __enter__(self) -> Any:
        self.bar.__enter__()

        def update(name: str, done: int, total: int) -> None:
            if name not in self.tasks:
                self.tasks[name] = self.bar.add_task(name, total=total)
            self.bar.update(self.tasks[name], completed=done, total=total)

        return update

    def __exit__(self, *exc: Any) -> None:
        self.bar.__exit__(*exc)


def _echo_report(rep: Any) -> None:
    """The claims (what every report opens with), then where the report is: the findings and
    figures are in the report, not repeated here."""
    if rep.claims:
        click.echo("claims:")
        from layerflow.report._html import estimate_text, p_text

        shown = [c for c in rep.claims if not c.family.endswith("sensitivity")]
        for c in shown:
            tag = "" if c.kind == "claim" else " (check)"
            why = f" — {c.reason}" if c.reason and c.verdict in ("inconclusive", "too few") \
                and estimate_text(c).find("(") < 0 else ""
            click.echo(f"  - [{c.verdict}]{tag} {c.paper}: {c.claim} — {estimate_text(c)}, "
                       f"p (Holm) {p_text(c.p_adjusted)}; {c.counts}{why}")
        if len(shown) < len(rep.claims):
            click.echo(f"  ({len(rep.claims) - len(shown)} sensitivity rows, the same claims at "
                       "other protocols and ks, are in the report)")
    else:
        click.echo("claims: none (the store holds no data any claim can be estimated from)")
    click.echo(f"report: {rep.path} ({len(rep.findings)} findings, {len(rep.figures)} figures)")


def _view_options() -> list[dict[str, Any]]:
    """The options of the views that need no model, read from their declarations
    (:func:`layerflow.views.view_options`, light modules: ``--help`` imports neither NumPy nor
    the views): name, kind, default, help, allowed values and the views owning it."""
    from layerflow.views import VIEW_OPTIONS, view_options

    seen: dict[str, dict[str, Any]] = {}
    for name in VIEW_OPTIONS:
        declared = view_options(name)
        if declared.needs_model:
            continue
        for opt in declared.options:
            if opt.name not in seen:
                allowed = opt.allowed()
                seen[opt.name] = {"name": opt.name, "kind": opt.kind,
                                  "default": opt.shown_default(),
                                  "help": opt.help, "owners": [],
                                  "allowed": None if allowed is None else list(allowed)}
            seen[opt.name]["owners"].append(declared.view)
    return list(seen.values())


def _view_params() -> list[click.Option]:
    """One ``--name`` flag per option of the views that need no model, generated from their
    declarations in :mod:`layerflow.views` (a flag left out keeps the view's default)."""
    params = []
    for opt in _view_options():
        allowed, default = opt["allowed"], opt["default"]
        ptype: Any = {"int": int, "float": float, "bool": bool, "str": str, "ints": str,
                      "strs": str}[opt["kind"]]
        listed = opt["kind"] in ("ints", "strs")
        if allowed is not None and not listed:
            ptype = click.Choice([str(a) for a in allowed])
        if isinstance(default, list):
            default = ",".join(map(str, default))
        extra = " (comma-separated" + (f": {', '.join(map(str, allowed))})" if allowed else ")") \
            if listed else ""
        params.append(click.Option([f"--{opt['name'].replace('_', '-')}", opt["name"]],
                                   type=ptype, default=None, help=f"{opt['help']}{extra} "
                                   f"[{'/'.join(opt['owners'])}; default: {default}]"))
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
    kinds = {o["name"]: o["kind"] for o in _view_options()}
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
              help="print JSON instead of a table, with every view's per-layer values under "
                   "'layers' (undefined values, NaN, as null)")
@click.option("--subsample", type=click.IntRange(min=1), default=None,
              help="analyse a seeded subsample of this many rows (the seed is --subsample-seed; "
                   "both are printed with the results)")
@click.option("--subsample-seed", type=click.IntRange(min=0), default=0,
              help="seed of --subsample [default: 0]")
@click.option("--max-load-gb", type=click.FloatRange(min=0, min_open=True), default=4.0,
              help="largest compressed trajectory read into memory, in GiB [default: 4]; an "
                   "uncompressed one (Trajectory.save(…, compress=False)) is mapped, not read")
def analyze(trajectory: Path, as_json: bool, subsample: int | None, subsample_seed: int,
            max_load_gb: float, **raw: Any) -> None:
    """Every metric of one saved TRAJECTORY (.npz written by Trajectory.save).

    Each view, and inside the transport view the W2 path and the OT score, fails alone with its
    reason; the others are still reported.
    """
    from layerflow._analyze import analyze as run_analysis
    from layerflow._environment import environment
    from layerflow._errors import LayerflowError
    from layerflow._trajectory import Trajectory

    try:
        traj = Trajectory.load(trajectory, max_bytes=int(max_load_gb * (1 << 30)), mmap=True)
    except LayerflowError as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        result = run_analysis(traj, subsample=subsample, subsample_seed=subsample_seed,
                              per_layer=True, **_parse_view_options(raw))
    except LayerflowError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(_json_safe({"trajectory": repr(traj), **result,
                                          "environment": environment()}), indent=2,
                              default=str, allow_nan=False))
        return
    from rich.console import Console
    from rich.table import Table

    from layerflow.report._format import format_number

    console = Console()
    console.print(repr(traj))
    for section, values in result.items():
        table = Table(title=section)
        table.add_column("metric")
        table.add_column("value", justify="right")
        for key, val in values.items():
            if key != "layers":
                table.add_row(key, format_number(val))
        console.print(table)
        rows = values.get("layers") or []
        if rows:
            per = Table(title=f"{section}: per layer")
            for col in ("layer", "layer_name", "metric", "k", "value"):
                per.add_column(col, justify="right" if col in ("layer", "k", "value") else "left")
            for r in rows:
                per.add_row(*(format_number(r[c]) for c in
                              ("layer", "layer_name", "metric", "k", "value")))
            console.print(per)


@cli.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def report(directory: Path) -> None:
    """(Re)build DIRECTORY/report.html and its PNG figures from the results store there."""
    from layerflow._errors import DataError
    from layerflow.report import load_input, render_report

    try:
        rep = render_report(load_input(directory), directory)
    except DataError as exc:
        raise click.ClickException(str(exc)) from exc
    _echo_report(rep)


class _RunCommand(click.Command):
    """``run --help`` ends with the built-in studies, one line each (read from their YAML)."""

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        from layerflow._studies import builtin_configs, study_description

        rows = [(name, study_description(path)) for name, path in builtin_configs().items()]
        if rows:
            with formatter.section("Built-in studies (layerflow run NAME)"):
                formatter.write_dl(rows)
        super().format_epilog(ctx, formatter)


@cli.command(cls=_RunCommand)
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
@click.option("--fetch-data", is_flag=True,
              help="fetch the papers' data sets the config names (MNIST, Fashion-MNIST, CIFAR) "
                   "into the data cache first, so they run instead of their substitutes")
def run(config: str, out: Path | None, backend: str | None, address: str | None,
        workers: int | None, print_config: bool, no_report: bool, fetch_data: bool) -> None:
    """Run a study: CONFIG is a YAML file or a built-in study's name (default: `default`).

    Finished networks in the output folder are skipped, so an interrupted run resumes. A data
    set the config names that must be fetched (MNIST, Fashion-MNIST, CIFAR) is fetched into the
    data cache first, unless the entry has a substitute, which runs instead while the data set
    is not in the cache (--fetch-data fetches it).
    """
    from rich.console import Console
    from rich.progress import Progress

    from layerflow._errors import ConfigError, DataError
    from layerflow._progress import count_columns
    from layerflow._studies import builtin_configs
    from layerflow.sweep import load_config, run_sweep

    if config == "default" and "default" not in builtin_configs():
        config = "paper-ricci"
    from layerflow.data._provenance import fetch_entries, uncached_entries

    console = Console(stderr=True)
    try:
        if fetch_data:
            with _byte_progress(console) as fetch_bar:
                cfg = load_config(config, fetch_data=True, progress=fetch_bar)
        else:
            cfg = load_config(config)
        missing = [] if print_config else uncached_entries(cfg.datasets)
        if missing:  # the papers' data sets this config names: fetched before anything trains
            with _byte_progress(console) as fetch_bar:
                fetch_entries(missing, progress=fetch_bar)
    except (ConfigError, DataError) as exc:
        raise click.ClickException(str(exc)) from exc
    if print_config:
        click.echo(cfg.to_yaml(), nl=False)
        return
    with Progress(*count_columns(rate=True), console=console, transient=False) as bar:
        tid = bar.add_task(f"{cfg.name}: networks", total=None, rate="")

        def progress(p: Any) -> None:
            bar.update(tid, total=p.networks_total, completed=p.networks_done,
                       rate=f"{p.rate:.2f} nets/s  tasks {p.tasks_done}/{p.tasks_total}")

        try:
            result = run_sweep(cfg, out, backend=backend, workers=workers, address=address,
                               progress=progress)
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from exc
    done = ", ".join(f"{v} {k}" for k, v in sorted(result.statuses.items())) or "nothing new"
    click.echo(f"{result.n_runs} networks ({result.n_skipped} already done; {done}) in "
               f"{result.seconds:.1f} s -> {result.out}")
    if result.n_failed:
        click.echo(f"{result.n_failed} failed; run the same command again to retry them", err=True)
    if not no_report:
        try:
            from layerflow.report import load_input, render_report
        except ImportError:
            return
        try:
            rep = render_report(load_input(result.out), result.out)
        except DataError as exc:
            raise click.ClickException(f"no report: {exc}") from exc
        _echo_report(rep)


def main() -> None:
    cli(prog_name="layerflow")


if __name__ == "__main__":  # pragma: no cover
    main()
