"""README's "What we found" is the rendering of the full demo's recorded summary.json, so it cannot drift."""

import json
import subprocess
import sys
from pathlib import Path

from zspace.demo import answer_table, findings_markdown

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
from what_we_found import END, START, rewrite  # noqa: E402


def test_readme_section_is_the_recorded_demo_summary():
    summary = json.loads((ROOT / "docs" / "demo-summary.json").read_text())
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index(START) + len(START):readme.index(END)].strip()
    assert section == findings_markdown(summary).strip()
    # and the table holds the numbers of the record: FD over the floor, void share
    for name, model in summary["models"].items():
        row = next(r for r in answer_table(summary) if r[0] == name)
        for cell, found in zip(row[1:], model["answer"]["rows"]):
            assert cell == f"{found['x_floor']:.2f}x ({found['void_share']:.2f})"
            assert f"| {name} |" in section


def test_the_script_rewrites_only_the_section(tmp_path):
    text = f"# title\n\n{START}\nold text\n{END}\n\nrest\n"
    assert rewrite(text, "new table") == f"# title\n\n{START}\nnew table\n{END}\n\nrest\n"
    run = subprocess.run([sys.executable, str(ROOT / "scripts" / "what_we_found.py"), "--help"],
                         capture_output=True, text=True, check=False)
    assert run.returncode == 0 and "summary.json" in run.stdout
