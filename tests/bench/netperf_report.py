#!/usr/bin/env python3
"""The report of scripts/netperf-bench.sh: its JSON of raw figures in, the Markdown section of
docs/benchmarks.md and a gnuplot chart out. Python stdlib only; gnuplot only for the PNG.

The JSON (written by the script): command, date, machine {cores, cpu, kernel}, netperf, rounds,
seconds, load_average {before, after}, note, floor (the row every ratio is taken against first),
overlay (the second one), rows [{id, label}], tests [{id, label, unit, tool, args}], samples
[{round, row, test, value, flows}]. Every figure is a rate (transactions or Mbit/s per second):
higher is better, and a ratio below 1 means slower than the row it is compared with.

usage: netperf_report.py RESULTS.json [--section OUT.md] [--chart OUT.png] [--table]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap

# A load average at least this high before the run means other work shared the CPU.
BUSY_LOAD = 0.5


class ReportError(Exception):
    """The JSON does not hold what the report needs (a row without samples, no floor...)."""


def summarize(results):
    """{(row, test): {median, min, max, n, vs_floor, vs_overlay}} from the raw samples.

    Medians are taken over the rounds (the mean of the two middle values for an even count);
    the ratios are this cell's median over the floor's and the overlay's medians for the same
    test (None where that row has no figure). Raises ReportError when a row or test named in
    `rows`/`tests` has no sample, or a sample names one that is not declared.
    """
    rows = [r["id"] for r in results["rows"]]
    tests = [t["id"] for t in results["tests"]]
    values = {(r, t): [] for r in rows for t in tests}
    for s in results["samples"]:
        key = (s["row"], s["test"])
        if key not in values:
            raise ReportError("sample of undeclared row/test %s/%s" % key)
        values[key].append(float(s["value"]))
    summary = {}
    for key, vals in values.items():
        if not vals:
            raise ReportError("no sample for row %s, test %s" % key)
        summary[key] = {"median": statistics.median(vals), "min": min(vals), "max": max(vals),
                        "n": len(vals)}
    for ref_name, field in (("floor", "vs_floor"), ("overlay", "vs_overlay")):
        ref = results.get(ref_name)
        if ref is not None and ref not in rows:
            raise ReportError("%s row %s is not among the rows" % (ref_name, ref))
        for (row, test), cell in summary.items():
            base = summary[(ref, test)]["median"] if ref else None
            cell[field] = cell["median"] / base if base else None
    return summary


def fmt_value(v):
    """Rates as whole numbers with thousands separators (12,345); small ones with a decimal."""
    return "{:,.0f}".format(v) if v >= 100 else "{:,.1f}".format(v)


def fmt_ratio(r):
    return "–" if r is None else "{:.2f}x".format(r)


def markdown_table(results, summary=None):
    """One line per test and row, tests in the JSON's order, rows in theirs."""
    summary = summary or summarize(results)
    overlay_id = results.get("overlay")
    lines = ["| test | path | median | min–max (%d rounds) | vs %s | vs %s |" % (
        results["rounds"], results["floor"], overlay_id or "overlay"),
             "|---|---|---|---|---|---|"]
    for t in results["tests"]:
        for r in results["rows"]:
            c = summary[(r["id"], t["id"])]
            lines.append("| %s (%s) | %s | %s | %s–%s | %s | %s |" % (
                t["label"], t["unit"], r["label"], fmt_value(c["median"]), fmt_value(c["min"]),
                fmt_value(c["max"]), fmt_ratio(c["vs_floor"]), fmt_ratio(c["vs_overlay"])))
    return "\n".join(lines)


def chart_data(results, summary=None):
    """gnuplot's data: one tab-separated line per test, its label then, per row, the median's
    ratio to the floor and the min's and max's (the error bar)."""
    summary = summary or summarize(results)
    out = []
    for t in results["tests"]:
        base = summary[(results["floor"], t["id"])]["median"]
        cols = [t["label"]]
        for r in results["rows"]:
            c = summary[(r["id"], t["id"])]
            cols += ["%.4f" % (c["median"] / base), "%.4f" % (c["min"] / base),
                     "%.4f" % (c["max"] / base)]
        out.append("\t".join(cols))
    return "\n".join(out) + "\n"


def chart_script(results, data_path, png_path):
    titles = [r["label"].replace('"', "'") for r in results["rows"]]
    plots = ", ".join(
        "'%s' using %d:%d:%d%s title \"%s\"" % (
            data_path, 2 + 3 * i, 3 + 3 * i, 4 + 3 * i, ":xtic(1)" if i == 0 else "", title)
        for i, title in enumerate(titles))
    return "\n".join([
        "set terminal pngcairo size 1200,600 font 'sans,10' noenhanced",
        "set output '%s'" % png_path,
        "set datafile separator '\\t'",
        "set title \"netperf, median of %d rounds of %d s, relative to node to node "
        "(bars: min-max); %s, %s\"" % (results["rounds"], results["seconds"],
                                       results["date"], results["machine"]["kernel"]),
        "set ylabel 'rate / node-to-node median (higher is better)'",
        "set yrange [0:*]",
        "set grid ytics",
        "set key outside bottom center horizontal maxrows 3",
        "set style data histograms",
        "set style histogram errorbars gap 2 lw 1",
        "set style fill solid 0.8 border -1",
        "set bars 0.5",
        "plot " + plots,
        "",
    ])


