"""REPORT.md, generated only from ``results/*.json`` (never typed by hand), written atomically.

Claim results are ``results/<id>.json`` (``memsep run``); fuzz campaigns are
``results/fuzz/<id>.json`` (``memsep fuzz``, the latest campaign per claim), shown in a
"Fuzz campaigns" section after the claims and pointed to from each claim's section.
"""

from __future__ import annotations

import html
import json
import math
import re
from pathlib import Path

from .io import atomic_write_text
from .registry import OUTCOMES, PROFILES, VERDICTS, claim_order

__all__ = ["load_results", "load_campaigns", "load_replicates", "render_report", "write_report"]

_MARK = {
    "CONFIRMED": "CONFIRMED",
    "NOT CONFIRMED": "**NOT CONFIRMED**",
    "INCONCLUSIVE": "*INCONCLUSIVE*",
    "ERROR": "**ERROR**",
}
_BOX = {"pass": "[x]", "fail": "[ ]", "inconclusive": "[?]"}
_FIGURE = re.compile(r"^figures/[A-Za-z0-9_.-]+\.png$")


def _num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _str(v) -> bool:
    return isinstance(v, str)


def _list_of(pred):
    return lambda v: isinstance(v, list) and all(pred(x) for x in v)


def _obj(**fields):
    """A predicate: a dict whose listed fields pass their predicates (optional ones end in '_')."""

    def check(v):
        if not isinstance(v, dict):
            return False
        for name, pred in fields.items():
            key, optional = (name[:-1], True) if name.endswith("_") else (name, False)
            if key not in v:
                if not optional:
                    return False
                continue
            if not pred(v[key]):
                return False
        return True

    return check


# What the report reads of a results file, field by field (a file from elsewhere is checked, not trusted).
_RESULT_FIELDS = {
    "claim": _obj(id=_str, title=_str, paper_ref=_str, statement=_str),
    "profile": _str,
    "seed": _int,
    "claim_seed": _int,
    "config": lambda v: True,
    "runtime_s": lambda v: _num(v) and v >= 0,
    "environment": lambda v: isinstance(v, dict),
}
_RESULT_BODY = {
    "verdict": lambda v: v in VERDICTS,
    "headline": _str,
    "method_": _str,
    "tables_": _list_of(
        _obj(title=_str, columns=_list_of(lambda c: True), rows=_list_of(lambda r: isinstance(r, list)), note_=_str)
    ),
    "assertions_": _list_of(
        _obj(
            name=_str,
            passed=lambda b: isinstance(b, bool),
            detail=_str,
            key_=_str,
            outcome_=lambda o: o in OUTCOMES,
            test_=lambda t: t is None or isinstance(t, dict),
        )
    ),
    "measurements_": lambda v: v is None or isinstance(v, dict),
    "tolerances_": _list_of(_obj(name=_str, value=_str, source=_str)),
    "figures_": _list_of(lambda f: isinstance(f, str) and bool(_FIGURE.match(f))),
    "notes_": _list_of(_str),
    "seeds_": lambda v: isinstance(v, dict),
}
_EXAMPLE = lambda v: v is None or isinstance(v, dict)  # noqa: E731
_FUZZ_FIELDS = {
    "claim": _obj(id=_str),
    "property": _str,
    "seed": _int,
    "examples_requested": _int,
    "examples_run": _int,
    "elapsed_s": _num,
    "time_budget_s": _num,
    "stopped_on_time": lambda v: isinstance(v, bool),
    "stop_reason": _str,
    "min_margin": lambda v: _num(v) or _str(v),
    "counterexample": lambda v: isinstance(v, bool),
    "worst_example": _EXAMPLE,
    "shrunk_example": _EXAMPLE,
    "hypothesis_version": _str,
    "environment": lambda v: isinstance(v, dict),
    "shrink_examples": lambda v: v is None or _int(v),
}


