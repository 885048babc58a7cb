"""E-mail templates: Jinja2 in a sandbox, files in ``email_templates/`` plus saved overrides.

A template is three parts: subject, HTML and plain text. On disk, ``<name>.html.j2`` holds the
HTML and starts with a subject line comment ``{# subject: ... #}``; ``<name>.txt.j2`` holds the
text part (optional: without it the text is derived from the HTML). Templates saved through the
API (the ``Template`` table) add to or override the files. HTML is autoescaped, undefined
variables are errors (caught when a flow is published), ``None`` renders as nothing, and the
sandbox (:mod:`leadflow.sandbox`) refuses attribute tricks (SSTI) and bounds the work of every
render: huge numbers, strings and ranges are refused before they are computed, and each render
has a budget of steps, output and time. Any failure to render is :class:`Invalid`.
"""

from __future__ import annotations

import functools
import html as html_lib
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import css_inline
from jinja2 import (
    ChoiceLoader,
    DictLoader,
    FileSystemLoader,
    StrictUndefined,
    TemplateError,
    TemplateNotFound,
)
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, func, select

from leadflow.config import PROJECT_ROOT, get_settings
from leadflow.errors import Invalid, NotFound
from leadflow.models import Template, TemplateSnapshot
from leadflow.sandbox import MAX_OUTPUT, BoundedSandbox, budget

__all__ = [
    "SAMPLE_LEAD",
    "TEMPLATE_DIR",
    "RenderedEmail",
    "TemplateSource",
    "check_template_source",
    "get_template_source",
    "list_templates",
    "pinned_source",
    "render_email",
    "render_source",
    "render_string",
    "snapshot_templates",
    "template_errors",
    "template_hash",
    "template_string_errors",
]

TEMPLATE_DIR = PROJECT_ROOT / "email_templates"
_SUBJECT_LINE = re.compile(r"^\{#-?\s*subject:\s*(.*?)\s*-?#\}\s*\n?", re.DOTALL)

SAMPLE_LEAD: dict[str, Any] = {
    "id": "sample",
    "email": "jamie.rivera@example.com",
    "first_name": "Jamie",
    "last_name": "Rivera",
    "company": "Example Corp",
    "title": "VP Marketing",
    "country": "US",
    "timezone": "America/New_York",
    "source": "website",
    "fields": {},
    "tags": [],
    "score": 42.0,
    "temperature": "warm",
    "stage": "MQL",
}


@dataclass
class TemplateSource:
    name: str
    subject: str
    html: str
    text: str | None
    source: str  # "file" or "saved"


@dataclass
class RenderedEmail:
    subject: str
    html: str
    text: str


def _file_source(name: str) -> TemplateSource | None:
    html_path = TEMPLATE_DIR / f"{name}.html.j2"
    if not html_path.is_file():
        return None
    raw = html_path.read_text()
    match = _SUBJECT_LINE.match(raw)
    subject = match.group(1) if match else name.replace("-", " ").capitalize()
    body = raw[match.end():] if match else raw
    txt_path = TEMPLATE_DIR / f"{name}.txt.j2"
    text = txt_path.read_text() if txt_path.is_file() else None
    return TemplateSource(name, subject, body, text, "file")


def _file_names() -> list[str]:
    return sorted(
        p.name[: -len(".html.j2")]
        for p in TEMPLATE_DIR.glob("*.html.j2")
        if not p.name.startswith("_")
    )


def list_templates(session: Session) -> list[TemplateSource]:
    """Every usable template, saved ones overriding files of the same name."""
    found = {n: s for n in _file_names() if (s := _file_source(n))}
    for row in session.exec(select(Template)).all():
        found[row.name] = TemplateSource(row.name, row.subject, row.html, row.text, "saved")
    return [found[n] for n in sorted(found)]


def get_template_source(session: Session, name: str) -> TemplateSource:
    row = session.get(Template, name)
    if row is not None:
        return TemplateSource(row.name, row.subject, row.html, row.text, "saved")
    src = _file_source(name) if not name.startswith("_") else None
    if src is None:
        raise NotFound(f"There is no e-mail template named {name!r}.")
    return src


