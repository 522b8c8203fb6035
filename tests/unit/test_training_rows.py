"""Training files to LLaMA-Factory's rows: every accepted shape, the column mapping, and every problem with the
rows (1-based, a CSV's header not counted) and lines it concerns; each file also read in 1-byte chunks."""

from __future__ import annotations

import json
from typing import Any

import pytest

from csghub.services.finetune.training_readers import TrainingDataError, container_of, read_table
from csghub.services.finetune.training_rows import ColumnMapping, Normalized, normalize


def _run(data: bytes, container: str, mapping: dict[str, Any] | None = None) -> Normalized:
    whole = normalize(read_table([data], container), ColumnMapping.parse(mapping))
    bytewise = normalize(
        read_table([data[i : i + 1] for i in range(len(data))], container), ColumnMapping.parse(mapping)
    )
    assert (bytewise.format, bytewise.rows, bytewise.problems) == (whole.format, whole.rows, whole.problems)
    return whole


def _refused(data: bytes, container: str) -> tuple[str, ...]:
    with pytest.raises(TrainingDataError) as caught:
        read_table([data], container)
    assert caught.value.code == "InvalidTrainingData" and caught.value.status == 400
    return caught.value.problems


QA = {"instruction": "What is the capital of France?", "input": "", "output": "The capital of France is Paris."}


def test_qa_csv_becomes_alpaca_rows() -> None:
    result = _run(b"question,answer\nWhat is the capital of France?,The capital of France is Paris.\n", "csv")
    assert result.format == "qa" and result.output == "alpaca" and result.problems == []
    assert result.rows == [QA]


def test_qa_csv_with_bom_crlf_and_quoted_multiline_cells() -> None:
    data = '\ufeffquestion,answer,system\r\n"Say, twice","one\r\ntwo",Be brief\r\nQ2,"He said ""hi"""\r\n'
    result = _run(data.encode(), "csv")
    assert result.columns == {"question": "question", "answer": "answer", "system": "system"}
    assert result.rows == [
        {"instruction": "Say, twice", "input": "", "output": "one\ntwo", "system": "Be brief"},
        {"instruction": "Q2", "input": "", "output": 'He said "hi"', "system": ""},
    ]
    assert result.problems == []


def test_tsv_and_alpaca_csv() -> None:
    tsv = _run(b"question\tanswer\nWho?\tMe, myself\n", "tsv")
    assert tsv.rows == [{"instruction": "Who?", "input": "", "output": "Me, myself"}]
    alpaca = _run(b"instruction,input,output\nTranslate,chat,chat (fr)\nSay hi,,hi\n", "csv")
    assert alpaca.format == "alpaca"
    assert alpaca.rows == [
        {"instruction": "Translate", "input": "chat", "output": "chat (fr)"},
        {"instruction": "Say hi", "input": "", "output": "hi"},
    ]


def test_alpaca_json_array_one_object_and_json_lines() -> None:
    rows = [
        {"instruction": "Add", "input": "1 + 1", "output": 2, "system": "math"},
        {"instruction": "Hi", "output": "Hello"},
    ]
    array = _run(json.dumps(rows, indent=2).encode(), "json")
    expected = [
        {"instruction": "Add", "input": "1 + 1", "output": "2", "system": "math"},
        {"instruction": "Hi", "input": "", "output": "Hello", "system": ""},
    ]
    assert array.format == "alpaca" and array.rows == expected and array.problems == []
    lines = _run(b"".join(json.dumps(r).encode() + b"\r\n" for r in rows) + b"\n", "jsonl")
    assert lines.rows == expected
    named_json = _run(b"".join(json.dumps(r).encode() + b"\n" for r in rows), "json")  # JSON Lines named .json
    assert named_json.rows == expected
    single = _run(json.dumps(rows[1], indent=2).encode(), "json")
    assert single.rows == [{"instruction": "Hi", "input": "", "output": "Hello"}]


def test_sharegpt_conversations_and_messages() -> None:
    sharegpt = {
        "conversations": [
            {"from": "system", "value": "Be kind"},
            {"from": "human", "value": "Hi"},
            {"from": "gpt", "value": "Hello"},
            {"from": "human", "value": "Bye"},
            {"from": "gpt", "value": "Bye!"},
        ]
    }
    messages = {"messages": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}], "system": "S"}
    result = _run((json.dumps(sharegpt) + "\n" + json.dumps(messages) + "\n").encode(), "jsonl")
    assert result.format == "sharegpt" and result.output == "sharegpt" and result.problems == []
    assert result.rows == [
        {
            "messages": [
                {"role": "system", "content": "Be kind"},
                {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "Hello"},
                {"role": "user", "content": "Bye"},
                {"role": "assistant", "content": "Bye!"},
            ]
        },
        {
            "messages": [
                {"role": "system", "content": "S"},  # the system column becomes the first turn
                {"role": "user", "content": "2+2?"},
                {"role": "assistant", "content": "4"},
            ]
        },
    ]
    turn_wins = {**messages, "messages": [{"role": "system", "content": "T"}, *messages["messages"]]}
    with_system = _run(json.dumps([turn_wins]).encode(), "json")  # a system turn is kept over the column
    assert with_system.rows[0]["messages"][0] == {"role": "system", "content": "T"}
    assert len(with_system.rows[0]["messages"]) == 3