def _bad_fields(data, fields: dict, prefix: str = "") -> list[str]:
    bad = []
    for name, pred in fields.items():
        key, optional = (name[:-1], True) if name.endswith("_") else (name, False)
        if key not in data:
            if not optional:
                bad.append(f"missing {prefix}{key}")
        elif not pred(data[key]):
            bad.append(f"bad {prefix}{key}")
    return bad


def _read(path: Path, what: str, fields: dict, body: dict | None = None) -> dict:
    """One results or campaign file, checked field by field; any fault is a ValueError naming the file."""
    from memsep.empirical.fileio import BadFileError, read_json

    data = read_json(path, what)
    if not isinstance(data, dict):
        raise BadFileError(path, f"is not {what} (a JSON object expected, got {type(data).__name__})")
    bad = _bad_fields(data, fields)
    if body is not None and "result" not in data:
        bad.append("missing result")
    elif body is not None:
        bad += ["bad result"] if not isinstance(data["result"], dict) else _bad_fields(data["result"], body, "result.")
    if bad:
        if body is not None and "bad result.verdict" in bad:
            bad[bad.index("bad result.verdict")] = (
                f"result.verdict {data['result']['verdict']!r} is not one of {', '.join(VERDICTS)}"
            )
        raise BadFileError(path, f"is not {what} ({', '.join(bad)})")
    return data


def load_results(out_dir: Path) -> list[dict]:
    """All results/<id>.json under out_dir, in paper order; unreadable or malformed files raise ValueError."""
    folder = Path(out_dir) / "results"
    if not folder.is_dir():
        raise ValueError(f"out: {out_dir} has no results/ folder (run `memsep run --out {out_dir}` first)")
    results = [
        _read(path, "a memsep results file", _RESULT_FIELDS, _RESULT_BODY) for path in sorted(folder.glob("*.json"))
    ]
    return sorted(results, key=lambda r: claim_order(r["claim"]["id"]))


def load_campaigns(out_dir: Path) -> list[dict]:
    """All results/fuzz/<id>.json under out_dir (none when the folder is absent), in paper order."""
    folder = Path(out_dir) / "results" / "fuzz"
    if not folder.is_dir():
        return []
    campaigns = [_read(path, "a memsep fuzz campaign file", _FUZZ_FIELDS) for path in sorted(folder.glob("*.json"))]
    return sorted(campaigns, key=lambda c: claim_order(c["claim"]["id"]))


def _fmt(v) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        if v == 0:
            return "0"
        if abs(v) >= 1e5 or abs(v) < 1e-3:
            return f"{v:.3e}"
        return f"{v:.4g}"
    if v is None:
        return "-"
    return " ".join(str(v).split()).replace("|", "\\|")


def _table(columns: list[str], rows: list[list]) -> list[str]:
    out = ["| " + " | ".join(_fmt(c) for c in columns) + " |", "|" + "---|" * len(columns)]
    out += ["| " + " | ".join(_fmt(c) for c in row) + " |" for row in rows]
    return out


FOLD_ROWS = 15  # tables longer than this are folded (<details>) in REPORT.md


def _folded_table(title: str, columns: list[str], rows: list[list]) -> list[str]:
    """A titled table; folded under a <details> summary when it has more than FOLD_ROWS rows."""
    body = _table(columns, rows)
    if len(rows) <= FOLD_ROWS:
        return [f"**{title}**", ""] + body
    return (
        ["<details>", f"<summary><b>{html.escape(title)}</b> ({len(rows)} rows; click to open)</summary>", ""]
        + body
        + ["", "</details>"]
    )


