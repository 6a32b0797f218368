#!/usr/bin/env python3
"""The report of scripts/netperf-bench.sh: its JSON of raw figures in, the Markdown section of
docs/benchmarks.md and a gnuplot chart out. Python stdlib only; gnuplot only for the PNG.

The JSON (written by the script): command, date, machine {cores, cpu, kernel}, netperf, rounds,
seconds, load_average {before, after}, note, floor (the row every ratio is taken against first),
overlay (the second one), rows [{id, label}], tests [{id, label, unit, tool, args}], samples
[{round, row, test, value, flows}]. A run inside the VM (`netperf-bench.sh --vm`) adds vm {qemu,
accel, vcpus, memory_mib} and host {cores, cpu, kernel, load_average}: `machine` is then the
VM's. Every figure is a rate (transactions or Mbit/s per second): higher is better, and a ratio
below 1 means slower than the row it is compared with.

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
# Issue 16's goal: IPIP at least this many times VXLAN's rate on TCP_CRR 64/64.
IPIP_GOAL = ("ipip", "vxlan", "tcp_crr", 1.10)


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


def pair_ratio(results, row, over, test, summary=None):
    """ROW against OVER on TEST: {of_medians, rounds: [per-round ratios], median_of_rounds}, or
    None when the run has no such row or test. The rows run one after the other in every round,
    so a round's ratio compares them under the same load; its median is the paired figure."""
    rows = {r["id"] for r in results["rows"]}
    if row not in rows or over not in rows or test not in {t["id"] for t in results["tests"]}:
        return None
    summary = summary or summarize(results)
    by_round = {}
    for s in results["samples"]:
        if s["test"] == test and s["row"] in (row, over):
            by_round.setdefault(s["round"], {})[s["row"]] = float(s["value"])
    rounds = [v[row] / v[over] for _, v in sorted(by_round.items())
              if row in v and v.get(over)]
    base = summary[(over, test)]["median"]
    return {"of_medians": summary[(row, test)]["median"] / base if base else None,
            "rounds": rounds,
            "median_of_rounds": statistics.median(rounds) if rounds else None}


def goal_text(results, summary=None):
    """The sentence on IPIP_GOAL, or None when the run has no IPIP row."""
    row, over, test, goal = IPIP_GOAL
    r = pair_ratio(results, row, over, test, summary)
    if r is None or r["of_medians"] is None:
        return None
    verdict = "met" if r["of_medians"] >= goal else "not met"
    if r["rounds"] and (min(r["rounds"]) < goal <= max(r["rounds"])):
        verdict += ", but the rounds' ratios straddle %.2fx" % goal
    label = {t["id"]: t["label"] for t in results["tests"]}[test]
    return ("**IPIP against VXLAN on %s: %s** (the ratio of the medians; per round %s, median %s). "
            "The goal is at least %.2fx: %s." % (
                label, fmt_ratio(r["of_medians"]),
                ", ".join(fmt_ratio(x) for x in r["rounds"]) or "–",
                fmt_ratio(r["median_of_rounds"]), goal, verdict))


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


# One colour per row (gnuplot's own cycle repeats after 8): qualitative, told apart in print.
COLOURS = ["#7e2f8e", "#1b9e77", "#56b4e9", "#e69f00", "#f0e442", "#0072b2", "#d55e00",
           "#333333", "#cc79a7", "#b2df8a", "#a6761d", "#999999", "#66a61e", "#e7298a",
           "#1f78b4", "#b15928"]