def _finalize(value: Any) -> Any:
    return "" if value is None else value


def _render(template: Any, context: Mapping[str, Any]) -> str:
    """``template`` rendered, refusing output beyond the sandbox's limit as it is produced."""
    out: list[str] = []
    size = 0
    for chunk in template.generate(context):
        size += len(chunk)
        if size > MAX_OUTPUT:
            raise TemplateError(f"the template produces more than {MAX_OUTPUT:,} characters.")
        out.append(chunk)
    return "".join(out)


def _make_env(saved: Mapping[str, str]) -> BoundedSandbox:
    return BoundedSandbox(
        loader=ChoiceLoader([DictLoader(dict(saved)), FileSystemLoader(str(TEMPLATE_DIR))]),
        autoescape=lambda name: bool(name and name.endswith(".html.j2")),
        undefined=StrictUndefined,
        finalize=_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
    )


class _EnvCache:
    """One compiled environment per state of the saved templates (cheap to check, costly to build)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: Any = None
        self._env: BoundedSandbox | None = None

    def get(self, session: Session) -> BoundedSandbox:
        key = session.exec(select(func.count(), func.max(Template.updated_at))).one()
        key = (tuple(key), TEMPLATE_DIR)
        with self._lock:
            if self._env is None or key != self._key:
                saved: dict[str, str] = {}
                for row in session.exec(select(Template)).all():
                    saved[f"{row.name}.html.j2"] = row.html
                    saved[f"{row.name}.subject.j2"] = row.subject
                    if row.text:
                        saved[f"{row.name}.txt.j2"] = row.text
                self._env, self._key = _make_env(saved), key
            return self._env


_cache = _EnvCache()
_plain_env = _make_env({})


def _html_to_text(html: str) -> str:
    text = re.sub(r"(?is)<(script|style|head).*?</\1>", "", html)
    text = re.sub(r"(?i)<a\s[^>]*href=\"([^\"]+)\"[^>]*>(.*?)</a>", r"\2 (\1)", text)
    text = re.sub(r"(?i)<br\s*/?>|</p>|</h\d>|</li>|</tr>", "\n", text)
    text = re.sub(r"<[^>]+>", "", text)
    text = html_lib.unescape(text)
    lines = [line.strip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"


def build_context(lead: Mapping[str, Any], **extra: Any) -> dict[str, Any]:
    """The variables a template sees: ``lead``, ``unsubscribe_url``, ``postal_address``, ..."""
    settings = get_settings()
    ctx: dict[str, Any] = {
        "lead": dict(lead),
        "postal_address": settings.postal_address,
        "public_url": settings.public_url,
        "unsubscribe_url": f"{settings.public_url}/u/preview",
        "flow": {},
    }
    ctx.update({k: v for k, v in extra.items() if v is not None})
    return ctx


def _subject_source(env: BoundedSandbox, name: str) -> str:
    try:
        return env.loader.get_source(env, f"{name}.subject.j2")[0]  # type: ignore[union-attr]
    except TemplateNotFound:
        src = _file_source(name)
        if src is None:
            raise
        return src.subject


def _subject_template(env: BoundedSandbox, name: str) -> Any:
    """The compiled subject of ``name`` in ``env``: compiled once per environment (the
    environment is rebuilt when a saved template changes), not once per e-mail."""
    try:
        return env.get_template(f"{name}.subject.j2")  # Jinja's cache, checked for changes
    except TemplateNotFound:
        pass
    # a file template: its `{# subject: ... #}` line
    return _compiled_subject(env, _subject_source(env, name))


@functools.lru_cache(maxsize=256)
def _compiled_subject(env: BoundedSandbox, source: str) -> Any:
    return env.from_string(source)


def template_hash(src: TemplateSource) -> str:
    """The content hash of a template's three parts (what a flow version pins)."""
    import hashlib
    import json

    body = json.dumps([src.name, src.subject, src.html, src.text], ensure_ascii=False)
    return hashlib.sha256(body.encode()).hexdigest()