def _takeaway(r: dict) -> str:
    """One line: what a reader should take from a claim's result (its rules' outcomes by key)."""
    res = r["result"]
    if res["verdict"] == "ERROR":
        return "did not finish: see the error in its section"
    outs = [(a.get("key") or a["name"], _outcome(a)) for a in res.get("assertions", [])]
    n_pass = sum(o == "pass" for _, o in outs)
    text = f"{n_pass} of {len(outs)} rules pass"
    failed = [k for k, o in outs if o == "fail"]
    unsure = [k for k, o in outs if o == "inconclusive"]
    if failed:
        text += "; the data contradict " + ", ".join(f"`{k}`" for k in failed)
    if unsure:
        text += "; too little evidence to decide " + ", ".join(f"`{k}`" for k in unsure)
    if not failed and not unsure:
        text += ": the paper's statement holds at this scale"
    return text


def _anchor(claim: dict) -> str:
    text = f"{claim['id']} {claim['title']}".lower()
    return re.sub(r"[^a-z0-9 -]", "", text).replace(" ", "-")


def _margin(m) -> str:
    """Margins near 1 as '1 - 6.3e-05' (error / tolerance), others to 4 digits; '-inf' etc. as stored."""
    if not isinstance(m, (int, float)) or isinstance(m, bool):
        return _fmt(m)
    return f"1 - {1 - m:.2g}" if 0.99 <= m < 1 else f"{m:.4g}"


def _example(rec: dict | None) -> str:
    if not rec or rec.get("example") is None:
        return "-"
    text = f"`{json.dumps(rec['example'], sort_keys=True)}` (margin {_margin(rec.get('margin'))})"
    return text + (f"; error: {' '.join(str(rec['error']).split())}" if rec.get("error") else "")


def _fuzz_anchor(claim_id: str) -> str:
    return f"#{claim_id.lower()}-fuzz-campaign"


def _fuzz_pointer(fz: dict) -> str:
    return (
        f"*Fuzz:* latest campaign ([details]({_fuzz_anchor(fz['claim']['id'])})): {fz['examples_run']} "
        f"examples, seed {fz['seed']}, min margin {_margin(fz['min_margin'])}, "
        f"{'**counterexample found**' if fz['counterexample'] else 'no counterexample'}."
    )


def _fuzz_section(campaigns: list[dict]) -> list[str]:
    lines = [
        "## Fuzz campaigns",
        "",
        "The latest `memsep fuzz CLAIM` campaign per claim (from `results/fuzz/*.json`). Hypothesis searches "
        "for examples with a small margin: margin >= 0 means the property held for the example, < 0 is a "
        "counterexample (margins are normalised to the tolerance, e.g. 1 - error / tolerance; '1 - x' means "
        "the error was x times the tolerance).",
        "",
    ]
    rows = [
        [
            f"[{fz['claim']['id']}]({_fuzz_anchor(fz['claim']['id'])})",
            fz["examples_run"],
            f"{fz['elapsed_s']:.1f} s",
            fz["seed"],
            _margin(fz["min_margin"]),
            "**yes**" if fz["counterexample"] else "no",
        ]
        for fz in campaigns
    ]
    lines += _table(["claim", "examples", "time", "seed", "min margin", "counterexample"], rows) + [""]
    for fz in campaigns:
        shrunk = fz["shrunk_example"] or {}
        how = f" ({shrunk['method']})" if shrunk.get("method") else ""
        note = f" *{shrunk['note']}*" if shrunk.get("note") else ""
        lines += [f"### {fz['claim']['id']} fuzz campaign", "", f"*Property:* {fz['property']}", ""]
        more = f" (+ {fz['shrink_examples']} while shrinking)" if fz.get("shrink_examples") else ""
        lines += [
            f"- Examples: {fz['examples_run']} of {fz['examples_requested']} requested{more}, "
            f"{fz['elapsed_s']:.1f} s in all (time budget {fz['time_budget_s']:g} s; stopped: "
            f"{fz['stop_reason']}); seed {fz['seed']}; Hypothesis {fz['hypothesis_version']}.",
            f"- Min margin: {_margin(fz['min_margin'])}. Counterexample: "
            f"{'**yes**' if fz['counterexample'] else 'no'}.",
            f"- Worst example: {_example(fz['worst_example'])}.",
            f"- Shrunk example{how}: {_example(shrunk)}.{note}",
            "",
        ]
    return lines