@pytest.mark.parametrize(
    ("mapping", "data", "expected"),
    [
        (
            {"question": "prompt", "answer": "response"},
            b"prompt,response\nQ,A\n",
            QA | {"instruction": "Q", "output": "A"},
        ),
        (
            {"instruction": "q", "output": "a"},
            b'[{"q": "Q", "a": "A"}]',
            {"instruction": "Q", "input": "", "output": "A"},
        ),
        ({"answer": "reply"}, b"question,reply\nQ,A\n", {"instruction": "Q", "input": "", "output": "A"}),
        (
            {"messages": "dialog"},
            b'{"dialog": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}]}',
            {"messages": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}]},
        ),
    ],
)
def test_column_mapping_names_the_columns(mapping: dict[str, str], data: bytes, expected: dict[str, Any]) -> None:
    result = _run(data, "json" if data.startswith((b"[", b"{")) else "csv", mapping)
    assert result.problems == [] and result.rows == [expected]


def test_column_mapping_wins_over_a_column_of_the_same_name() -> None:
    result = _run(b"question,prompt,answer\nignored,Q,A\n", "csv", {"question": "prompt"})
    assert result.rows == [{"instruction": "Q", "input": "", "output": "A"}]


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({"prompt": "q", "reply": "a"}, "Unknown names in the column mapping: prompt, reply (known: question, answer,"),
        ({"question": ""}, "The column mapping needs a column name for: question"),
        ({"question": 3}, "The column mapping needs a column name for: question"),
        ({"question": "q", "output": "a"}, "The column mapping mixes the names of two formats (Alpaca and Q&A)"),
        ({"question": "x", "answer": "x"}, "The column mapping uses a column for two names: x"),
    ],
)
def test_column_mapping_refused(mapping: dict[str, Any], message: str) -> None:
    with pytest.raises(TrainingDataError) as caught:
        ColumnMapping.parse(mapping)
    assert caught.value.problems[0].startswith(message)


def test_mapped_columns_missing_from_the_file_are_named() -> None:
    result = _run(b"q,a\nQ,A\n", "csv", {"question": "prompt", "answer": "a"})
    assert result.problems == [
        "The column mapping names columns the file does not have: prompt (for question); the file has columns: q, a"
    ]
    assert result.rows == []


def test_missing_columns_say_which_exist() -> None:
    assert _run(b"question,reply\nQ,A\n", "csv").problems == [
        "Missing column 'answer' (Q&A format needs question and answer); the file has columns: question, reply"
    ]
    assert _run(b'[{"instruction": "x", "input": "y"}]', "json").problems == [
        "Missing column 'output' (Alpaca format needs instruction and output); the file has columns: instruction, input"
    ]
    none = _run(b"text,label\nx,1\n", "csv").problems
    assert none == [
        "No training columns found: a file needs question and answer (Q&A), instruction and output (Alpaca), or "
        "messages or conversations (conversations); the file has columns: text, label. A column mapping can name yours"
    ]


def test_empty_rows_and_cells_are_listed_with_rows_and_lines() -> None:
    data = b'question,answer\nQ1,A1\n,A2\n\nQ4,\n" ",""\n"Q6\n(two lines)",\nQ7,A7\n\n\n'
    result = _run(data, "csv")
    assert result.problems == [
        "Rows with an empty question (1): 2 (line 3)",
        "Empty rows (2): 3 (line 4), 5 (line 6)",
        "Rows with an empty answer (2): 4 (line 5), 6 (line 7)",
    ]
    assert len(result.rows) == 7  # trailing blank lines are no rows


def test_listings_show_ten_rows_and_the_count() -> None:
    data = b"question,answer\n" + b"".join(f"Q{i},\n".encode() for i in range(1, 16))
    (problem,) = _run(data, "csv").problems
    shown = ", ".join(f"{i} (line {i + 1})" for i in range(1, 11))
    assert problem == f"Rows with an empty answer (15): {shown} and 5 more"


def test_rows_with_extra_cells_and_values_that_are_not_text() -> None:
    csv_result = _run(b"question,answer\nQ,A\nQ,A,B\n", "csv")
    assert csv_result.problems == ["Rows with more cells than the header's 2 columns (1): 2 (line 3)"]
    json_result = _run(b'[{"question": "Q", "answer": ["A"]},\n "text",\n {}]', "json")
    assert json_result.problems == [
        "Rows where answer is not text (1): 1 (line 1)",
        "Rows that are not JSON objects (1): 2 (line 2)",
        "Empty rows (1): 3 (line 3)",
    ]


def test_mapped_names_appear_in_the_problems() -> None:
    result = _run(b"prompt,response\nQ,\n", "csv", {"question": "prompt", "answer": "response"})
    assert result.problems == ["Rows with an empty answer (column 'response') (1): 1 (line 2)"]