def snapshot_templates(session: Session, names: list[str]) -> dict[str, str]:
    """Pin the current source of each template: ``{name: hash}``, snapshots stored once."""
    pins = {}
    for name in sorted(set(names)):
        src = get_template_source(session, name)
        digest = template_hash(src)
        if session.get(TemplateSnapshot, digest) is None:
            try:
                with session.begin_nested():
                    session.add(TemplateSnapshot(hash=digest, name=name, subject=src.subject,
                                                 html=src.html, text=src.text))
            except IntegrityError:
                pass  # a concurrent publish stored the same snapshot: same content, same hash
        pins[name] = digest
    return pins


_pinned: dict[str, TemplateSource] = {}  # snapshot hash -> source: a snapshot never changes


def pinned_source(session: Session, digest: str) -> TemplateSource | None:
    """The template snapshot ``digest`` pinned by a published version (read once per process:
    its content is its hash)."""
    src = _pinned.get(digest)
    if src is not None:
        return src
    row = session.get(TemplateSnapshot, digest)
    if row is None:
        return None
    src = TemplateSource(row.name, row.subject, row.html, row.text, f"snapshot:{digest}")
    if len(_pinned) >= 512:
        _pinned.pop(next(iter(_pinned)))
    _pinned[digest] = src
    return src


_snapshot_envs: dict[str, BoundedSandbox] = {}


def _snapshot_env(src: TemplateSource) -> BoundedSandbox:
    """An environment where ``src`` (a pinned snapshot) is the template of its name."""
    env = _snapshot_envs.get(src.source)
    if env is None:
        parts = {f"{src.name}.html.j2": src.html, f"{src.name}.subject.j2": src.subject}
        if src.text:
            parts[f"{src.name}.txt.j2"] = src.text
        env = _snapshot_envs.setdefault(src.source, _make_env(parts))
    return env


def render_email(session: Session, name: str, context: Mapping[str, Any],
                 source: TemplateSource | None = None) -> RenderedEmail:
    """Render template ``name`` with ``context`` (see :func:`build_context`); ``source`` is a
    pinned snapshot (:func:`pinned_source`) to render instead of the template as it is now.

    Raises:
        NotFound: no such template.
        Invalid: the template does not render (syntax error, undefined variable, sandbox).
    """
    env = _snapshot_env(source) if source is not None else _cache.get(session)
    try:
        html_tmpl = env.get_template(f"{name}.html.j2")
    except TemplateNotFound as exc:
        raise NotFound(f"There is no e-mail template named {name!r}.") from exc
    except Exception as exc:  # a syntax error, or a refused constant
        raise Invalid(f"Template {name!r} does not render: {_why(exc)}") from exc
    try:
        with budget():
            # a file's `{# subject: ... #}` line is a Jinja comment: it renders as nothing
            body = _render(html_tmpl, context)
            subject = _render(_subject_template(env, name), context).strip()
            try:
                text = _render(env.get_template(f"{name}.txt.j2"), context)
            except TemplateNotFound:
                text = _html_to_text(body)
    except Exception as exc:  # any failure of a marketer's template is theirs
        raise Invalid(f"Template {name!r} does not render: {_why(exc)}") from exc
    body = css_inline.inline(body) if "<style" in body else body
    return RenderedEmail(subject=" ".join(subject.split()), html=body, text=text)


_PROBE_UNSUBSCRIBE = "https://unsubscribe.invalid/u/probe"


def _compliance_problems(html: str, postal_address: str | None = None) -> list[str]:
    """CAN-SPAM: every marketing mail carries the unsubscribe link and the postal address."""
    problems = []
    address = postal_address or get_settings().postal_address
    if _PROBE_UNSUBSCRIBE not in html:
        problems.append("it has no unsubscribe link; add {{ unsubscribe_url }} (the shared "
                        "layout _layout.html.j2 has it).")
    if html_lib.escape(address) not in html and address not in html:
        problems.append("it does not show the postal address; add {{ postal_address }} (the "
                        "shared layout has it).")
    return problems


