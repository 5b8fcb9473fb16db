"""`hotline kb import|search|stats|calibrate`."""

from __future__ import annotations

import dataclasses
from collections import Counter
from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich.console import Console
from rich.progress import track
from rich.table import Table

from hotline import db
from hotline.settings import PROJECT_ROOT, get_settings, model_paths
from knowledge import decision, rerank, store
from knowledge.embedding_model import model_label
from knowledge.evaluation import label, load_questions
from knowledge.loaders import LoadResult, load_path
from knowledge.service import (
    RERANKER,
    THRESHOLDS,
    KnowledgeService,
    get_service,
    import_sample_if_empty,
)

# What `kb calibrate` tunes on by default: the KB's own development set and the tune split of the
# consultation benchmark (citizens' wording). The benchmark's test split is never tuned on.
DEV_SETS = [
    PROJECT_ROOT / "knowledge" / "eval" / "dev.yml",
    PROJECT_ROOT / "bench" / "data" / "consult" / "tune",
]

app = typer.Typer(help="The knowledge base.", no_args_is_help=True)
console = Console()


def _service() -> KnowledgeService:
    """The service over the configured database (schema current, sample KB if it is empty)."""
    settings = get_settings()
    db.upgrade(settings.database_url)
    import_sample_if_empty(settings.database_url)
    return get_service(settings)


@app.command("import")
def kb_import(
    paths: Annotated[list[Path], typer.Argument(help="YAML/CSV/XLSX/TXT/MD files or folders")],
    kind: Annotated[str, typer.Option(help="auto | faq | documents")] = "auto",
    mapping: Annotated[
        Path | None, typer.Option(help="YAML file: our field -> the table's column header")
    ] = None,
    domain: Annotated[str | None, typer.Option(help="domain for entries that name none")] = None,
    embed: Annotated[bool, typer.Option(help="compute embeddings now (warms the cache)")] = True,
) -> None:
    """Import knowledge; a file's entries replace its previous ones. Running apps reload."""
    if kind not in ("auto", "faq", "documents"):
        raise typer.BadParameter("must be auto, faq or documents", param_hint="--kind")
    columns = yaml.safe_load(mapping.read_text()) if mapping else None
    defaults = {"domain": domain} if domain else None
    settings = get_settings()
    db.upgrade(settings.database_url)
    results: list[LoadResult] = []
    for path in track(paths, description="reading", console=console):
        if not path.exists():
            console.print(f"[red]{path}: no such file or folder[/red]")
            raise typer.Exit(2)
        results += load_path(path, kind, columns, defaults)
    report = store.import_results(settings.database_url, results)
    for problem in report.problems + report.conflicts:
        console.print(f"[yellow]skipped[/yellow] {problem}")
    console.print(
        f"added {report.added}, updated {report.updated}, unchanged {report.unchanged}, "
        f"removed {report.removed}; {len(report.problems) + len(report.conflicts)} problems; "
        f"KB version {store.version(settings.database_url)}"
    )
    if embed and report.changed:
        service = get_service(settings)
        service.refresh()
        console.print(f"index ready: {len(service.refresh().entries)} entries valid today")
    if report.problems or report.conflicts:
        raise typer.Exit(1)


@app.command("search")
def kb_search(
    question: Annotated[str, typer.Argument()],
    k: Annotated[int, typer.Option(min=1, max=20)] = 5,
) -> None:
    """Search the knowledge base as the bot does and show the decision."""
    outcome = _service().search(question, k=k)
    table = Table(title=f"decision: {outcome.decision}")
    for col in ("score", "id", "question", "matched"):
        table.add_column(col)
    for r in outcome.results:
        table.add_row(f"{r.score:.3f}", r.entry.id, r.entry.question, r.matched)
    console.print(table)


@app.command("stats")
def kb_stats() -> None:
    """Entries by domain, and how many are served today."""
    settings = get_settings()
    service = _service()
    entries = store.all_entries(settings.database_url)
    today = service.today()
    valid = sum(e.valid_on(today) for e in entries)
    table = Table(title=f"KB version {store.version(settings.database_url)}")
    table.add_column("domain")
    table.add_column("entries", justify="right")
    for name, n in sorted(Counter(e.domain or "-" for e in entries).items()):
        table.add_row(name, str(n))
    console.print(table)
    kinds = Counter(e.kind for e in entries)
    console.print(
        f"{len(entries)} entries ({kinds['faq']} FAQ, {kinds['passage']} passages), "
        f"{valid} valid today, {len(entries) - valid} expired or not yet effective, "
        f"{sum(e.sample for e in entries)} marked sample"
    )


@app.command("calibrate")
def kb_calibrate(
    dev: Annotated[
        list[Path] | None,
        typer.Option(help="labelled questions (YAML file or folder; repeat for several)"),
    ] = None,
    precision: Annotated[float, typer.Option(help="required share of right answers")] = 0.97,
    abstain: Annotated[
        float, typer.Option(help="required abstention on unanswerable (margin over the 0.94 floor)")
    ] = 0.95,
    z: Annotated[
        float, typer.Option(help="precision must hold for the Wilson bound this many SEs down")
    ] = 1.645,
    write: Annotated[bool, typer.Option(help=f"write {THRESHOLDS.name}")] = True,
    train_reranker: Annotated[
        bool, typer.Option(help=f"first retrain the reranker on the KB (writes {RERANKER.name})")
    ] = True,
) -> None:
    """Choose the answer/clarify/abstain thresholds on a labelled development set.

    The reranker is trained first, on the KB's own phrasings only (never on the dev set).
    """
    service = _service()
    model = model_label(model_paths().embedding_model)
    if train_reranker:
        index = service.refresh().index
        with console.status(f"training the reranker on {len(index.texts)} phrasings"):
            reranker, rows, positives = rerank.train(index)
        service.use_reranker(reranker)
        console.print(f"reranker {reranker}")
        if write:
            rerank.save(
                RERANKER,
                reranker,
                {
                    "entries": len(index.keys),
                    "phrasings": len(index.texts),
                    "candidate_rows": rows,
                    "positives": positives,
                    "model": model,
                },
            )
            console.print(f"wrote {RERANKER}")
    dev = dev or DEV_SETS
    questions = [q for path in dev for q in load_questions(path)]
    with console.status(f"searching {len(questions)} questions"):
        labelled = label(service, questions, k=3)
    t, out = decision.calibrate(labelled, precision, abstain, z)
    t = dataclasses.replace(t, suggest=decision.calibrate_suggest(labelled, t))
    console.print(f"thresholds {t}\ndev outcome {out}")
    if write:
        evidence = {
            "dev_set": [str(p) for p in dev],
            "answerable": sum(gold is not None for _, gold in questions),
            "unanswerable": sum(gold is None for _, gold in questions),
            "targets": {"precision": precision, "abstain": abstain, "wilson_z": z},
            "model": model,
            "reranker": RERANKER.name if service.reranker else None,
        }
        decision.save(THRESHOLDS, t, out, evidence)
        console.print(f"wrote {THRESHOLDS}")