def _outcome(a: dict) -> str:
    return a.get("outcome") or ("pass" if a["passed"] else "fail")


def _test_text(t: dict) -> str:
    """The statistics of a statistical rule, one clause, from whichever standard keys the record has."""

    def num(k):
        v = t.get(k)
        return v if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) else None

    parts = [str(t.get("rule", "test"))]
    if t.get("what"):
        parts.append(str(t["what"]))
    if num("estimate") is not None:
        est = f"estimate {_fmt(t['estimate'])}"
        if num("se") is not None:
            est += f" +- {_fmt(t['se'])} (se)"
        parts.append(est)
    iv = t.get("interval")
    if isinstance(iv, list) and len(iv) == 2 and all(isinstance(v, (int, float)) for v in iv):
        parts.append(f"interval [{_fmt(iv[0])}, {_fmt(iv[1])}]")
    for k, label in (
        ("df", "df"),
        ("z", "z"),
        ("p", "one-sided p"),
        ("alpha", "level"),
        ("tolerance", "tolerance"),
        ("pass_above", "pass above"),
        ("fail_below", "fail below"),
        ("threshold", "threshold"),
        ("floor", "rounding floor"),
    ):
        if num(k) is not None and not (k == "floor" and t[k] == 0):
            parts.append(f"{label} {_fmt(t[k]) if k != 'z' else format(t[k], '.2f')}")
    if num("effect") is not None:
        parts.append(
            f"effect looked for {_fmt(t['effect'])}" + (f" ({t['effect_source']})" if t.get("effect_source") else "")
        )
    if num("power") is not None:
        parts.append(f"power there {t['power']:.2f}")
    if num("mde") is not None:
        parts.append(f"minimum detectable effect {_fmt(t['mde'])}")
    return "; ".join(parts)


def _decision_line(a: dict) -> str:
    key = f" `{a['key']}`" if a.get("key") else ""
    line = f"- {_BOX[_outcome(a)]}{key} {a['name']}: {a['detail']}"
    if a.get("test"):
        line += f" *[{_test_text(a['test'])}]*"
    return line


def _provenance_line(r: dict) -> str:
    """When, by which command and code the result was made, and what it computed now or read back."""
    p = r.get("provenance")
    if not isinstance(p, dict):
        return ""
    env = r.get("environment", {})
    commit = env.get("git_commit") or "?"
    text = (
        f"*Provenance:* finished {p.get('finished_utc', '?')} by `{p.get('command', '?')}`, memsep "
        f"{env.get('memsep', '?')} at commit {commit[:12]}{' (uncommitted changes)' if env.get('git_dirty') else ''}, "
        f"code {env.get('code', '?')}."
    )
    sw = p.get("sweeps") or {}
    if sw.get("computed") or sw.get("read_back"):
        secs = sw.get("computed_seconds")
        spent = f" ({secs:,.0f} s of wall time)" if isinstance(secs, (int, float)) and sw.get("computed") else ""
        workers = p.get("workers")
        shared = f" by one of {workers} workers sharing the sweeps" if isinstance(workers, int) and workers > 1 else ""
        text += (
            f" Sweep points: {sw.get('computed', 0)} computed in this run{spent}{shared}, "
            f"{sw.get('read_back', 0)} read back"
        )
        srcs = sw.get("read_back_from") or []
        if srcs:
            text += (
                " ("
                + "; ".join(
                    f"{s.get('points')} from code {s.get('code')} at commit {(s.get('git_commit') or '?')[:12]}, "
                    f"finished {s.get('first_utc')}"
                    + (f" to {s.get('last_utc')}" if s.get("last_utc") != s.get("first_utc") else "")
                    for s in srcs
                )
                + ")"
            )
        text += "."
    else:
        text += " Everything was computed in this run."
    return text