@pytest.mark.parametrize(
    ("turns", "problem"),
    [
        ([{"role": "user", "content": "Q"}], "Rows whose last turn is not the assistant's"),
        (
            [
                {"role": "assistant", "content": "A"},
                {"role": "user", "content": "Q"},
                {"role": "assistant", "content": "B"},
            ],
            "Rows whose turns do not go user, assistant, user, ... (a system turn only first)",
        ),
        (
            [
                {"role": "user", "content": "Q"},
                {"role": "system", "content": "S"},
                {"role": "assistant", "content": "A"},
            ],
            "Rows whose turns do not go user, assistant, user, ... (a system turn only first)",
        ),
        ([{"role": "user", "content": "Q"}, {"role": "assistant", "content": " "}], "Rows with an empty turn"),
        (
            [{"role": "tool", "content": "Q"}],
            "Rows with a turn whose role is not user, assistant or system (human, gpt)",
        ),
        (
            [{"speaker": "user", "text": "Q"}],
            "Rows with a turn that has no role or text (role and content, from and value)",
        ),
        ("Q", "Rows whose messages is not a list of turns"),
        ([{"role": "system", "content": "S"}], "Rows whose last turn is not the assistant's"),
    ],
)
def test_conversation_problems(turns: Any, problem: str) -> None:
    good = {"messages": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}]}
    data = (json.dumps(good) + "\n" + json.dumps({"messages": turns}) + "\n").encode()
    assert _run(data, "jsonl").problems == [f"{problem} (1): 2 (line 2)"]


def test_conversations_in_a_csv_are_refused() -> None:
    assert _run(b'messages\n"[]"\n', "csv").problems == [
        "Conversations need a JSON or JSON Lines file: a CSV cell cannot hold a list of turns"
    ]


def test_files_without_rows() -> None:
    assert _run(b"question,answer\n", "csv").problems == ["The file has no data rows"]
    assert _run(b"[]", "json").problems == ["The file has no data rows"]
    assert _run(b"", "csv").problems == ["The file has no data rows"]
    assert _run(b"\n\n", "jsonl").problems == ["The file has no data rows"]


@pytest.mark.parametrize(
    ("data", "container", "problem"),
    [
        (b'question,answer\nQ,"A\nB\n', "csv", "The CSV cannot be read at line 2: unexpected end of data"),
        (b'question,answer\nQ,A\nQ,"A"B\n', "csv", "The CSV cannot be read at line 3: ',' expected after '\"'"),
        (b'a\tb\nx\t"y"z\n', "tsv", "The TSV cannot be read at line 2: '\t' expected after '\"'"),
        (b"question,question\nQ,A\n", "csv", "The header names a column more than once: 'question'"),
        (
            b'[{"question": "Q"},\n {"question": }]',
            "json",
            "The JSON cannot be read at line 2, column 15: Expecting value",
        ),
        (
            b'[{"question": "Q"}\n {"question": "R"}]',
            "json",
            "The JSON cannot be read at line 2, column 2: Expecting ',' delimiter",
        ),
        (b'[{"question": "Q"}] []', "json", "The JSON cannot be read at line 1, column 21: Extra data"),
        (b'"rows"', "json", "The file holds neither a JSON array of rows nor JSON objects, one per line"),
        (b'{"question": "Q"}\n\n{"question": \n', "jsonl", "Line 3 is not valid JSON: Expecting value (column 14)"),
        (
            b'{"question": "Q"}\n{"question": "R"',
            "json",
            "Line 2 is not valid JSON: Expecting ',' delimiter (column 17)",
        ),
    ],
)
def test_malformed_files_name_the_line(data: bytes, container: str, problem: str) -> None:
    assert _refused(data, container) == (problem,)


def test_only_utf8_is_read() -> None:
    latin1 = "question,answer\nQ,A\nCafé?,Oui\n".encode("latin-1")
    message = "The file is not UTF-8 text (line 3): training data must be UTF-8, with or without a byte order mark"
    assert _refused(latin1, "csv")[0].startswith(message)
    cut_short = "question,answer\nQ,é".encode()[:-1]
    assert _refused(cut_short, "csv")[0].startswith("The file is not UTF-8 text (line 2)")
    utf16 = "question,answer\n".encode("utf-16")
    assert _refused(utf16, "csv")[0].startswith("The file is not UTF-8 text (line 1)")


def test_error_message_names_the_file() -> None:
    error = TrainingDataError(["one", "two"]).at("data/train.csv")
    assert error.message == "data/train.csv: one; two" and error.problems == ("one", "two")


@pytest.mark.parametrize(
    ("path", "container"),
    [("train.csv", "csv"), ("a/b.TSV", "tsv"), ("x.json", "json"), ("x.jsonl", "jsonl"), ("x.ndjson", "jsonl")],
)
def test_containers_by_name(path: str, container: str) -> None:
    assert container_of(path) == container


@pytest.mark.parametrize("path", ["train.parquet", "README.md", "csv", ".csv", "data.csv.gz"])
def test_names_that_are_not_training_files(path: str) -> None:
    assert container_of(path) is None
