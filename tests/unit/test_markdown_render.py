"""The portal's markdown renderer over the shapes model cards use: math, prices, task lists, quotes and
alerts, footnotes, relative links and images, and what an attacker would write inside each of them."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from csghub.web.markdown import render_card, render_document, render_markdown
from csghub.web.markdown_links import RepoLinks, resolve_url
from csghub.web.markdown_math import to_mathml

MODEL = RepoLinks("/alice/bert", "main")
DATASET_DOC = RepoLinks.for_file("/datasets/alice/corpus", "v1", "docs/guide/intro.md")


class _Elements(HTMLParser):
    """Every start tag with its attributes, to assert on what a browser would build."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, dict(attrs)))


def elements(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Elements()
    parser.feed(html)
    return parser.found


def attribute_values(html: str, name: str) -> list[str]:
    return [str(attrs[name]) for _, attrs in elements(html) if name in attrs]


def test_render_inline_math_becomes_mathml() -> None:
    html = render_markdown(r"Energy $E = mc^2$ here.")
    assert '<math display="inline">' in html
    assert "<msup><mi>c</mi><mn>2</mn></msup>" in html
    assert "$" not in html


def test_render_display_math_becomes_a_scrollable_block() -> None:
    html = render_markdown("Before\n\n$$\n\\frac{a}{b}\n$$\n\nAfter")
    assert '<span class="math-display"><math display="block">' in html
    assert "<mfrac>" in html


def test_render_double_dollars_inside_a_paragraph_are_display_math() -> None:
    html = render_markdown(r"so $$x^2$$ follows")
    assert '<math display="block">' in html
    assert html.startswith("<p>so ")


def test_render_latex_brackets_are_math() -> None:
    html = render_markdown("Inline \\(a+b\\) and\n\n\\[\nx = 1\n\\]\n")
    assert '<math display="inline">' in html and '<math display="block">' in html


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("References: \\[1\\] Smith and \\[2\\] Jones.", "References: [1] Smith and [2] Jones."),
        ("\\[1\\] Smith et al.\n\\[2\\] Jones", "[1] Smith et al.\n[2] Jones"),
        ("\\[\n\nx\n\\]", "x"),
        ("Escaped \\\\(a\\\\) stays", "Escaped \\(a\\) stays"),
        ("`\\(c\\)` is code", "\\(c\\)"),
    ],
)
def test_render_escaped_brackets_stay_prose(text: str, kept: str) -> None:
    html = render_markdown(text)
    assert "<math" not in html
    assert kept in html


def test_render_latex_brackets_in_quotes_and_lists() -> None:
    html = render_markdown("> \\[\n> z^2\n> \\]\n\n- item\n\n  \\[\n  w\n  \\]\n")
    assert html.count('<math display="block">') == 2
    assert "&gt;" not in html  # the quote's markers are not part of the formula


@pytest.mark.parametrize(
    "text",
    [
        "It costs $5 and $10.",
        "From $5 to $10 and $20.",
        "Costs 5$ or 10$ each.",
        "A $ 3 $ spaced pair is prose.",
        "Price: $1,000-$2,000 per month",
    ],
)
def test_render_prices_stay_prose(text: str) -> None:
    html = render_markdown(text)
    assert "<math" not in html
    assert html.count("$") == text.count("$")


def test_render_math_inside_code_stays_code() -> None:
    html = render_markdown("Use `$x^2$` inline.\n\n```\n$$y$$\n```\n\n    $z$ indented\n")
    assert "<math" not in html
    assert "<code>$x^2$</code>" in html and "$$y$$" in html and "$z$" in html


def test_render_escaped_dollar_is_a_dollar() -> None:
    assert "<math" not in render_markdown(r"Costs \$5 and \$6 per $unit.")


@pytest.mark.parametrize("latex", [r"\frac{1}{", r"x^", r"\begin{matrix} 1 & 2", r"\genfrac{(}{)}{0pt}{}{a}{b}"])
def test_render_bad_latex_shows_its_source(latex: str) -> None:
    html = render_markdown(f"See ${latex}$ here")
    assert '<code class="math-error">' in html
    assert "<math" not in html


def test_render_bad_display_latex_shows_its_source_as_a_block() -> None:
    html = render_markdown("$$\n\\left( x\n$$")
    assert 'class="math-error math-error-display"' in html
    assert "\\left( x" in html


def test_render_huge_formula_shows_its_source() -> None:
    html = to_mathml("x+" * 3000 + "x", display=False)
    assert html.startswith('<code class="math-error">')


def test_render_deeply_nested_formula_never_raises() -> None:
    html = to_mathml("{" * 2000 + "x" + "}" * 2000, display=True)
    assert "math" in html  # MathML or its source, never an exception


