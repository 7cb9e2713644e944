"""The PDF writer on small documents: tags, language, title, figure alt text, PDF/A-3b with
an attachment, identical bytes. The whole report is checked in test_output.py.

The PDF's structure is read by inflating its streams with zlib (object streams included), so
no PDF library is needed; poppler's pdfinfo and pdfdetach are used where they are installed.
"""

from __future__ import annotations

import base64
import re
import subprocess
import zlib
from pathlib import Path

import pytest

from cohortpress.render.dates import file_stamp
from cohortpress.render.weasy import write_pdf
from cohortpress.render.jinja import static_dir


# --------------------------------------------------------------------------- reading a PDF


def pdf_text_objects(pdf: bytes) -> bytes:
    """The file with every Flate stream inflated and appended (dictionaries in object
    streams become searchable)."""
    parts = [pdf]
    for match in re.finditer(rb"stream\r?\n", pdf):
        inflater = zlib.decompressobj()
        try:
            parts.append(inflater.decompress(pdf[match.end():]))
        except zlib.error:
            continue
    return b"\n".join(parts)


def pdf_strings(objects: bytes, key: str) -> list[str]:
    """The values of ``/key`` string entries, decoded (literal or UTF-16 hex strings)."""
    pattern = rb"/" + key.encode() + rb"\s*(\((?:\\.|[^\\)])*\)|<[0-9A-Fa-f\s]*>)"
    return [_decode(m.group(1)) for m in re.finditer(pattern, objects, re.DOTALL)]


def _decode(token: bytes) -> str:
    if token.startswith(b"<"):
        raw = bytes.fromhex(re.sub(rb"\s", b"", token[1:-1]).decode())
    else:
        raw, body, i = bytearray(), token[1:-1], 0
        escapes = {ord("n"): 10, ord("r"): 13, ord("t"): 9, ord("b"): 8, ord("f"): 12}
        while i < len(body):
            c = body[i]
            if c == 0x5C and i + 1 < len(body):  # backslash
                nxt = body[i + 1]
                if 0x30 <= nxt <= 0x37:
                    digits = re.match(rb"[0-7]{1,3}", body[i + 1:i + 4]).group()
                    raw.append(int(digits, 8))
                    i += 1 + len(digits)
                    continue
                raw.append(escapes.get(nxt, nxt))
                i += 2
                continue
            raw.append(c)
            i += 1
        raw = bytes(raw)
    if raw.startswith(b"\xfe\xff"):
        return raw[2:].decode("utf-16-be")
    return raw.decode("latin-1")


def tool(name: str) -> str:
    import shutil

    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} (poppler-utils) is not installed; the PDF cannot be inspected")
    return path


# --------------------------------------------------------------------------- documents


def tiny_png() -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import io

    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(1, 1), dpi=30)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    plt.close(fig)
    return buffer.getvalue()


ALT = "Kaplan–Meier curves of overall survival for arms A and B; log-rank p = 0.03."


def html(lang: str = "fr", title: str = "Rapport d’essai — survie") -> str:
    png = base64.b64encode(tiny_png()).decode()
    return f"""<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">
<title>{title}</title>
<meta name="dcterms.created" content="2024-05-31T00:00:00Z">
<meta name="dcterms.modified" content="2024-05-31T00:00:00Z">
<style>@font-face {{ font-family: "CP Serif"; src: url(fonts/LiberationSerif-Regular.ttf); }}
body {{ font-family: "CP Serif"; }}</style></head>
<body><h1>{title}</h1><p>Texte.</p>
<table><caption>Table 1. Caption.</caption><thead><tr><th scope="col">Arm</th>
<th scope="col">n</th></tr></thead><tbody><tr><th scope="row">A</th><td>12</td></tr></tbody></table>
<figure><img src="data:image/png;base64,{png}" alt="{ALT}" style="width: 20mm">
<figcaption>Figure 1. Survival.</figcaption></figure></body></html>"""


def settings(**extra):
    static = static_dir()
    return {"base_url": static.as_uri() + "/", "static": str(static), "pdf_variant": None,
            "attachments": [], **extra}


@pytest.fixture(scope="module")
def tagged(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("pdf") / "tagged.pdf"
    write_pdf(html(), path, settings())
    return path


def test_the_pdf_is_tagged_with_language_and_title(tagged):
    info = subprocess.run([tool("pdfinfo"), str(tagged)], capture_output=True, text=True,
                          check=True, timeout=60).stdout
    assert re.search(r"^Tagged:\s+yes$", info, re.MULTILINE), info
    assert re.search(r"^Title:\s+Rapport d’essai — survie$", info, re.MULTILINE), info
    objects = pdf_text_objects(tagged.read_bytes())
    assert pdf_strings(objects, "Lang") == ["fr"]
    assert re.search(rb"/DisplayDocTitle\s+true", objects)
    assert b"/StructTreeRoot" in objects and re.search(rb"/Marked\s+true", objects)


def test_structure_tree_has_tables_and_figures_with_alt_text(tagged):
    objects = pdf_text_objects(tagged.read_bytes())
    for role in (b"/H1", b"/P", b"/Table", b"/TH", b"/TD", b"/Caption", b"/Figure"):
        assert re.search(rb"/S\s*" + re.escape(role) + rb"\b", objects), role
    assert ALT in pdf_strings(objects, "Alt")


def test_an_untagged_pdf_fails_these_checks(tmp_path):
    """The checks above can fail: a PDF written without tags has no structure tree."""
    import weasyprint

    path = tmp_path / "plain.pdf"
    weasyprint.HTML(string=html(), base_url=settings()["base_url"]).write_pdf(str(path))
    objects = pdf_text_objects(path.read_bytes())
    assert b"/StructTreeRoot" not in objects and ALT not in pdf_strings(objects, "Alt")


def test_file_stamp():
    assert file_stamp("2024-05-31T00:00:00Z").isoformat() == "2024-05-31T00:00:00"
    assert file_stamp(None).year == 1970  # SOURCE_DATE_EPOCH is 0 in a build


def test_pdf_a_3b_with_results_attached_is_deterministic(tmp_path):
    data = tmp_path / "results.json"
    data.write_text('{"results": []}\n', encoding="utf-8")
    outputs = []
    for name in ("a.pdf", "b.pdf"):
        out = tmp_path / name
        write_pdf(html("en-GB", "Trial report"), out,
                  settings(pdf_variant="pdf/a-3b", attachments=[data],
                           date="2023-01-02T00:00:00Z"))
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]
    objects = pdf_text_objects(outputs[0])
    assert re.search(rb'pdfaid:part="3"', objects) and re.search(rb'pdfaid:conformance="B"',
                                                                 objects)
    assert re.search(rb"/S\s*/GTS_PDFA1", objects)  # the sRGB output intent
    assert re.search(rb"/AFRelationship\s*/Data", objects)
    assert re.search(rb"/Subtype\s*/application#2[fF]json", objects)
    # The attachment is dated with the report's date (settings["date"]), not the time of the
    # build; the document's own dates come from the HTML's dcterms.
    params = re.search(rb"/Params\s*<<.*?>>", objects, re.DOTALL).group()
    assert pdf_strings(params, "ModDate") == ["D:20230102000000Z"]
    assert pdf_strings(params, "CreationDate") == ["D:20230102000000Z"]
    assert pdf_strings(objects, "Lang") == ["en-GB"]
    listing = subprocess.run([tool("pdfdetach"), "-list", str(tmp_path / "a.pdf")],
                             capture_output=True, text=True, check=True, timeout=60).stdout
    assert listing.splitlines() == ["1 embedded files", "1: results.json"]