def _replication_section(primary: list[dict], replicates: list[tuple[str, int, list[dict]]]) -> list[str]:
    """Verdicts of every claim in the main run and under each replicate (profile, run seed), and whether they agree."""
    main = {r["claim"]["id"]: r for r in primary}
    runs = [(p, s, {r["claim"]["id"]: r for r in recs}) for p, s, recs in replicates]
    ids = sorted(set(main) | {cid for _, _, by in runs for cid in by}, key=claim_order)
    lines = [
        "## Replication",
        "",
        "The same claims under other run seeds or sizes (`memsep run --seeds` / `memsep replicate`, results in "
        "`replicates/<profile>/seed-<s>/`). A claim's verdict should not depend on the seed; where it does, a rule "
        "sits near its threshold at that size. Column heads: profile / run seed; the main run's profile and seed "
        "are given per claim.",
        "",
    ]
    cols = ["claim", "main run"] + [f"{p} / {s}" for p, s, _ in runs] + ["agreement (per profile, main run included)"]
    rows = []
    for cid in ids:
        m = main.get(cid)
        vs = [by[cid]["result"]["verdict"] if cid in by else "-" for _, _, by in runs]
        by_profile = {}
        if m:
            by_profile.setdefault(m["profile"], []).append(m["result"]["verdict"])
        for (p, _, _), v in zip(runs, vs):
            if v != "-":
                by_profile.setdefault(p, []).append(v)
        agree = "; ".join(
            f"{p}: {'all ' + str(len(v)) + ' agree' if len(set(v)) == 1 else f'{max(v.count(x) for x in set(v))} of {len(v)} agree'}"  # noqa: E501
            for p, v in by_profile.items()
        )
        main_cell = f"{_MARK[m['result']['verdict']]} ({m['profile']} / {m['seed']})" if m else "-"
        rows.append([cid, main_cell, *[_MARK.get(v, v) for v in vs], agree or "-"])
    return lines + _table(cols, rows) + [""]


def _rule_changes_section() -> list[str]:
    from .rule_changes import RULE_CHANGES

    lines = [
        "## Rule changes",
        "",
        "Decision rules and verdict-deciding settings changed after a result was seen (verify/rule_changes.py; "
        "the rules as they stand are pre-registered in CLAIMS.md). Each entry gives the old and the new rule, "
        "what was seen, and the verdict under each.",
        "",
    ]
    if not RULE_CHANGES:
        return lines + ["None.", ""]
    for ch in RULE_CHANGES:
        keys = f" ({', '.join(f'`{k}`' for k in ch.keys)})" if ch.keys else ""
        lines += [
            f"### {ch.date}, {ch.claim}{keys}" + (f", commit {ch.commit}" if ch.commit else ""),
            "",
            f"- Old rule: {ch.old}",
            f"- New rule: {ch.new}",
            f"- Seen before the change: {ch.seen}",
            f"- Verdict under the old rule: {ch.verdict_old}",
            f"- Verdict under the new rule: {ch.verdict_new}",
        ]
        if ch.why:
            lines.append(f"- Why: {ch.why}")
        lines.append("")
    return lines