def chart_script(results, data_path, png_path):
    titles = [r["label"].replace('"', "'") for r in results["rows"]]
    plots = ", ".join(
        "'%s' using %d:%d:%d%s title \"%s\" lc rgb '%s'" % (
            data_path, 2 + 3 * i, 3 + 3 * i, 4 + 3 * i, ":xtic(1)" if i == 0 else "", title,
            COLOURS[i % len(COLOURS)])
        for i, title in enumerate(titles))
    return "\n".join([
        "set terminal pngcairo size 1400,650 font 'sans,10' noenhanced",
        "set output '%s'" % png_path,
        "set datafile separator '\\t'",
        "set title \"netperf, median of %d rounds of %d s, relative to node to node "
        "(bars: min-max); %s, %s%s\"" % (
            results["rounds"], results["seconds"], results["date"], results["machine"]["kernel"],
            " in the VM, qemu TCG" if results.get("vm") else ""),
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


def run_text(results):
    """Which command ran where: this machine's kernel, or the VM's under emulation."""
    m = results["machine"]
    vm = results.get("vm")
    # In the VM, what matters is how busy the machine qemu runs on was.
    host = results.get("host", m) if vm else m
    load = (host if vm else results).get("load_average", {})
    if float(load.get("before", 0) or 0) >= BUSY_LOAD:
        cpu_note = ("**The CPU was shared with other work** (load average %s before the run "
                    "started, on %d cores): the figures are noisy; compare the rows of one run, "
                    "not runs." % (load.get("before"), host["cores"]))
    else:
        cpu_note = "Load average %s before the run (otherwise idle)." % load.get("before", "?")
    rows = {r["id"] for r in results["rows"]}
    if vm:
        where = ("Inside scripts/vm-test.sh's VM: Debian's kernel %s under %s's TCG emulation "
                 "(no KVM on this machine), %d vCPUs, %d MiB, on this machine's %d cores (%s, "
                 "kernel %s)" % (m["kernel"], vm.get("qemu", "qemu"), vm.get("vcpus", m["cores"]),
                                 vm.get("memory_mib", 0), host["cores"], host["cpu"],
                                 host["kernel"]))
    else:
        where = "Machine: %d cores, %s, kernel %s (this machine's%s)" % (
            m["cores"], m["cpu"], m["kernel"],
            "" if "ipip" in rows else "; it has no ipip module, so IPIP is measured in the VM "
            "only: `scripts/netperf-bench.sh --vm`, its own section")
    return "Command: `%s` (as root), on %s. %s. netperf %s. %s%s" % (
        results["command"], results["date"], where, results.get("netperf", "?"), cpu_note,
        (" " + results["note"]) if results.get("note") else "")


def setup_text(results):
    rows = {r["id"] for r in results["rows"]}
    tests = {t["id"] for t in results["tests"]}
    pairs = "one pair of nodes runs quasard in `host-gw` mode, one in `vxlan-always` (VXLAN " \
        "even on one subnet)"
    if "ipip" in rows:
        pairs += ", one in `ipip-always` (IPIP through tunl0 even on one subnet; pods get MTU " \
            "1480, VXLAN's 1450, host-gw's 1500)"
    text = [
        "Nodes are network namespaces on one bridged subnet (veths to a bridge), etcd holds the "
        "cluster; %s, and one is the reference: Debian's `ptp` plugin with `host-local` IPAM "
        "(MTU 1500, as quasar's host-gw) and a static route on each node to the other's pod "
        "subnet." % pairs]
    if "bare" in rows:
        text.append(
            "The floor's nodes run quasard, whose INPUT hook turns conntrack on in them; the "
            "`bare` row is the same measurement between the reference nodes, which run nothing "
            "(no chains, no conntrack): the network without any CNI.")
    if rows & {"ptpct", "hgnopol"}:
        text.append(
            "Two more pairs show what conntrack costs: quasar's policy chains match on conntrack "
            "state, which turns conntrack on in the node (kube-proxy's rules do the same on any "
            "Kubernetes node; ptp alone does not). One quasar `host-gw` pair runs with "
            "`networkPolicy: false` (no chains, so no conntrack), one reference pair has quasar's "
            "first FORWARD rule (`-m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT`).")
    if rows & {"pol1000", "polallow"}:
        text.append(
            "Another pair runs quasard in `host-gw` mode enforcing 1,000 NetworkPolicies over "
            "1,000 other pods (6,000 rules in quasar's chains on each node): its rows are a pair "
            "in a namespace no policy touches, and a pair whose server one more policy selects "
            "and allows the client to (the script checks the rule count and `quasarctl policy "
            "explain` before measuring).")
    if rows & {"fipveth", "fipmacvlan"}:
        text.append(
            "A node with two FloatingIPPools on the bridged subnet itself (docs/floating-ips.md) "
            "has a floating-IP pod of each data-path mode: `veth` (the node answers ARP for the "
            "pod's address and routes it to the pod's veth) and `macvlan` (the pod's own "
            "interface on the node's uplink). The client is a plain host on the subnet (a "
            "namespace on the bridge, no quasar, no route but the subnet's own), as a legacy "
            "machine reaching a pod; the script checks that the pods' addresses come from the "
            "pools and that the plain host reaches them on-link.")
    if "eni" in rows:
        text.append(
            "An emulated VPC (vpc-sim: tests/vpc/vpc_sim.py, docs/vpc-sim.md, a stand-in for "
            "EC2 speaking its API, whose router is a namespace every interface is a veth to) "
            "has one instance running quasard in ENI mode (`networkPolicy: false`, as every ENI "
            "configuration tested) with a pod on a secondary address of the instance's interfaces, "
            "and a VPC host, the client; the `vpcnode` row, the VPC host to the instance, is "
            "that path's floor (one more routing hop, the VPC's router, than node to node).")
    text.append(
        "Pods are made by the plugins themselves (CNI ADD); the script checks that each "
        "cross-node row's route goes over its device (up0, quasar.vxlan%s). netserver and "
        "`iperf3 -s` run in the pod (or node) on the right, the clients in the one on the left. "
        "Each test runs %d s; each of the %d rounds runs every row in turn, so a burst of other "
        "work hits every row alike." % (", tunl0" if "ipip" in rows else "", results["seconds"],
                                      results["rounds"]))
    if tests & {"tcp_rr", "tcp_crr", "udp_rr"}:
        text.append("RR tests send 64-byte requests and responses (`-- -r 64,64`).")
    if "tcp_crr" in tests:
        text.append("TCP_CRR opens a connection per transaction.")
    if "stream8" in tests:
        text.append("The 8-flow netperf stream is 8 netperf processes started together, their "
                    "throughputs summed.")
    if tests & {"iperf1", "iperf8"}:
        text.append("The iperf3 rows are one client with 1 or 8 parallel streams (`-P`), the "
                    "receiver's total: a second opinion on bulk throughput.")
    text.append("Raw figures: the JSON file the script names at the end.")
    return " ".join(text)


# What emulation does to the figures: said with every VM run.
VM_CAVEAT = (
    "**Under emulation.** qemu's TCG translates and runs every guest instruction on this "
    "machine's CPUs, kernel and netperf alike; the VM's two vCPUs are threads on the same two "
    "cores the host's other work uses. Absolute rates are therefore far below the namespaces' on "
    "this machine's kernel (the section above) and are not comparable with them, nor with real "
    "hardware. The rows of this run are comparable with each other: the same kernel, the same "
    "emulation, interleaved rounds. But a ratio between rows is not the ratio native hardware "
    "would show: emulation slows kinds of work unevenly (system calls, interrupts, timers and "
    "context switches cost relatively more than straight-line code such as checksums and header "
    "building), so a path whose extra cost is such code (encapsulation) looks closer to the "
    "others than natively, or further, by an unknown factor. Treat IPIP against VXLAN here as "
    "the two encapsulations on the same kernel, measured as fairly as this machine allows, not "
    "as their native ratio.")


def section(results, chart_name="netperf.png"):
    """The Markdown of docs/benchmarks.md's netperf (or netperf-vm) section (without its
    markers)."""
    summary = summarize(results)
    vm = results.get("vm")
    ratios = (
        "Ratios are this row's median over the node-to-node median (`vs %s`) and over the VXLAN "
        "row's (`vs %s`) for the same test: every figure is a rate, so below 1 is slower. On one "
        "machine every namespace shares the same CPUs: this shows what each path adds per packet "
        "(veth hops, routing, encapsulation), not line rate; where the min–max spreads of two rows "
        "overlap, their difference is not shown to be real (a pod path above 1 is such a case)." % (
            results["floor"], results.get("overlay")))
    heading = ("## Data path in the VM (Debian's kernel, qemu TCG): IPIP and every other row"
               if vm else
               "## Data path: netperf between pods, against the node-to-node floor and "
               "ptp + host-local")
    lines = [heading, "", wrap(run_text(results)), "", wrap(setup_text(results)), ""]
    if vm:
        lines += [wrap(VM_CAVEAT), ""]
    lines += [wrap(ratios), ""]
    goal = goal_text(results, summary)
    if goal:
        lines += [wrap(goal), ""]
    lines += [markdown_table(results, summary), "",
              "![netperf: each path's median relative to node to node](%s)" % chart_name, ""]
    return "\n".join(lines)


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
