"""The progress line: points done, failures, elapsed and time left."""

from __future__ import annotations

import io

from spatten_sim.sweep.progress import Progress, fmt_duration


def test_progress_line_counts_and_estimates():
    buf = io.StringIO()
    bar = Progress(4, skipped=3, stream=buf, interval_s=0.0)
    assert "0/4 points (0 failed, 3 already done)" in bar.line() and "--:-- left" in bar.line()
    bar.t0 -= 10.0  # 10 s elapsed after two points: 10 s left for the other two
    bar.update(True)
    bar.update(False)
    line = bar.line()
    assert "2/4 points (1 failed, 3 already done)" in line
    assert "00:10 elapsed, 00:10 left" in line
    assert "[############............]" in line
    bar.update(True)
    bar.update(True)
    out = buf.getvalue().splitlines()
    assert len(out) == 4 and out[-1].count("4/4 points (1 failed") == 1  # not a tty: one per update
    quiet = io.StringIO()
    Progress(2, stream=quiet, enabled=False).update(True)
    assert quiet.getvalue() == ""


def test_fmt_duration():
    assert fmt_duration(0) == "00:00"
    assert fmt_duration(75.4) == "01:15"
    assert fmt_duration(3 * 3600 + 62) == "3:01:02"
