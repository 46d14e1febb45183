"""Run the benchmarks: ``python -m benchmarks [name ...]``.

Writes ``benchmarks/results.json`` (merged with earlier results when only some benchmarks
run), regenerates the table section of ``docs/benchmarks.md`` and prints the table.
"""

from __future__ import annotations

import json
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

from . import decode_json, decode_xml, fanout, locate, memory, overhead, planning
from .harness import Result, quiet_logging

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results.json"
DOC = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"

BENCHMARKS: dict[str, Callable[[], Result | list[Result]]] = {
    "decode_json": decode_json.run,
    "decode_xml": decode_xml.run,
    "overhead": overhead.run,
    "fanout": fanout.run,
    "planning": planning.run,
    "memory": memory.run,
    "locate": locate.run,
}


def _fmt(x: float) -> str:
    return f"{x:.3g}" if abs(x) < 100 else f"{x:,.0f}"


def table(results: list[dict[str, object]]) -> str:
    """The results as a Markdown table."""
    lines = [
        "| Benchmark | Ratio (median) | Spread (min-max) | Rounds | Ratio is | Target | Met | "
        "Figures (medians) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        ratio = r["ratio"]
        assert isinstance(ratio, dict)
        met = {True: "yes", False: "**no**", None: "-"}[r["met"]]  # type: ignore[index]
        figures = "; ".join(f"{k}={v}" for k, v in r["figures"].items())  # type: ignore[attr-defined]
        lines.append(
            f"| {r['title']} | {_fmt(ratio['median'])} | {_fmt(ratio['low'])}-"
            f"{_fmt(ratio['high'])} | {r['rounds']} | {r['ratio_meaning']} | "
            f"{r['target'] or '-'} | {met} | {figures} |"
        )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    names = argv or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s): {unknown}; choose from {list(BENCHMARKS)}")
        return 2
    quiet_logging()
    previous: dict[str, dict[str, object]] = {}
    if RESULTS.exists() and argv:
        # Earlier results of the benchmarks not run now; those of a benchmark run now are
        # replaced whole (a result it no longer produces must not linger in the table).
        previous = {
            r["name"]: r for r in json.loads(RESULTS.read_text())["results"]
            if r.get("benchmark", r["name"]) not in names
        }
    started = time.perf_counter()
    fresh: dict[str, dict[str, object]] = {}
    for name in names:
        t0 = time.perf_counter()
        print(f"== {name} ...", flush=True)
        got = BENCHMARKS[name]()
        for res in got if isinstance(got, list) else [got]:
            fresh[res.name] = {**res.as_dict(), "benchmark": name}
            print(f"   {res.name}: {res.ratio.median:.3g} "
                  f"({res.ratio.low:.3g}-{res.ratio.high:.3g}) {res.figures}", flush=True)
        print(f"   ({time.perf_counter() - t0:.0f}s)", flush=True)
    merged = {**previous, **fresh}
    rank = {name: i for i, name in enumerate(BENCHMARKS)}
    # The table in the registry's order, whichever benchmarks ran this time.
    results = sorted(merged.values(),
                     key=lambda r: rank.get(str(r.get("benchmark")), len(rank)))
    RESULTS.write_text(json.dumps({
        "python": sys.version.split()[0],
        "machine": f"{platform.machine()} {platform.system()}",
        "seconds": round(time.perf_counter() - started, 1),
        "results": results,
    }, indent=2) + "\n")
    text = table(results)
    if DOC.exists():
        doc = DOC.read_text()
        if BEGIN in doc and END in doc:
            head, rest = doc.split(BEGIN, 1)
            _, tail = rest.split(END, 1)
            DOC.write_text(f"{head}{BEGIN}\n{text}\n{END}{tail}")
    print()
    print(text)
    print(f"\ntotal {time.perf_counter() - started:.0f}s; wrote {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