def _section(r: dict, fuzz: dict | None = None) -> list[str]:
    c = r["claim"]
    res = r["result"]
    lines = [f"## {c['id']} {c['title']}", ""]
    lines += [
        f"*Paper:* {c['paper_ref']}. *Profile:* `{r['profile']}`; run seed {r['seed']}, claim seed "
        f"{r['claim_seed']}; runtime {r['runtime_s']:.1f} s.",
        "",
    ]
    lines += ["> " + c["statement"].replace("\n", "\n> "), ""]
    if c.get("inferred"):
        lines += [f"*Inferred where the paper is silent:* {c['inferred']}", ""]
    prov = _provenance_line(r)
    if prov:
        lines += [prov, ""]
    lines += [f"**Verdict:** {_MARK[res['verdict']]}. {' '.join(res['headline'].split())}", ""]
    lines += [f"**What to take from it:** {_takeaway(r)}.", ""]
    if fuzz is not None:
        lines += [_fuzz_pointer(fuzz), ""]
    if res.get("method"):
        lines += ["**Method.** " + res["method"], ""]
    if res.get("assertions"):
        lines += ["**Decisions** ([x] pass, [ ] fail, [?] inconclusive; rules as pre-registered in CLAIMS.md).", ""]
        lines += [_decision_line(a) for a in res["assertions"]]
        lines.append("")
    for t in res.get("tables", []):
        lines += _folded_table(t["title"], t["columns"], t["rows"]) + [""]
        if t.get("note"):
            lines += [f"*{t['note']}*", ""]
    for fig in res.get("figures", []):
        lines += [f"![{c['id']} figure]({fig})", ""]
    if res.get("tolerances"):
        lines += ["**Tolerances and where they come from.**", ""]
        lines += _table(
            ["quantity", "tolerance", "source"], [[t["name"], t["value"], t["source"]] for t in res["tolerances"]]
        ) + [""]
    if res.get("notes"):
        lines += ["**Notes.**", ""] + [f"- {n}" for n in res["notes"]] + [""]
    if res.get("seeds"):
        lines += ["Seeds: " + ", ".join(f"{k} = {v}" for k, v in res["seeds"].items()), ""]
    if r.get("error"):
        lines += ["```", r["error"].rstrip(), "```", ""]
    lines += [f"Config: `{json.dumps(r.get('config', {}), sort_keys=True)}`", ""]
    return lines


def load_replicates(out_dir: Path) -> list[tuple[str, int, list[dict]]]:
    """[(profile, run seed, results)] of every out/replicates/<profile>/seed-<s>/results folder, sorted."""
    out = []
    root = Path(out_dir) / "replicates"
    if not root.is_dir():
        return out
    for folder in sorted(root.glob("*/seed-*")):
        tail = folder.name[len("seed-") :]
        if folder.parent.name in PROFILES and tail.isdigit() and (folder / "results").is_dir():
            recs = load_results(folder)
            if recs:
                out.append((folder.parent.name, int(tail), recs))
    return sorted(out, key=lambda x: (PROFILES.index(x[0]), x[1]))


def load_check(out_dir: Path) -> dict | None:
    """The samplers' convergence test under out_dir (results/samplers/convergence.json, ``memsep sampler-check``),
    or None when there is none (a malformed file is a ValueError naming it)."""
    from memsep.empirical.fileio import read_json

    path = Path(out_dir) / "results" / "samplers" / "convergence.json"
    if not path.is_file():
        return None
    rec = read_json(path, "a memsep sampler-check file")
    if not isinstance(rec, dict) or rec.get("kind") != "sampler-check" or not isinstance(rec.get("models"), list):
        raise ValueError(f"{path}: is not a memsep sampler-check file (kind 'sampler-check' and models expected)")
    return rec


def _signed(v: float) -> str:
    return f"{v:+.4f}" if abs(v) < 10 else f"{v:+.2f}"


def _check_cell(m: dict) -> str:
    if "agrees" not in m:
        return f"{m['value']:.3f} (ref {m['reference']:.3f})"
    lo, hi = m["ci"]
    return (
        f"{_signed(m['delta'])} [{_signed(lo)}, {_signed(hi)}] / {m['margin']:.4f} {'ok' if m['agrees'] else '**no**'}"
    )