def write_chart(results, png_path, summary=None):
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "netperf.dat")
        with open(data, "w") as f:
            f.write(chart_data(results, summary))
        script = os.path.join(tmp, "netperf.gp")
        with open(script, "w") as f:
            f.write(chart_script(results, data, os.path.abspath(png_path)))
        subprocess.run(["gnuplot", script], check=True)


def wrap(text):
    return textwrap.fill(text, width=100, break_long_words=False, break_on_hyphens=False)


def section(results, chart_name="netperf.png"):
    """The Markdown of docs/benchmarks.md's netperf section (without its markers)."""
    summary = summarize(results)
    m = results["machine"]
    load = results.get("load_average", {})
    if float(load.get("before", 0) or 0) >= BUSY_LOAD:
        cpu_note = ("**The CPU was shared with other work** (load average %s before the run "
                    "started, on %d cores): the figures are noisy; compare the rows of one run, "
                    "not runs." % (load.get("before"), m["cores"]))
    else:
        cpu_note = "Load average %s before the run (otherwise idle)." % load.get("before", "?")
    run = ("Command: `%s` (as root), on %s. Machine: %d cores, %s, kernel %s (this machine's; "
           "IPIP needs the VM, scripts/vm-test.sh, and is not measured here). netperf %s. %s%s" % (
               results["command"], results["date"], m["cores"], m["cpu"], m["kernel"],
               results.get("netperf", "?"), cpu_note,
               (" " + results["note"]) if results.get("note") else ""))
    setup = (
        "Nodes are network namespaces on one bridged subnet (veths to a bridge), etcd holds the "
        "cluster; one pair of nodes runs quasard in `host-gw` mode, one in `vxlan-always` (VXLAN "
        "even on one subnet), and one is the reference: Debian's `ptp` plugin with `host-local` "
        "IPAM (MTU 1500, as quasar's here) and a static route on each node to the other's pod "
        "subnet. A fourth pair runs quasard in `host-gw` mode enforcing 1,000 NetworkPolicies "
        "over 1,000 other pods (6,000 rules in quasar's chains on each node): its rows are a pair "
        "in a namespace no policy touches, and a pair whose server one more policy selects and "
        "allows the client to (the script checks the rule count and `quasarctl policy explain` "
        "before measuring). Pods are made by the plugins themselves (CNI ADD). netserver and "
        "`iperf3 -s` run in the pod (or node) on the right, the clients in the one on the left. "
        "Each test runs %d s; each of the %d rounds runs every row in turn, so a burst of other "
        "work hits every row alike. RR tests send 64-byte requests and responses "
        "(`-- -r 64,64`); TCP_CRR opens a connection per transaction; the 8-flow netperf stream "
        "is 8 netperf processes started together, their throughputs summed; the iperf3 rows are "
        "one client with 1 or 8 parallel streams (`-P`), the receiver's total: a second opinion "
        "on bulk throughput. Raw figures: the JSON file the script names at the end." % (
            results["seconds"], results["rounds"]))
    ratios = (
        "Ratios are this row's median over the node-to-node median (`vs %s`) and over the VXLAN "
        "row's (`vs %s`) for the same test: every figure is a rate, so below 1 is slower. On one "
        "machine every namespace shares the same CPUs: this shows what each path adds per packet "
        "(veth hops, routing, encapsulation), not line rate; where the min–max spreads of two rows "
        "overlap, their difference is not shown to be real (a pod path above 1 is such a case)." % (
            results["floor"], results.get("overlay")))
    return "\n".join([
        "## Data path: netperf between pods, against the node-to-node floor and ptp + host-local",
        "",
        wrap(run), "",
        wrap(setup), "",
        wrap(ratios), "",
        markdown_table(results, summary), "",
        "![netperf: each path's median relative to node to node](%s)" % chart_name, "",
    ])


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("results")
    ap.add_argument("--section", help="write the Markdown section here")
    ap.add_argument("--chart", help="draw the PNG chart here (gnuplot)")
    ap.add_argument("--table", action="store_true", help="print the table")
    args = ap.parse_args(argv)
    with open(args.results) as f:
        results = json.load(f)
    try:
        summary = summarize(results)
        if args.chart:
            write_chart(results, args.chart, summary)
        if args.section:
            with open(args.section, "w") as f:
                f.write(section(results, os.path.basename(args.chart or "netperf.png")))
        if args.table:
            print(markdown_table(results, summary))
    except ReportError as e:
        print("netperf_report: %s: %s" % (args.results, e), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