def template_errors(session: Session, name: str) -> list[str]:
    """Why ``name`` cannot be sent: it does not render for the sample lead, or it lacks the
    unsubscribe link or postal address (empty when all is well)."""
    from leadflow.workspace import workspace

    address = workspace(session)["postal_address"]
    try:
        mail = render_email(session, name, build_context(SAMPLE_LEAD, postal_address=address,
                                                         unsubscribe_url=_PROBE_UNSUBSCRIBE))
    except NotFound as exc:
        return [exc.detail]
    except Invalid as exc:
        return [exc.detail.split(": ", 1)[-1]]
    return _compliance_problems(mail.html, address)


def check_template_source(subject: str, html: str, text: str | None,
                          postal_address: str | None = None) -> list[dict[str, str]]:
    """Problems with a template about to be saved, rendered against the sample lead."""
    env = _make_env({"_probe.html.j2": html, **({"_probe.txt.j2": text} if text else {})})
    problems = []
    ctx = build_context(SAMPLE_LEAD, unsubscribe_url=_PROBE_UNSUBSCRIBE,
                        postal_address=postal_address)
    for field, source, tmpl_name in (
        ("subject", subject, None),
        ("html", html, "_probe.html.j2"),
        ("text", text, "_probe.txt.j2"),
    ):
        if source is None:
            continue
        try:
            with budget():
                _render(env.get_template(tmpl_name) if tmpl_name else env.from_string(source),
                        ctx)
        except Exception as exc:  # noqa: BLE001 - every way a template fails is a problem
            problems.append({"path": field,
                             "message": f"The {field} does not render: {_why(exc)}"})
    if not problems:
        with budget():
            rendered = _render(env.get_template("_probe.html.j2"), ctx)
        problems += [{"path": "html", "message": f"The html cannot be sent: {p}"}
                     for p in _compliance_problems(rendered, postal_address)]
    return problems


def render_source(subject: str, html: str, text: str | None,
                  context: Mapping[str, Any]) -> RenderedEmail:
    """Render a template that is not saved (the editor's live preview).

    Raises:
        Invalid: it does not render, with the problem of each part.
    """
    env = _make_env({"_draft.html.j2": html, **({"_draft.txt.j2": text} if text else {})})
    problems = []
    out: dict[str, str] = {}
    for field, render in (
        ("subject", lambda: env.from_string(subject).render(context)),
        ("html", lambda: env.get_template("_draft.html.j2").render(context)),
        ("text", lambda: env.get_template("_draft.txt.j2").render(context) if text else None),
    ):
        try:
            value = render()
        except TemplateError as exc:
            problems.append({"path": field, "message": f"The {field} does not render: {exc}"})
            continue
        if value is not None:
            out[field] = value
    if problems:
        raise Invalid("The template does not render.", problems=problems)
    body = css_inline.inline(out["html"]) if "<style" in out["html"] else out["html"]
    return RenderedEmail(subject=" ".join(out["subject"].split()), html=body,
                         text=out.get("text") or _html_to_text(out["html"]))


def render_string(source: str, context: Mapping[str, Any]) -> str:
    """Render a one-off template string (notify messages, subjects) in the sandbox, without
    autoescape.

    Raises:
        Invalid: it does not render (syntax, undefined variable, sandbox refusal, limits).
    """
    try:
        with budget():
            return _render(_plain_env.from_string(source), context)
    except Exception as exc:  # any failure of a marketer's text is theirs
        raise Invalid(f"The text does not render: {_why(exc)}") from exc


def template_string_errors(source: str, flow: Mapping[str, Any] | None = None) -> list[str]:
    """Why a template string (a notify message, a subject) would fail for a lead: rendered
    against the sample lead, so undefined variables and refused expressions show at publish."""
    ctx = build_context(SAMPLE_LEAD, flow=dict(flow or {"id": "sample", "name": "Sample"}))
    try:
        render_string(source, ctx)
    except Invalid as exc:
        return [exc.detail.split(": ", 1)[-1]]
    return []


def _why(exc: BaseException) -> str:
    """A sentence for a failed render (Python's own errors named, Jinja's as they are)."""
    if isinstance(exc, TemplateError):
        return str(exc)
    if isinstance(exc, RecursionError):
        return "macros call themselves too deeply."
    if isinstance(exc, MemoryError):
        return "the template needs too much memory."
    return f"{type(exc).__name__}: {exc}"
