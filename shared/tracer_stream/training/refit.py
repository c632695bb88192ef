"""A refit of one task from scratch: store → embeddings → fit → gate → compare → publish.

1. Load every committed trace of the task, or the last ``refit_window_traces``
   (:class:`~tracer_stream.training.table.TraceTable`).
2. Calibration rows: eligible traces hashed into the partition
   (:mod:`tracer_stream.training.calibration`) that belong to the task's current calibration
   epoch (stored since the last alarm's epoch started); held-out traces of earlier epochs
   neither calibrate nor train; everything else trains. Optional bounds
   (:mod:`tracer_stream.training.bounds`): at most ``refit_label_cap`` training rows per label,
   at most ``refit_calibration_reservoir`` calibration rows (a uniform sample).
3. δ-spending: the k-th gate test of the task certifies at δₖ = δ·6/(π²k²). A refit that could
   not certify anyway (fewer calibration traces than n_min(α, δₖ), fewer than 4 training traces,
   a single label) is skipped *before* the test and spends nothing.
4. Embeddings of the kept rows only: stored ones are reused when their embedder id is the
   task's embedder; the other traces are embedded again.
5. :func:`tracer_stream.learn.fit`. Not certified: the failed candidate is recorded in the
   registry history with the gate's reason and the traces still needed; the current version
   keeps serving.
6. Certified: compared with the current version on the same calibration rows
   (:mod:`tracer_stream.training.compare`), stored as a new version with its manifest, report
   and per-label coverage deltas, and made current (announced on the models topic, the gate
   reopened) only when at least as good. A promotion during a pending epoch settles it and
   clears the task's audit boost (:mod:`tracer_stream.training.alarms`) first, so the routers'
   re-read after the announcement finds the boost gone.
7. A refit run for a trainer carries its generation (:mod:`tracer_stream.training.fencing`):
   when a newer trainer started meanwhile it settles nothing and promotes nothing (outcome
   ``fenced``); the promotion's check is atomic with the write of ``current``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tracer_stream.config import TrainerSettings
from tracer_stream.embed import Embedder, load_embedder
from tracer_stream.embed.fingerprint import MANIFEST_KEY as NUMERICS_KEY
from tracer_stream.embed.fingerprint import numerics_fingerprint
from tracer_stream.errors import TracerStreamError
from tracer_stream.learn import Artefact, EmbedderRef, FitConfig, fit, spend_delta
from tracer_stream.registry import FencedOut, Registry
from tracer_stream.report import build_report
from tracer_stream.tasks import Task
from tracer_stream.tasks.binding import binding_for, definition_sha256, mismatch
from tracer_stream.training.bounds import bound_rows
from tracer_stream.training.calibration import calibration_mask, calibration_rows
from tracer_stream.training.compare import Comparison, compare
from tracer_stream.training.fencing import Generation
from tracer_stream.training.publish import Announcer, make_current
from tracer_stream.training.schedule import calibration_needed
from tracer_stream.training.state import TrainerState
from tracer_stream.training.table import TraceTable

log = logging.getLogger(__name__)


@dataclass
class RefitOutcome:
    """What a refit did (picklable: it crosses the trainer's process pool). ``outcome`` is one
    of promoted, kept_current, not_certified, too_few_traces, busy, no_task, fenced, failed."""

    task: str
    trigger: str
    outcome: str
    reason: str = ""
    version: str | None = None
    k: int | None = None
    delta_k: float | None = None
    n_traces: int = 0
    n_calibration: int = 0
    seq: int = 0
    fit_seconds: float = 0.0


class Refitter:
    """Runs refits against the store under ``store_root`` and the registry."""

    def __init__(self, settings: TrainerSettings, registry: Registry, state: TrainerState,
                 announcer: Announcer, store_root: Path) -> None:
        self.settings = settings
        self.registry = registry
        self.state = state
        self.announcer = announcer
        self.store_root = store_root
        self.generation = Generation(registry.client, registry.prefix)
        self._signing_key = settings.signing_key()
        self._verify_keys = settings.verify_keys()
        self._embedders: dict[str, Embedder] = {}

    def refit(self, task: str, trigger: str, generation: int | None = None) -> RefitOutcome:
        """Refit ``task`` unless another refit of it holds the lock; ``generation``: the
        trainer generation this refit runs for (None: unfenced, an operator's direct refit)."""
        if not self.state.lock(task):
            return RefitOutcome(task, trigger, "busy", "another refit of the task is running")
        try:
            outcome = self._refit(task, trigger, generation)
        except FencedOut as exc:
            log.warning("refit of %s fenced out: %s", task, exc)
            outcome = RefitOutcome(task, trigger, "fenced", str(exc),
                                   seq=self.state.last_refit(task)["seq"])
        except TracerStreamError as exc:
            log.exception("refit of %s failed", task)
            outcome = RefitOutcome(task, trigger, "failed", str(exc),
                                   seq=self.state.last_refit(task)["seq"])
            self.registry.record_event(task, "refit_failed", reason=str(exc), trigger=trigger)
        finally:
            self.state.unlock(task)
        self.state.record_refit(task, outcome.seq, outcome.outcome, trigger)
        log.info("refit %s (%s): %s %s %s", task, trigger, outcome.outcome,
                 outcome.version or "", outcome.reason)
        return outcome

    def _refit(self, task: str, trigger: str, generation: int | None) -> RefitOutcome:
        definition = self.registry.get_task(task)
        if definition is None:
            return RefitOutcome(task, trigger, "no_task", "task is not registered")
        table = TraceTable.load(self.store_root, task, self.settings.refit_window_traces)
        if self.state.follow_definition(task, definition_sha256(definition),
                                        int(table.seq[-1]) + 1 if len(table) else 1):
            log.warning("task %s was redefined: calibration restarts with the next trace", task)
        held_out = calibration_mask(table.request_ids, table.audit, table.model_version,
                                    self.settings.calibration_fraction, table.reasons)
        epoch = self.state.epoch(task)
        current = set(definition.label_names)  # traces of a removed label neither train
        in_task = np.array([label in current for label in table.labels], dtype=bool)  # nor test
        usable = np.flatnonzero((~held_out | calibration_rows(held_out, table.seq,
                                                              epoch["start"])) & in_task)
        rows = bound_rows(usable, held_out[usable], table.labels, table.request_ids,
                          label_cap=self.settings.refit_label_cap,
                          reservoir=self.settings.refit_calibration_reservoir)
        cal = held_out[rows]
        labels = [table.labels[i] for i in rows]
        out = RefitOutcome(task, trigger, "too_few_traces", n_traces=len(table),
                           n_calibration=int(cal.sum()),
                           seq=int(table.seq[-1]) if len(table) else 0)
        k = self.state.gate_tests(task) + 1
        needed = calibration_needed(definition.alpha, definition.delta, k)
        n_train = len(rows) - out.n_calibration
        if out.n_calibration < needed or n_train < 4 or len(set(labels)) < 2:
            out.reason = (f"{out.n_calibration} calibration traces (epoch from trace "
                          f"{epoch['start']}) and {n_train} training traces, "
                          f"{len(set(labels))} label(s); a test at gate test #{k} needs >= "
                          f"{needed} calibration traces")
            if 0 < self.settings.refit_calibration_reservoir < needed:
                out.reason += (f"; the calibration reservoir "
                               f"({self.settings.refit_calibration_reservoir}) is smaller")
            return out
        out.k = self.state.next_gate_test(task)
        out.delta_k = spend_delta(definition.delta, out.k)
        X, ref = self._embeddings(definition, table, rows)
        parent = self.registry.current(task)
        started = time.monotonic()
        art = fit(X, labels, embedder=ref, config=FitConfig(
            alphas=self.settings.alphas, delta=out.delta_k, target_alpha=definition.alpha,
            calibration_fraction=self.settings.calibration_fraction, zoo=self.settings.zoo,
            seed=out.k), is_calibration=cal, trace_ids=[table.request_ids[i] for i in rows],
            parent_version=parent)
        art = art.with_manifest_entry(NUMERICS_KEY, numerics_fingerprint(
            self._embedders[definition.embedder]))
        art = art.with_binding(binding_for(definition, embedder=ref.id, delta_k=out.delta_k,
                                           traces=_trace_range(table.seq[rows], epoch["start"])))
        out.fit_seconds = time.monotonic() - started
        trainer_info = {"trigger": trigger, "gate_test": out.k, "delta_k": out.delta_k,
                        "delta_spending": "delta*6/(pi^2 k^2)", "store_seq": out.seq,
                        "bounds": {"window_traces": self.settings.refit_window_traces,
                                   "label_cap": self.settings.refit_label_cap,
                                   "calibration_reservoir":
                                       self.settings.refit_calibration_reservoir,
                                   "usable_rows": len(usable), "kept_rows": len(rows)},
                        "calibration_epoch": {"start": epoch["start"],
                                              "trigger": epoch["trigger"]}}
        if not art.certified:
            manifest = art.manifest
            out.outcome, out.reason = "not_certified", str(manifest["reason"])
            self.registry.record_event(task, "refit_rejected", reason=out.reason,
                                       traces_needed=manifest.get("traces_needed"),
                                       n_cal=manifest.get("n_cal"), **trainer_info)
            return out
        y_cal = [labels[i] for i in np.flatnonzero(cal)]
        parent_art, parent_error = self._parent(definition, parent, ref)
        cmp = compare(art, parent_art, X[cal], y_cal, gate_open=self.registry.gate(task)["open"],
                      parent_error=parent_error)
        out.version = self._store(task, art, cmp, trainer_info, X[cal], y_cal,
                                  [table.texts[i] for i in rows[cal]])
        if cmp.promote:
            fence = None if generation is None else self.generation.fence(generation)
            if generation is not None and self.generation.current() != generation:
                raise FencedOut("a newer trainer generation runs", task=task,
                                version=out.version, generation=generation)
            self._settle_epoch(task, epoch, out.version)
            make_current(self.registry, self.announcer, task, out.version, action="promote",
                         reason=f"refit ({trigger}): {cmp.reason}", fence=fence)
            out.outcome, out.reason = "promoted", cmp.reason
        else:
            self.registry.record_event(task, "candidate_kept_back", reason=cmp.reason,
                                       version=out.version, current=parent, **trainer_info)
            out.outcome, out.reason = "kept_current", cmp.reason
        return out

    def _settle_epoch(self, task: str, epoch: dict[str, Any], version: str) -> None:
        """``version`` was calibrated in ``epoch``: if that epoch is still the pending one,
        settle it and end the audit boost."""
        now = self.state.epoch(task)
        if not (epoch["pending"] and now["pending"] and now["start"] == epoch["start"]):
            return
        self.state.settle_epoch(task)
        self.registry.clear_audit_boost(task, f"{version} was calibrated on traces from "
                                              f"{epoch['start']} on (after {epoch['trigger']})")

    def _embeddings(self, task: Task, table: TraceTable, rows: np.ndarray
                    ) -> tuple[np.ndarray, EmbedderRef]:
        """The embeddings of the table's ``rows``: stored ones read, the others computed."""
        if task.embedder not in self._embedders:
            self._embedders[task.embedder] = load_embedder(task.embedder)
        embedder = self._embedders[task.embedder]
        ref = EmbedderRef.from_dict(embedder.identity.to_dict())
        X, have = table.embeddings(ref.id, ref.dim, rows)
        missing = np.flatnonzero(~have)
        if len(missing):
            log.info("task %s: embedding %d of %d traces with %s", table.task, len(missing),
                     len(rows), ref.id)
            X[missing] = embedder.embed([table.texts[rows[i]] for i in missing])
        return X, ref

    def _parent(self, task: Task, version: str | None, ref: EmbedderRef
                ) -> tuple[Artefact | None, str | None]:
        """The current version's artefact (its signature verified by a trusted key), or
        (None, why it cannot be evaluated: also when it is bound to another definition)."""
        if version is None:
            return None, None
        try:
            parent = Artefact.from_bytes(self.registry.blob(task.name, version),
                                         self._verify_keys)
            parent.check_embedder(ref)
        except TracerStreamError as exc:
            return None, f"{version}: {exc}"
        refused = mismatch(parent.manifest.get("binding"), task, parent.labels)
        if refused is not None:
            return None, f"{version}: {refused[0]}: {refused[1]}"
        return parent, None

    def _store(self, task: str, art: Artefact, cmp: Comparison, trainer_info: dict[str, Any],
               X_cal: np.ndarray, y_cal: list[str], texts: list[str]) -> str:
        manifest = {**art.manifest, "trainer": {**trainer_info, "comparison": {
            "promote": cmp.promote, "reason": cmp.reason, "candidate": cmp.candidate,
            "current": cmp.parent}}, "coverage_deltas": cmp.coverage_deltas}
        version = self.registry.add_version(task, art.to_bytes(self._signing_key), manifest)
        self.registry.put_report(task, version, build_report(
            art, X_cal, y_cal, texts=texts, source=f"calibration traces of {task} {version}"))
        return version


def _trace_range(seq: np.ndarray, calibration_from: int) -> dict[str, int]:
    """What identifies the traces a model was fitted and calibrated on (store sequence
    numbers of the task's log)."""
    return {"n": len(seq), "first_seq": int(seq.min()) if len(seq) else 0,
            "last_seq": int(seq.max()) if len(seq) else 0,
            "calibration_from_seq": int(calibration_from)}
