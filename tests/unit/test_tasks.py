"""Task files: validation with errors that name the file and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from tracer_stream.errors import ConfigError
from tracer_stream.tasks import Task, load_task_file
from tracer_stream.tasks.model import TEXT_IN_USER_MESSAGE


def test_yaml_task_file_loads_and_renders_its_instructions(tmp_path: Path) -> None:
    path = tmp_path / "tasks.yaml"
    path.write_text(
        "- name: support\n  description: Support messages.\n  alpha: 0.9\n"
        "  labels:\n    - refund\n    - name: cancel\n      description: stop an order\n"
        "      examples: [cancel it please]\n"
        "- name: spam\n  labels: [spam, ham]\n"
    )
    support, spam = load_task_file(path)
    assert support.alpha == 0.9 and spam.alpha == 0.95
    assert support.label_names == ("refund", "cancel")
    instructions = support.render_instructions()
    assert "- cancel: stop an order (e.g. 'cancel it please')" in instructions
    assert "task 'support'. Support messages." in instructions
    assert "{" not in instructions and "Text:" not in instructions
    assert Task.from_json(support.to_json()) == support


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ("name: t\nlabels: [a]\n", "labels"),
        ("name: t\nlabels: [a, a]\n", "duplicate labels"),
        ("name: 'bad name'\nlabels: [a, b]\n", "name"),
        ("name: t\nlabels: [a, b]\nalpha: 1.5\n", "alpha"),
        ("name: t\nlabels: [a, b]\ncolour: red\n", "colour"),
        ("name: t\nlabels: [a, b]\nprompt_template: 'no placeholders'\n", "{labels}"),
        ("name: t\nlabels: [a, b]\nprompt_template: '{labels} {user}'\n", "['user']"),
        ("name: t\nlabels: [a, b]\nprompt_template: '{labels} {'\n", "not a valid template"),
        ("name: [unclosed\n", "not valid YAML"),
    ],
)
def test_bad_task_files_name_the_problem(tmp_path: Path, body: str, says: str) -> None:
    path = tmp_path / "task.yaml"
    path.write_text(body)
    with pytest.raises(ConfigError) as caught:
        load_task_file(path)
    assert says in str(caught.value)
    assert str(path) in str(caught.value)


def test_a_legacy_text_placeholder_never_inlines_user_text() -> None:
    legacy = Task(name="old", labels=["a", "b"],
                  prompt_template="Pick one of:\n{labels}\nText: {text}\nLabel:")
    instructions = legacy.render_instructions()
    assert instructions == ("Pick one of:\n- a\n- b\n"
                            f"Text: {TEXT_IN_USER_MESSAGE}\nLabel:")
    assert Task(name="braces", labels=["a", "b"],
                prompt_template="{{json}} {labels}").render_instructions() == "{json} - a\n- b"


def test_missing_file() -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_task_file(Path("/nonexistent/task.yaml"))