@pytest.mark.parametrize(
    "text",
    [
        r"$\text{<script>alert(1)</script>}$",
        r"$\text{&#x3C;script>alert(1)&#x3C;/script>}$",
        r"$\text{<img src=x onerror=alert(1)>}$",
        r"$$\href{javascript:alert(1)}{click}$$",
        "<math><mi xlink:href='javascript:alert(1)' href='javascript:alert(2)'>x</mi></math>",
        "<math><maction actiontype='statusline' onclick='alert(1)'><mi>x</mi></maction></math>",
        "<math><mtext><style><img src=x onerror=alert(1)></style></mtext></math>",
        "<math><annotation-xml encoding='text/html'><script>alert(1)</script></annotation-xml></math>",
        "<svg><script>alert(1)</script></svg>",
    ],
)
def test_render_math_cannot_carry_script(text: str) -> None:
    html = render_markdown(text, MODEL)
    tags = [tag for tag, _ in elements(html)]
    assert not {"script", "style", "img", "svg", "maction", "annotation-xml"} & set(tags)
    assert "javascript" not in html
    assert not any(name.startswith("on") or "href" in name for _, attrs in elements(html) for name in attrs)


def test_render_mathml_keeps_only_presentation_attributes() -> None:
    html = render_markdown(r"$$\color{red}{x} \boxed{y} \begin{array}{c|l} a & b \end{array}$$")
    assert 'mathcolor="red"' in html and 'notation="box"' in html and "columnlines" in html
    allowed = {"display", "mathcolor", "notation", "columnlines", "columnalign", "class", "stretchy", "fence"}
    allowed |= {"columnspacing", "rowspacing", "displaystyle", "scriptlevel", "form", "lspace", "rspace"}
    assert {name for _, attrs in elements(html) for name in attrs} <= allowed


def test_render_task_list_items_are_disabled_checkboxes() -> None:
    html = render_markdown("- [ ] todo\n- [x] done\n  - [ ] nested\n    1. [x] deeper\n- plain")
    boxes = [attrs for tag, attrs in elements(html) if tag == "input"]
    assert len(boxes) == 4
    assert all(b["type"] == "checkbox" and b.get("disabled") is not None for b in boxes)
    assert [b.get("checked") is not None for b in boxes] == [False, True, False, True]
    assert "<li>plain</li>" in html


def test_render_raw_inputs_are_never_live_fields() -> None:
    html = render_markdown('<input type="password" name="p" onfocus="x()"><input type="checkbox" checked>')
    boxes = [attrs for tag, attrs in elements(html) if tag == "input"]
    assert all(b.get("disabled") is not None and b.get("type") in (None, "checkbox") for b in boxes)
    assert "password" not in html and "onfocus" not in html and 'name="p"' not in html


def test_render_blockquote_and_alerts() -> None:
    html = render_markdown("> quoted\n\n> [!NOTE]\n> Useful\n\n> [!WARNING]\n> Careful")
    assert "<blockquote>\n<p>quoted</p>\n</blockquote>" in html
    assert '<div class="markdown-alert markdown-alert-note">' in html
    assert '<p class="markdown-alert-title">Warning</p>' in html


def test_render_footnotes_and_anchors_link_within_the_card() -> None:
    html = render_markdown("## Usage notes\n\nText[^a] and [see](#usage-notes).\n\n[^a]: The note.")
    ids = set(attribute_values(html, "id"))
    targets = {h[1:] for h in attribute_values(html, "href") if h.startswith("#")}
    assert "user-content-usage-notes" in ids
    assert targets and targets <= ids


def test_render_ids_cannot_take_over_the_page() -> None:
    html = render_markdown('<h2 id="site-menu">x</h2><a id="theme" href="#site-menu">y</a>')
    assert set(attribute_values(html, "id")) == {"user-content-site-menu", "user-content-theme"}


def test_render_classes_outside_the_extensions_are_dropped() -> None:
    html = render_markdown('<ul class="modal"><li class="task-list-item overlay">x</li></ul><p class="x">y</p>')
    assert "modal" not in html and "overlay" not in html and 'class="x"' not in html


