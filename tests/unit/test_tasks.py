"""Task files: validation with errors that name the file and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from tracer_stream.errors import ConfigError
from tracer_stream.tasks import Task, load_task_file


def test_yaml_task_file_loads_and_renders_a_prompt(tmp_path: Path) -> None:
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
    prompt = support.render_prompt("I want my money back")
    assert "- cancel: stop an order (e.g. 'cancel it please')" in prompt
    assert prompt.rstrip().endswith("Text: I want my money back\nLabel:")
    assert Task.from_json(support.to_json()) == support


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ("name: t\nlabels: [a]\n", "labels"),
        ("name: t\nlabels: [a, a]\n", "duplicate labels"),
        ("name: 'bad name'\nlabels: [a, b]\n", "name"),
        ("name: t\nlabels: [a, b]\nalpha: 1.5\n", "alpha"),
        ("name: t\nlabels: [a, b]\ncolour: red\n", "colour"),
        ("name: t\nlabels: [a, b]\nprompt_template: 'no placeholders'\n", "{text}"),
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


def test_missing_file() -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_task_file(Path("/nonexistent/task.yaml"))