def _sampler_section(rec: dict) -> list[str]:
    """REPORT.md lines of the samplers' convergence test (verify.sampler_check)."""
    cfg = rec["config"]
    env = rec["environment"]
    lines = [
        "## Sampler step counts (convergence test)",
        "",
        f"`{rec['command']}` at commit {str(env.get('git_commit'))[:12]}"
        + (" (uncommitted changes)" if env.get("git_dirty") else "")
        + f", {rec['seconds'] / 60:.1f} min. Every model is sampled by each candidate and by the reference, Heun "
        f"with {cfg['reference_steps']} steps, from the same per-sample noise (paired). A cell reads "
        "Delta = candidate - reference [its 95% interval] / the margin h_ref, the half-width of the reference's own "
        "95% interval; the candidate agrees on a metric (ok) iff the interval lies inside [-h_ref, h_ref], and a "
        "step count is accepted iff it agrees on every metric of every model. Recall is shown, not ruled (its "
        "per-sample terms depend on the whole sample set). The rule was fixed before the first run "
        "(`empirical/sampler_check.py`).",
        "",
    ]
    for m in rec["models"]:
        names = list(m["rows"][0]["metrics"])
        lines += [
            f"**{m['label']}** (claims {m['model']['claim']}; in use: {m['in_use']['method']} x "
            f"{m['in_use']['steps']} steps; reference {m['reference']['seconds']:.1f} s):",
            "",
        ]
        head = ["solver", "steps", "score evaluations", "seconds", *names, "accepted"]
        lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for r in m["rows"]:
            cells = [r["method"], str(r["steps"]), str(r["nfe"]), f"{r['seconds']:.1f}"]
            cells += [_check_cell(r["metrics"][k]) for k in names]
            cells.append("yes" if r["accepted"] else "**no**")
            lines.append("| " + " | ".join(cells) + " |")
        use = [r for r in m["rows"] if (r["method"], r["steps"]) == (m["in_use"]["method"], m["in_use"]["steps"])]
        ch = rec["chosen"]["per_model"][m["label"]]
        lines += [
            "",
            f"Chosen for this model: first-order {ch['ode'] if ch['ode'] is not None else 'none of the candidates'}, "
            f"Heun {ch['heun'] if ch['heun'] is not None else 'none of the candidates'}; the claims' "
            f"{m['in_use']['method']} x {m['in_use']['steps']}: "
            + (("accepted" if use[0]["accepted"] else "**not accepted**") if use else "not among the candidates")
            + ".",
            "",
        ]
    ch = rec["chosen"]
    for group, label in (("mixtures", "Mixture models (A5, A6)"), ("dit", "DiT (M1-M4)")):
        if ch.get(group):
            ode, heun = (ch[group][k] for k in ("ode", "heun"))
            lines.append(
                f"- {label}: first-order solver {f'{ode} steps' if ode else 'none of the candidates'}, Heun "
                f"{f'{heun} steps' if heun else 'none of the candidates'} (the largest of the models' chosen counts)."
            )
    lines.append("")
    return lines


