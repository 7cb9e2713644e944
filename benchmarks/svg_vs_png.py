"""Figures as PNG or as SVG in the PDF: WeasyPrint's render time and the PDF's size.

    .venv/bin/python benchmarks/svg_vs_png.py [--repeat 3]

Builds the Belgian sample and a figure-heavy report (the pbc example with 24 Kaplan–Meier
figures) three ways: PNG at 300 dpi (what the report does), SVG with the text as paths
(``svg.fonttype = "path"``: the glyphs are outlines, so the type matches with no font to
find) and SVG with the text as text (``"none"``: WeasyPrint sets it in whatever font it
finds under the family name). Only the PDF step is timed (WeasyPrint in this process); the
figures are drawn before it, and one untimed build first loads WeasyPrint, so that the
first mode timed does not pay for it. Prints one line per report and mode: seconds (best of
the repeats), PDF size in KiB, figures.
"""

from __future__ import annotations

import argparse
import base64
import io
import shutil
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def heavy_config(folder: Path) -> Path:
    """The pbc example with 24 more survival sections, each with a KM figure and risk table."""
    shutil.copytree(ROOT / "examples" / "pbc", folder, dirs_exist_ok=True)
    text = (folder / "report.toml").read_text(encoding="utf-8")
    for k in range(24):
        by = ("treatment", "sex", "ascites", "oedema", "stage", "hepatomegaly")[k % 6]
        text += (f'\n[[section]]\nid = "km{k}"\nanalysis = "survival"\ntitle = "KM {k}"\n'
                 f'endpoints = ["os"]\nby = "{by}"\nrisk_times = [0, 2, 4, 6, 8, 10, 12]\n'
                 f'ci_bands = {"true" if k % 2 else "false"}\n')
    (folder / "report.toml").write_text(text, encoding="utf-8")
    return folder / "report.toml"


def run(config: Path, mode: str, repeat: int) -> tuple[float, int, int]:
    import matplotlib

    from cohortpress.app.build import build
    from cohortpress.kit import figure_style, figures
    from cohortpress.render import jinja, weasy

    saved = (figures._save, jinja.png_data_uri, weasy.write_pdf)
    timings: list[float] = []

    def svg_save(fig, plt):
        buffer = io.BytesIO()
        fig.savefig(buffer, format="svg", metadata={"Date": None})
        plt.close(fig)
        return buffer.getvalue()

    def uri(data: bytes) -> str:
        kind = "image/svg+xml" if data.lstrip().startswith(b"<?xml") else "image/png"
        return f"data:{kind};base64," + base64.b64encode(data).decode("ascii")

    def timed(html, output, settings):
        started = time.perf_counter()
        saved[2](html, output, settings)
        timings.append(time.perf_counter() - started)

    style = dict(figure_style.STYLE)
    if mode != "png":
        figures._save = svg_save
        figure_style.STYLE["svg.fonttype"] = "path" if mode == "svg-paths" else "none"
    jinja.png_data_uri = uri
    weasy.write_pdf = timed
    try:
        with tempfile.TemporaryDirectory() as out:
            for _ in range(repeat):
                outcome = build(config, Path(out) / "r", pdf_worker=False)
            size = (Path(out) / "r" / "report.pdf").stat().st_size
            n_figures = sum(1 for s in outcome.sections for b in s.blocks
                            if b.kind == "figure") if hasattr(outcome, "sections") else -1
    finally:
        figures._save, jinja.png_data_uri, weasy.write_pdf = saved
        figure_style.STYLE.clear()
        figure_style.STYLE.update(style)
        matplotlib.rcdefaults()
    return min(timings), size, n_figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        reports = {"belgian": ROOT / "sample_reports" / "belgian_infant_leukaemia" /
                   "report.toml", "pbc+24 KM": heavy_config(Path(tmp) / "heavy")}
        run(reports["belgian"], "png", 1)  # warm-up: WeasyPrint's import and fonts
        for name, config in reports.items():
            for mode in ("png", "svg-paths", "svg-text"):
                seconds, size, n = run(config, mode, args.repeat)
                print(f"{name:10s} {mode:10s} PDF step {seconds:6.2f} s  "
                      f"PDF {size / 1024:8.0f} KiB  figures {n}", flush=True)


if __name__ == "__main__":
    main()
