"""One request through the LLM: call slots (global and per task), the give-up deadline that
cancels the call, and the outputs of each outcome."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from tracer_stream.config import TopicSettings
from tracer_stream.contracts import DeadLetter, LLMRequest, RoutedLabel, Trace
from tracer_stream.labelling import CallSlots, Job, Labeller, Origin
from tracer_stream.llm import BackendError, ChatTurn, Completion, Teacher
from tracer_stream.llm.types import LabelPrompt
from tracer_stream.tasks import Task

TOPICS = TopicSettings(prefix="u.")
LABELS = ["refund", "cancel"]


class GatedBackend:
    """Answers a text once its gate is opened; records calls, cancellations and peaks."""

    name = "fake:gated"

    def __init__(self) -> None:
        self.gates: dict[str, asyncio.Event] = {}
        self.started: list[str] = []
        self.cancelled: list[str] = []
        self.answers: dict[str, str] = {}
        self.failures: dict[str, BackendError] = {}

    def gate(self, text: str) -> asyncio.Event:
        return self.gates.setdefault(text, asyncio.Event())

    async def classify(self, prompt: LabelPrompt,
                       followup: Sequence[ChatTurn] = ()) -> Completion:
        text = prompt.text
        self.started.append(text)
        try:
            await self.gate(text).wait()
        except asyncio.CancelledError:
            self.cancelled.append(text)
            raise
        if text in self.failures:
            raise self.failures[text]
        answer = self.answers.get(text, "refund")
        return Completion(answer, answer, input_tokens=10, output_tokens=1)

    async def aclose(self) -> None:
        return None


def job(text: str, task: Task | None = None, request_id: str | None = None) -> Job:
    task = task or Task(name="intents", labels=LABELS)
    request = LLMRequest(request_id=request_id or f"r-{text}", task=task.name, text=text,
                         answer_requester=True, audit=False, gate_accepted=False)
    return Job(request, task, Origin("u.llm-requests", 0, 1, b"{}"))


def labeller(backend: GatedBackend, *, total: int = 4, per_task: int = 4,
             give_up_after_s: float = 60.0) -> Labeller:
    teacher = Teacher(backend)
    return Labeller(teacher, CallSlots(total, per_task), TOPICS,
                    give_up_after_s=give_up_after_s)


async def until(predicate: object) -> None:
    for _ in range(1000):
        if callable(predicate) and predicate():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition never became true")


def test_a_slow_call_does_not_hold_back_another_task_and_the_per_task_bound_holds() -> None:
    async def scenario() -> None:
        backend = GatedBackend()
        worker = labeller(backend, total=3, per_task=1)
        other = Task(name="other", labels=LABELS)
        slow = asyncio.create_task(worker.label(job("slow")))
        queued = asyncio.create_task(worker.label(job("queued")))  # same task: waits
        fast = asyncio.create_task(worker.label(job("fast", other)))
        await until(lambda: backend.started == ["slow", "fast"])
        assert worker.slots.busy_for("intents") == 1 and not queued.done()
        backend.gate("fast").set()
        done = await fast
        assert done.outcome == "ok" and not slow.done()
        backend.gate("slow").set()
        backend.gate("queued").set()
        assert (await slow).outcome == "ok" and (await queued).outcome == "ok"
        assert backend.started == ["slow", "fast", "queued"]
        assert worker.slots.busy == 0

    asyncio.run(scenario())


def test_an_answer_yields_a_label_and_a_trace_with_the_call_duration() -> None:
    async def scenario() -> None:
        backend = GatedBackend()
        backend.gate("x").set()
        result = await labeller(backend).label(job("x"))
        label, trace = (out.message for out in result.outputs)
        assert isinstance(label, RoutedLabel) and isinstance(trace, Trace)
        assert (label.label, trace.label, trace.teacher) == ("refund", "refund", "fake:gated")
        assert result.call_s is not None and result.usage is not None
        assert result.usage.calls == 1 and trace.latency_ms == round(result.call_s * 1000, 3)

    asyncio.run(scenario())


def test_a_call_past_the_deadline_is_cancelled_and_dead_lettered() -> None:
    async def scenario() -> None:
        backend = GatedBackend()
        result = await labeller(backend, give_up_after_s=0.01).label(job("hang"))
        [out] = result.outputs
        assert isinstance(out.message, DeadLetter)
        assert (out.message.reason, out.message.request_id) == ("llm_failure", "r-hang")
        assert out.message.detail.startswith("[gave_up]")
        assert backend.cancelled == ["hang"]

    asyncio.run(scenario())


def test_teacher_failures_and_unrenderable_prompts_are_dead_letters() -> None:
    async def scenario() -> None:
        backend = GatedBackend()
        backend.failures["denied"] = BackendError("401", reason="auth_failed", status=401)
        backend.answers["odd"] = "no idea"
        for text in ("denied", "odd"):
            backend.gate(text).set()
        worker = labeller(backend)
        denied = await worker.label(job("denied"))
        odd = await worker.label(job("odd"))
        # a definition stored before placeholders were checked at load time
        valid = Task(name="broken", labels=LABELS)
        stored = Task.model_construct(**{**dict(valid), "prompt_template":
                                          "{labels} {text} {unknown_field}"})
        broken = await worker.label(job("x", stored))
        reasons = [(r.outcome, r.outputs[0].message.reason)  # type: ignore[attr-defined]
                   for r in (denied, odd, broken)]
        assert reasons == [("llm_failure", "llm_failure"),
                           ("unparseable_answer", "unparseable_answer"),
                           ("invalid_task", "invalid_task")]
        assert broken.call_s is None and "x" not in backend.started

    asyncio.run(scenario())