def render_report(
    results: list[dict],
    campaigns: list[dict] | None = None,
    replicates: list[tuple[str, int, list[dict]]] | None = None,
    sampler_check: dict | None = None,
) -> str:
    """The whole REPORT.md text for results dicts (as written by the runner), fuzz campaign records,
    replicate runs [(profile, seed, results)] and the samplers' convergence test (``verify.sampler_check``)."""
    campaigns = campaigns or []
    lines = [
        "# memsep verification report",
        "",
        "Generated by `memsep report` from `results/*.json`; do not edit by hand. Paper: "
        '"Provable Separations between Memorization and Generalization in Diffusion Models" '
        "(Ye, Zhu, Tao, Chen, 2025; arXiv 2511.03202). Each claim's section restates what the paper says; the ids (S: "
        "statistical separation, A: approximation separation, M: mitigation by pruning) are this project's.",
        "",
    ]
    if not results:
        lines += ["No results yet: run `memsep run`.", ""]
        if not campaigns:
            return "\n".join(lines)
    else:
        profiles = sorted({r["profile"] for r in results})
        seeds = sorted({r["seed"] for r in results})
        standard = [r["claim"]["id"] for r in results if r["profile"] == "standard"]
        lines += [
            f"Profile(s): {', '.join(profiles)}. Run seed(s): {', '.join(map(str, seeds))}. The reference run is the "
            "`full` profile (`memsep run --profile full`, larger grids and more draws); `standard` sits between quick "
            "and full for the claims that define it (the decisive size, hours on 2 CPU cores"
            + (f"; here {', '.join(standard)}" if standard else "")
            + "; the others run their quick size); `quick` "
            "is the default minutes-scale run and `ci` the test-suite size.",
            "",
        ]
        lines += ["## Summary", ""]
        rows = [
            [
                f"[{r['claim']['id']}](#{_anchor(r['claim'])})",
                r["claim"]["title"],
                _MARK[r["result"]["verdict"]],
                r["result"]["headline"],
                f"{r['runtime_s']:.1f} s",
                r["profile"],
            ]
            for r in results
        ]
        lines += _table(["claim", "title", "verdict", "headline", "runtime", "profile"], rows) + [""]
        counts = {v: sum(r["result"]["verdict"] == v for r in results) for v in VERDICTS}
        lines += [f"**Tally:** {len(results)} claims: " + ", ".join(f"{counts[v]} {v}" for v in VERDICTS) + ".", ""]
        lines += ["**At a glance** (each claim's rules, by outcome):", ""]
        lines += [
            f"- [{r['claim']['id']}](#{_anchor(r['claim'])}) {_MARK[r['result']['verdict']]}: {_takeaway(r)}."
            for r in results
        ] + [""]
    if results and replicates:
        lines += _replication_section(results, replicates)
    lines += _rule_changes_section()
    fuzz_of = {fz["claim"]["id"]: fz for fz in campaigns}
    for r in results:
        lines += _section(r, fuzz_of.get(r["claim"]["id"]))
    if campaigns:
        lines += _fuzz_section(campaigns)
    if sampler_check is not None:
        lines += _sampler_section(sampler_check)
    lines += ["## Environment", ""]
    envs = {json.dumps(r["environment"], sort_keys=True): r["environment"] for r in results + campaigns}
    for env in envs.values():
        pk = env.get("packages", {})
        dev = env.get("device", {})
        rows = [
            ["python", env.get("python")],
            ["platform", env.get("platform")],
            ["cpu count", env.get("cpu_count")],
            ["cpu model", env.get("cpu_model", "not recorded")],
            ["device", dev.get("gpu") or "cpu"],
            ["torch threads", dev.get("torch_threads")],
            ["torch CPU kernels", dev.get("cpu_capability", "not recorded")],
            ["git commit", f"{env.get('git_commit')}{' (uncommitted changes)' if env.get('git_dirty') else ''}"],
        ]
        rows += [[k, v] for k, v in pk.items()]
        claims = [r["claim"]["id"] for r in results if r["environment"] == env]
        fuzzed = [fz["claim"]["id"] for fz in campaigns if fz["environment"] == env]
        label = "; ".join(
            ([f"Claims {', '.join(claims)}"] if claims else [])
            + ([f"{'fuzz' if claims else 'Fuzz'} campaigns {', '.join(fuzzed)}"] if fuzzed else [])
        )
        lines += [f"{label}:", ""] + _table(["item", "value"], rows) + [""]
    return "\n".join(lines)


def write_report(out_dir: Path) -> Path:
    """Render REPORT.md from out_dir/results (with results/fuzz and results/samplers) and replace out_dir/REPORT.md
    atomically."""
    out_dir = Path(out_dir)
    text = render_report(load_results(out_dir), load_campaigns(out_dir), load_replicates(out_dir), load_check(out_dir))
    path = out_dir / "REPORT.md"
    atomic_write_text(path, text)
    return path
