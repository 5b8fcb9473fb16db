"""`hotline router train|predict|eval`: the 智能派单 router from the command line.

A centre trains the router on its own history (a CSV export of past orders with the category
each one was finally handled under) and points the app at the folder with HOTLINE_ROUTER_DIR.
Without `--model`, `predict` and `eval` use the router the app uses: that folder, else the
router trained from the responsibility table in the work-order configuration.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from workorders.router_model import Embedder, Router, RouterUnavailable

if TYPE_CHECKING:
    import numpy as np

    from hotline.settings import Settings

app = typer.Typer(
    help="智能派单: route requests to a category and department.", no_args_is_help=True
)
console = Console()
err = Console(stderr=True)

ModelOpt = Annotated[
    Path | None,
    typer.Option(
        "--model",
        help="trained router folder (default: the app's, HOTLINE_ROUTER_DIR, else the table)",
    ),
]
CsvOpt = Annotated[Path, typer.Option("--csv", exists=True, dir_okay=False, help="UTF-8 CSV")]
TextCol = Annotated[str, typer.Option("--text-col", help="column with the request text")]
LabelCol = Annotated[str, typer.Option("--label-col", help="column with the category")]


@dataclass
class Rows:
    texts: list[str]
    labels: list[str]
    skipped: int


def read_rows(path: Path, text_col: str, label_col: str) -> Rows:
    """Text/label pairs of a CSV (BOM or not); a row without either is reported and skipped."""
    texts: list[str] = []
    labels: list[str] = []
    skipped = 0
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        missing = {text_col, label_col} - set(reader.fieldnames or ())
        if missing:
            raise typer.BadParameter(
                f"{path} has no column {', '.join(sorted(missing))} "
                f"(columns: {', '.join(reader.fieldnames or ())})"
            )
        line = reader.line_num  # the header's last line
        for row in reader:
            first, line = line + 1, reader.line_num  # a quoted field may span lines
            text = (row.get(text_col) or "").strip()
            label = (row.get(label_col) or "").strip()
            if not text or not label:
                what = "text" if not text else "label"
                typer.echo(f"{path}:{first}: missing {what}, row skipped", err=True)
                skipped += 1
                continue
            texts.append(text)
            labels.append(label)
    return Rows(texts, labels, skipped)


def _settings() -> Settings:
    from hotline.settings import get_settings

    return get_settings()


def _default_out() -> Path:
    settings = _settings()
    return settings.router_dir or settings.var_dir / "router"


def _embedder() -> Embedder:
    import torch

    from hotline.settings import model_paths

    settings = _settings()
    torch.set_num_threads(settings.embedding_threads)
    return Embedder(model_paths(settings))


def _router(model: Path | None) -> Router:
    from workorders.config import default_config
    from workorders.router_source import configured_router

    try:
        if model is not None:
            return Router.load(model, _embedder())
        return configured_router(_settings(), default_config(), _embedder())
    except RouterUnavailable as exc:
        hint = "--model" if model is not None else "HOTLINE_ROUTER_DIR"
        raise typer.BadParameter(str(exc), param_hint=hint) from exc


def _embed_with_bar(embedder: Embedder, texts: list[str]) -> np.ndarray:
    with Progress(console=err, transient=True) as bar:
        task = bar.add_task(f"embedding {len(texts)} texts", total=len(texts))
        return embedder.encode(texts, progress=lambda n: bar.advance(task, n))


def _metrics_table(per_class: dict[str, dict[str, float]]) -> Table:
    table = Table()
    for col in ("label", "precision", "recall", "F1", "n"):
        table.add_column(col, justify="left" if col == "label" else "right")
    for label, m in per_class.items():
        table.add_row(label, f"{m['precision']:.3f}", f"{m['recall']:.3f}", f"{m['f1']:.3f}",
                      str(int(m["support"])))  # fmt: skip
    return table


@app.command()
def train(
    csv_path: CsvOpt,
    text_col: TextCol,
    label_col: LabelCol,
    out: Annotated[
        Path | None,
        typer.Option(help="where to save (default: HOTLINE_ROUTER_DIR, else var/router)"),
    ] = None,
) -> None:
    """Train on a CSV of past requests; report held-out metrics; save model and metadata."""
    rows = read_rows(csv_path, text_col, label_col)
    if not rows.texts:
        err.print("no usable rows")
        raise typer.Exit(2)
    router = Router(_embedder())
    emb = _embed_with_bar(router.embedder, rows.texts)
    try:
        described = f"{csv_path.name} ({text_col} → {label_col})"
        report = router.train(rows.texts, rows.labels, embeddings=emb, description=described)
    except ValueError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    console.print(_metrics_table(report.per_class))
    console.print(report.format().splitlines()[-2])
    console.print(report.format().splitlines()[-1])
    folder = router.save(out or _default_out()).resolve()
    console.print(f"saved to {folder} ({len(rows.texts)} rows, {rows.skipped} skipped)")
    if folder == _settings().router_dir:
        console.print("the app routes with it from its next start")
    else:
        console.print(f"the app routes with it once HOTLINE_ROUTER_DIR={folder} (then restart it)")


@app.command()
def predict(text: str, model: ModelOpt = None) -> None:
    """Category, department, confidence, gate and top 3 for one request."""
    from workorders.config import default_config
    from workorders.routing import route

    routing = route(text, _router(model), default_config())
    if routing.emergency:
        console.print(f"[bold red]emergency: call {routing.emergency} now[/bold red]")
    console.print(f"label: {routing.category}  department: {routing.department}")
    console.print(f"confidence: {routing.confidence:.3f}  gate: {routing.gate}")
    if routing.district:
        console.print(f"district: {routing.district}")
    console.print("top3: " + ", ".join(f"{lab} {p:.3f}" for lab, p in routing.top3))


@app.command("eval")
def evaluate_csv(csv_path: CsvOpt, text_col: TextCol, label_col: LabelCol,
                 model: ModelOpt = None) -> None:  # fmt: skip
    """Score a router on a labelled CSV: per-class metrics and how each gate band fares."""
    from workorders.routing import evaluate

    rows = read_rows(csv_path, text_col, label_col)
    if not rows.texts:
        err.print("no usable rows")
        raise typer.Exit(2)
    router = _router(model)
    emb = _embed_with_bar(router.embedder, rows.texts)
    result = evaluate(rows.labels, router.predict(rows.texts, embeddings=emb), router.thresholds)
    console.print(_metrics_table(result["per_class"]))
    console.print(f"macro-F1 {result['macro_f1']:.3f}   accuracy {result['accuracy']:.3f}   "
                  f"({len(rows.texts)} rows, {rows.skipped} skipped)")  # fmt: skip
    for gate, m in result["gates"].items():
        prec = "-" if m["precision"] is None else f"{m['precision']:.3f}"
        console.print(f"{gate:<8} {m['share']:6.1%} of rows, precision {prec}")
