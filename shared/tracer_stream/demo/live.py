"""The demo's terminal view (rich): a progress bar per simulated day and a table with one row
per day — requests, handled by the surrogate, LLM calls, cost saved, the certified version with
its α and δ, and the agreement of handled answers with the teacher with its 95% interval."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich import box
from rich.console import Group, RenderableType
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from tracer_stream.demo.ledger import DayStats
from tracer_stream.demo.refits import Certificate, RefitResult

__all__ = ["DayProgress", "ViewContext", "day_line", "day_table", "headline"]


@dataclass(frozen=True)
class ViewContext:
    """What every row needs besides the day's counts."""

    task: str
    alpha: float
    delta: float
    cost_per_call: float
    certificates: dict[str, Certificate]


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _agreement(stats: DayStats, alpha: float) -> Text:
    value = stats.handled_agreement
    if value is None:
        return Text("–", style="dim")
    low, high = stats.handled_interval
    style = "green" if value >= alpha else "red"
    return Text.assemble((f"{value:.3f}", style), (f" [{low:.3f}, {high:.3f}]", "dim"),
                         f" n={stats.handled}")


def _certified(stats: DayStats, ctx: ViewContext) -> Text:
    if not stats.versions:
        if stats.reasons.get("gate_closed"):  # a model exists; its gate sends all to the LLM
            return Text("gate closed", style="red")
        return Text("no model yet", style="dim")
    version = stats.versions.most_common(1)[0][0]
    cert = ctx.certificates.get(version)
    if cert is None:
        return Text(version)
    return Text.assemble((version, "bold"), f" α {cert.alpha:g} δ {ctx.delta:g}",
                         (f" {cert.family}", "dim"))


def day_table(days: Sequence[DayStats], ctx: ViewContext, *, total: DayStats | None = None,
              title: str | None = None) -> Table:
    """One row per day (and a total row when ``total`` is given)."""
    table = Table(title=title, title_justify="left", header_style="bold", box=box.SIMPLE_HEAD)
    for name, justify in (("day", "right"), ("requests", "right"), ("surrogate", "right"),
                          ("LLM calls", "right"), ("saved", "right"), ("model", "left"),
                          (f"agreement (α={ctx.alpha:g}) [95% CI]", "left")):
        table.add_column(name, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    rows = [*days, total] if total is not None else list(days)
    for stats in rows:
        if stats is None:
            continue
        is_total = stats is total
        sent = str(stats.sent) if stats.settled >= stats.sent else f"{stats.settled}/{stats.sent}"
        table.add_row(
            "all" if is_total else str(stats.day), sent,
            f"{stats.handled} · {_pct(stats.coverage)}", str(stats.llm_calls),
            f"${stats.saved_usd(ctx.cost_per_call):,.2f}",
            Text("") if is_total else _certified(stats, ctx), _agreement(stats, ctx.alpha),
            style="bold" if is_total else None, end_section=not is_total and stats is days[-1])
    return table


def day_line(stats: DayStats, ctx: ViewContext) -> str:
    """One plain line per finished day, for logs and other non-terminal outputs."""
    value = stats.handled_agreement
    agreement = "–" if value is None else "{:.3f} [{:.3f}, {:.3f}]".format(
        value, *stats.handled_interval)
    return (f"day {stats.day}: {stats.settled} requests, surrogate {stats.handled} "
            f"({_pct(stats.coverage)}), LLM calls {stats.llm_calls}, handled agreement "
            f"{agreement}, model {_certified(stats, ctx).plain}")


def headline(days: Sequence[DayStats], total: DayStats, ctx: ViewContext,
             refits: Sequence[RefitResult] = ()) -> Text:
    """One sentence: how much the surrogate took over and whether it kept α — or, when it
    answered nothing, that nothing was certified and why (the last refit's outcome)."""
    text = Text()
    if not total.handled:
        text.append("Nothing was certified: the surrogate answered no request, every answer "
                    "came from the LLM and no LLM call was avoided. ", style="bold yellow")
        text.append(_why_nothing(days, refits))
        return text
    last = days[-1]
    text.append(f"The surrogate handled {_pct(last.coverage)} of day {last.day}'s requests ")
    text.append(f"(day {days[0].day}: {_pct(days[0].coverage)}); ")
    low, high = total.handled_interval
    ok = (total.handled_agreement or 0.0) >= ctx.alpha
    text.append(f"its answers agreed with the teacher {total.handled_agreement:.3f} ",
                style="green" if ok else "red")
    text.append(f"[{low:.3f}, {high:.3f}] (target α = {ctx.alpha:g}); ")
    text.append(f"{total.llm_calls_avoided} LLM calls avoided "
                f"({total.handled_audited} of its answers were audited by the LLM too), "
                f"${total.saved_usd(ctx.cost_per_call):,.2f} saved at "
                f"${ctx.cost_per_call:g} per call.")
    return text


def _why_nothing(days: Sequence[DayStats], refits: Sequence[RefitResult]) -> str:
    """Why no version answered: no refit ran, or what the last one said."""
    if not refits:
        return (f"With {len(days)} day(s) there was no refit (the first one runs at the end of "
                "day 1): run more than one day.")
    last = refits[-1]
    if last.outcome == "not_certified":
        return (f"The gate refused every candidate: {last.reason or 'no reason given'} "
                "(a noisy teacher or too few traces per label keeps it closed).")
    if last.certificate is not None:
        return (f"Version {last.current} was certified after day {last.after_day} but served "
                "no request before the run ended.")
    return f"The last refit ended {last.outcome}: {last.reason or 'no reason given'}."


class DayProgress:
    """Progress bars (one per started day) above the live table, plus a status line."""

    def __init__(self, days: int) -> None:
        self.progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                                 MofNCompleteColumn(), TextColumn("{task.fields[note]}"),
                                 TimeElapsedColumn())
        self._tasks: dict[int, TaskID] = {}
        self._days = days
        self.status = ""

    def update(self, stats: DayStats, total: int) -> None:
        if stats.day not in self._tasks:
            self._tasks[stats.day] = self.progress.add_task(
                f"day {stats.day}/{self._days}", total=total, note="")
        note = f"surrogate {_pct(stats.coverage)}" if stats.answered else ""
        self.progress.update(self._tasks[stats.day], completed=stats.settled, note=note)

    def finish_day(self, day: int) -> None:
        if day in self._tasks:
            self.progress.stop_task(self._tasks[day])

    def render(self, table: Table) -> RenderableType:
        status = Text(self.status, style="cyan") if self.status else Text("")
        return Group(self.progress, table, status)
