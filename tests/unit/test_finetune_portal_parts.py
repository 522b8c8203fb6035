"""The fine-tuning pages' parts: every word they show has its Chinese (and adds none that changes another
page's), a ParameterError's problems land next to their fields, the experiment form's tasks, the loss chart's
points and the scores as the results table shows them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from csghub.services.finetune.parameters import PARAMS, ParameterError, validate_parameters
from csghub.web import finetune_forms, i18n
from csghub.web.finetune_forms import (
    FORMAT_NAMES,
    HELP,
    METRIC_NAMES,
    field_errors,
    loss_points,
    param_fields,
    parameters_of,
    score,
    script_words,
    tasks_of,
)
from csghub.web.i18n import translate
from csghub.web.i18n_finetune import ZH_FINETUNE

WEB = Path(finetune_forms.__file__).parent
_T_CALL = re.compile(r"\bt\('((?:[^'\\]|\\.)+)'\)")
SAME_IN_CHINESE = {"CPU", "BLEU-4", "ROUGE-1", "ROUGE-2", "ROUGE-L", "Alpaca"}


def _template_words() -> set[str]:
    names = [p.name for p in (WEB / "templates").glob("*finetune*.html")]
    assert len(names) >= 10
    return {w.replace("\\'", "'") for n in names for w in _T_CALL.findall((WEB / "templates" / n).read_text())}


def test_every_word_of_the_finetune_pages_has_chinese() -> None:
    words = _template_words() | set(HELP.values()) | set(METRIC_NAMES.values()) | set(FORMAT_NAMES.values())
    words |= {"Queued", "Running", "Succeeded", "Failed", "Cancelled", "Stopped", "Deploying"}
    assert len(words) > 120
    missing = sorted(w for w in words - SAME_IN_CHINESE if translate("zh", w) == w)
    assert missing == []
    assert set(HELP) == set(PARAMS)


def test_the_script_speaks_chinese_and_adds_no_changed_words_to_other_pages() -> None:
    spoken = script_words("zh")
    assert [k for k, v in spoken.items() if v == k] == []
    assert spoken["phase:train"] == "训练中" and script_words("en")["phase:train"] == "Training the model"
    source = (WEB / "i18n.py").read_text() + (WEB / "i18n_chat.py").read_text() + (WEB / "i18n_metadata.py").read_text()
    assert [k for k in ZH_FINETUNE if f'"{k}":' in source] == []
    assert i18n.translate("zh", "Download") == "下载"


def test_parameter_problems_are_put_next_to_their_fields() -> None:
    with pytest.raises(ParameterError) as caught:
        validate_parameters({"learning_rate": "2", "lora_rank": "x", "warmup_ratio": 0.1})
    by_field, rest = field_errors(caught.value.message)
    assert by_field["learning_rate"] == "learning_rate must be above 0 and at most 1, not 2"
    assert by_field["lora_rank"].startswith("lora_rank must be a number")
    assert rest == []
    by_field, rest = field_errors("Unknown parameters: foo; Give warmup_ratio or warmup_steps, not both")
    assert by_field == {} and rest == ["Unknown parameters: foo", "Give warmup_ratio or warmup_steps, not both"]


def test_parameter_fields_show_defaults_and_keep_what_was_typed() -> None:
    fields = {f.name: f for f in param_fields({"learning_rate": "2e-3", "compute_type": "fp16"})}
    assert (fields["learning_rate"].default, fields["learning_rate"].value) == ("0.0001", "2e-3")
    assert fields["compute_type"].value == "fp16" and "fp32" in fields["compute_type"].choices
    assert fields["lora_alpha"].default == "" and fields["num_train_epochs"].default == "3"
    assert fields["loraplus_lr_ratio"].main and not fields["seed"].main
    assert parameters_of({"p-learning_rate": " 2e-3 ", "p-seed": "", "other": "1"}) == {"learning_rate": "2e-3"}


def test_the_experiment_form_gives_its_filled_tasks() -> None:
    fields = {
        "task-0-name": "a",
        "task-0-model": "u/m",
        "task-0-dataset": "u/d",
        "task-0-train_file": "train.csv",
        "task-0-group": "7",
        "task-0-map-question": "prompt",
        "task-0-p-learning_rate": "0.01",
        "task-1-name": "",
        "task-2-name": "b",
        "task-2-model": "u/m2",
        "task-2-dataset": "u/d",
        "task-2-tier_id": "x",
    }
    first, second = tasks_of(fields)
    assert (first.name, first.model, first.train_file, first.eval_file, first.parameter_group) == (
        "a",
        "u/m",
        "train.csv",
        None,
        7,
    )
    assert dict(first.mapping) == {"question": "prompt"} and dict(first.parameters) == {"learning_rate": "0.01"}
    assert (second.name, second.tier_id, second.parameter_group) == ("b", None, None)


def test_the_loss_chart_spans_its_box_and_scores_read_from_0_to_100() -> None:
    points = loss_points([[5, 3.0, 0.1], [10, 2.0, 0.1], [15, 1.0, 0.1]]).split()
    assert points == ["0.0,4.0", "150.0,50.0", "300.0,96.0"]
    assert loss_points([]) == "" and loss_points([[1, 2.0]]) == "0.0,96.0"
    metrics = {"before": {"exact_match": 0.0, "bleu4": 1.234}, "after": {"exact_match": 0.95}}
    assert (score(metrics, "before", "exact_match"), score(metrics, "after", "exact_match")) == ("0.0", "95.0")
    assert score(metrics, "before", "bleu4") == "1.2" and score(metrics, "after", "rougeL") == "—"