@pytest.mark.parametrize(
    ("links", "written", "image", "expected"),
    [
        (MODEL, "images/a.png", True, "/alice/bert/resolve/main/images/a.png"),
        (MODEL, "./images/a.png", True, "/alice/bert/resolve/main/images/a.png"),
        (MODEL, "images/../b.png", True, "/alice/bert/resolve/main/b.png"),
        (MODEL, "../../../etc/passwd", True, "/alice/bert/resolve/main/etc/passwd"),
        (MODEL, "%2e%2e/%2E%2E/x.png", True, "/alice/bert/resolve/main/x.png"),
        (MODEL, "docs/guide.md", False, "/alice/bert/blob/main/docs/guide.md"),
        (MODEL, "docs/guide.md#setup", False, "/alice/bert/blob/main/docs/guide.md#setup"),
        (MODEL, "docs/", False, "/alice/bert/tree/main/docs"),
        (MODEL, "..", False, "/alice/bert/tree/main"),
        (DATASET_DOC, "img/x.png?raw=1", True, "/datasets/alice/corpus/resolve/v1/docs/guide/img/x.png?raw=1"),
        (DATASET_DOC, "../../README.md", False, "/datasets/alice/corpus/blob/v1/README.md"),
        (DATASET_DOC, "../../../../../../x.md", False, "/datasets/alice/corpus/blob/v1/x.md"),
        (RepoLinks("/spaces/a/b", "refs/pr/1"), "a.png", True, "/spaces/a/b/resolve/refs%2Fpr%2F1/a.png"),
        (MODEL, "https://example.com/a.png", True, "https://example.com/a.png"),
        (MODEL, "//cdn.example.com/a.png", True, "//cdn.example.com/a.png"),
        (MODEL, "/datasets/alice/corpus", False, "/datasets/alice/corpus"),
        (MODEL, "#usage", False, "#usage"),
        (MODEL, "mailto:a@example.com", False, "mailto:a@example.com"),
    ],
)
def test_resolve_url_against_the_repository(links: RepoLinks, written: str, image: bool, expected: str) -> None:
    assert resolve_url(links, written, image=image) == expected


def test_render_relative_images_and_links_in_markdown_and_raw_html() -> None:
    text = '![a](images/a.png) [guide](docs/guide.md) <img src="assets/logo.png" width="80"> ![c](../../x.png)'
    html = render_markdown(text, MODEL)
    assert attribute_values(html, "src") == [
        "/alice/bert/resolve/main/images/a.png",
        "/alice/bert/resolve/main/assets/logo.png",
        "/alice/bert/resolve/main/x.png",
    ]
    assert attribute_values(html, "href") == ["/alice/bert/blob/main/docs/guide.md"]


def test_render_without_a_repository_leaves_links_as_written() -> None:
    html = render_markdown("![a](images/a.png)")
    assert attribute_values(html, "src") == ["images/a.png"]


@pytest.mark.parametrize(
    "text",
    [
        "[x](javascript:alert(1))",
        "[x](JaVaScRiPt:alert(1))",
        "[x](  javascript:alert(1))",
        "<a href='javascript:alert(1)'>x</a>",
        "<a href='jav&#x09;ascript:alert(1)'>x</a>",
        "![x](javascript:alert(1))",
        "<img src='data:image/svg+xml,<svg onload=alert(1)>'>",
        "<a href='vbscript:msgbox(1)'>x</a>",
        "<img src=x onerror='alert(1)'>",
        '<p style="position:fixed" onclick="alert(1)">x</p>',
        "<iframe src='https://example.com'></iframe><script>alert(1)</script>",
        "<form action='/settings'><button>go</button></form>",
    ],
)
def test_render_attacks_in_links_and_attributes_are_inert(text: str) -> None:
    html = render_markdown(text, MODEL)
    urls = [u.lower().replace("\t", "") for u in attribute_values(html, "href") + attribute_values(html, "src")]
    assert not [u for u in urls if u.startswith(("javascript:", "vbscript:", "data:"))]
    assert not re.search(r"<[^>]*\son[a-z]+=", html.lower()) and "style=" not in html.lower()
    assert not {"script", "iframe", "form", "button"} & {tag for tag, _ in elements(html)}


def test_render_card_drops_front_matter_and_document_keeps_it() -> None:
    text = "---\nlicense: mit\n---\n# Title\n\n![a](a.png)\n"
    card = render_card(text, MODEL)
    front, body = render_document(text, RepoLinks.for_file("/alice/bert", "main", "docs/x.md"))
    assert "license" not in card and '<h1 id="user-content-title">Title</h1>' in card
    assert front is not None and front.rows == [("license", "mit")]
    assert attribute_values(body, "src") == ["/alice/bert/resolve/main/docs/a.png"]


def test_render_tables_code_and_autolinks_still_work() -> None:
    text = "| a | b |\n|---|---|\n| 1 | 2 |\n\n```python\nx = 1\n```\n\n~~old~~ see https://example.com"
    html = render_markdown(text + "\n\n<details><summary>More</summary>hidden</details>")
    assert "<table>" in html and "<td>2</td>" in html and "<s>old</s>" in html
    assert "<details><summary>More</summary>hidden</details>" in html
    assert '<span class="n">x</span>' in html
    assert attribute_values(html, "href") == ["https://example.com"]
