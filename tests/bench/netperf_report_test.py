#!/usr/bin/env python3
"""Unit test of tests/bench/netperf_report.py: a results JSON in, the table's medians, spreads
and ratios out. No root, no network, no gnuplot (the chart's data and script are checked as
text)."""

import copy
import json
import os
import re
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netperf_report as nr  # noqa: E402


def results(samples):
    return {
        "command": "scripts/netperf-bench.sh 3 3", "date": "2026-12-02",
        "machine": {"cores": 2, "cpu": "Test CPU", "kernel": "6.1.0-test"},
        "netperf": "2.7.0", "rounds": 4, "seconds": 3,
        "load_average": {"before": "0.10", "after": "1.90"}, "note": "",
        "floor": "node", "overlay": "vxlan",
        "rows": [{"id": "node", "label": "node to node"},
                 {"id": "vxlan", "label": "pod to pod, VXLAN"},
                 {"id": "ptp", "label": "pod to pod, ptp"}],
        "tests": [{"id": "tcp_rr", "label": "TCP_RR 64/64", "unit": "trans/s", "tool": "netperf", "args": ""},
                  {"id": "stream1", "label": "TCP_STREAM", "unit": "Mbit/s", "tool": "iperf3", "args": "-P 1"}],
        "samples": [{"round": i + 1, "row": row, "test": test, "value": v, "flows": [v]}
                    for (row, test), vals in samples.items() for i, v in enumerate(vals)],
    }


# Unsorted, with outliers: a mean, a min, a max or the first/last round would each give another
# number than the median. An even count for vxlan (4 rounds): its median is the mean of the
# two middle values.
SAMPLES = {
    ("node", "tcp_rr"): [30000, 10000, 20000, 90000],   # median 25000, mean 37500
    ("vxlan", "tcp_rr"): [12000, 2000, 8000, 13000],    # median 10000, mean 8750
    ("ptp", "tcp_rr"): [25000, 20000, 100, 15000],      # median 17500
    ("node", "stream1"): [4000, 1000, 3000],            # median 3000 (odd count)
    ("vxlan", "stream1"): [1500, 900, 9000],            # median 1500
    ("ptp", "stream1"): [2400, 2600, 2500],             # median 2500
}


class Summary(unittest.TestCase):
    def setUp(self):
        self.s = nr.summarize(results(SAMPLES))

    def test_median_of_an_even_count_is_the_mean_of_the_two_middle_values(self):
        self.assertEqual(self.s[("node", "tcp_rr")]["median"], 25000)
        self.assertEqual(self.s[("vxlan", "tcp_rr")]["median"], 10000)
        self.assertEqual(self.s[("ptp", "tcp_rr")]["median"], 17500)

    def test_median_of_an_odd_count_is_the_middle_value_not_the_mean(self):
        self.assertEqual(self.s[("vxlan", "stream1")]["median"], 1500)
        self.assertEqual(self.s[("node", "stream1")]["median"], 3000)

    def test_spread_is_min_and_max_over_rounds(self):
        c = self.s[("ptp", "tcp_rr")]
        self.assertEqual((c["min"], c["max"], c["n"]), (100, 25000, 4))

    def test_ratios_are_median_over_the_reference_rows_median_for_the_same_test(self):
        self.assertAlmostEqual(self.s[("vxlan", "tcp_rr")]["vs_floor"], 10000 / 25000)
        self.assertAlmostEqual(self.s[("ptp", "tcp_rr")]["vs_floor"], 17500 / 25000)
        self.assertAlmostEqual(self.s[("ptp", "tcp_rr")]["vs_overlay"], 17500 / 10000)
        self.assertAlmostEqual(self.s[("ptp", "stream1")]["vs_floor"], 2500 / 3000)
        self.assertAlmostEqual(self.s[("ptp", "stream1")]["vs_overlay"], 2500 / 1500)
        self.assertAlmostEqual(self.s[("node", "stream1")]["vs_floor"], 1.0)
        self.assertAlmostEqual(self.s[("vxlan", "stream1")]["vs_overlay"], 1.0)

    def test_sample_order_does_not_matter(self):
        r = results(SAMPLES)
        r["samples"].reverse()
        self.assertEqual(nr.summarize(r), self.s)

    def test_a_row_without_samples_is_an_error(self):
        r = results(SAMPLES)
        r["samples"] = [s for s in r["samples"] if s["row"] != "ptp" or s["test"] != "stream1"]
        with self.assertRaisesRegex(nr.ReportError, "ptp, test stream1"):
            nr.summarize(r)

    def test_a_sample_of_an_undeclared_row_is_an_error(self):
        r = results(SAMPLES)
        r["samples"].append({"round": 1, "row": "ipip", "test": "tcp_rr", "value": 1})
        with self.assertRaisesRegex(nr.ReportError, "ipip"):
            nr.summarize(r)

    def test_a_floor_that_is_not_a_row_is_an_error(self):
        r = results(SAMPLES)
        r["floor"] = "bare-metal"
        with self.assertRaisesRegex(nr.ReportError, "bare-metal"):
            nr.summarize(r)


class Table(unittest.TestCase):
    def test_lines_hold_median_spread_and_both_ratios(self):
        table = nr.markdown_table(results(SAMPLES)).splitlines()
        self.assertEqual(len(table), 2 + 6)
        rr = "| TCP_RR 64/64 (trans/s) | "
        self.assertIn(rr + "pod to pod, ptp | 17,500 | 100–25,000 | 0.70x | 1.75x |", table)
        self.assertIn(rr + "node to node | 25,000 | 10,000–90,000 | 1.00x | 2.50x |", table)
        st = "| TCP_STREAM (Mbit/s) | "
        self.assertIn(st + "pod to pod, VXLAN | 1,500 | 900–9,000 | 0.50x | 1.00x |", table)

    def test_order_follows_tests_then_rows(self):
        table = nr.markdown_table(results(SAMPLES)).splitlines()[2:]
        paths = [line.split(" | ")[1] for line in table]
        self.assertEqual(paths, ["node to node", "pod to pod, VXLAN", "pod to pod, ptp"] * 2)
        self.assertTrue(all("TCP_RR" in line for line in table[:3]))

    def test_without_an_overlay_the_second_ratio_is_a_dash(self):
        r = results(SAMPLES)
        r["overlay"] = None
        line = nr.markdown_table(r).splitlines()[2]
        self.assertTrue(line.endswith("| 1.00x | – |"), line)


class Chart(unittest.TestCase):
    def test_data_is_each_median_min_and_max_over_the_floors_median(self):
        lines = nr.chart_data(results(SAMPLES)).splitlines()
        self.assertEqual(lines[0].split("\t"), [
            "TCP_RR 64/64", "1.0000", "0.4000", "3.6000",   # node: 25000, 10000, 90000 / 25000
            "0.4000", "0.0800", "0.5200",                   # vxlan
            "0.7000", "0.0040", "1.0000"])                  # ptp
        self.assertEqual(lines[1].split("\t")[1:4], ["1.0000", "0.3333", "1.3333"])

    def test_script_plots_every_row_with_its_label(self):
        script = nr.chart_script(results(SAMPLES), "/tmp/d.dat", "/tmp/x.png")
        self.assertIn("using 2:3:4:xtic(1) title \"node to node\"", script)
        self.assertIn("using 8:9:10 title \"pod to pod, ptp\"", script)
        self.assertIn("set output '/tmp/x.png'", script)

    def test_no_two_rows_share_a_colour_up_to_sixteen(self):
        r = results(SAMPLES)
        r["rows"] = [{"id": "r%d" % i, "label": "row %d" % i} for i in range(16)]
        script = nr.chart_script(r, "/tmp/d.dat", "/tmp/x.png")
        colours = re.findall(r"lc rgb '(#[0-9a-f]{6})'", script)
        self.assertEqual(len(colours), 16)
        self.assertEqual(len(set(colours)), 16)


# The IPIP row against VXLAN on TCP_CRR (issue 16's goal: at least 1.10x). Per round:
# 1.20, 1.05, 1.30; the medians 4200 / 3500 = 1.20.
IPIP_SAMPLES = {
    ("node", "tcp_crr"): [8000, 8000, 8000],
    ("vxlan", "tcp_crr"): [3000, 4000, 3500],
    ("ipip", "tcp_crr"): [3600, 4200, 4550],
}


def ipip_results(samples=IPIP_SAMPLES):
    r = results(samples)
    r["rounds"] = 3
    r["rows"] = [{"id": "node", "label": "node to node"},
                 {"id": "vxlan", "label": "pod to pod, VXLAN"},
                 {"id": "ipip", "label": "pod to pod, IPIP"}]
    r["tests"] = [{"id": "tcp_crr", "label": "TCP_CRR 64/64", "unit": "trans/s",
                   "tool": "netperf", "args": ""}]
    return r


class IpipGoal(unittest.TestCase):
    def test_ratio_of_medians_and_of_each_round(self):
        r = nr.pair_ratio(ipip_results(), "ipip", "vxlan", "tcp_crr")
        self.assertAlmostEqual(r["of_medians"], 4200 / 3500)
        self.assertEqual([round(x, 4) for x in r["rounds"]], [1.2, 1.05, 1.3])
        self.assertAlmostEqual(r["median_of_rounds"], 1.2)

    def test_no_ipip_row_no_ratio_and_no_goal_sentence(self):
        self.assertIsNone(nr.pair_ratio(results(SAMPLES), "ipip", "vxlan", "tcp_crr"))
        self.assertIsNone(nr.goal_text(results(SAMPLES)))
        self.assertNotIn("IPIP against VXLAN", nr.section(results(SAMPLES)))

    def test_goal_met_on_the_medians_says_when_rounds_straddle_it(self):
        text = nr.goal_text(ipip_results())
        self.assertIn("TCP_CRR 64/64: 1.20x", text)
        self.assertIn("per round 1.20x, 1.05x, 1.30x, median 1.20x", text)
        self.assertIn("at least 1.10x: met, but the rounds' ratios straddle 1.10x", text)

    def test_goal_not_met(self):
        slow = dict(IPIP_SAMPLES)
        slow[("ipip", "tcp_crr")] = [3000, 4000, 3600]  # medians 3600 / 3500 = 1.03
        text = nr.goal_text(ipip_results(slow))
        self.assertIn("1.03x", text)
        self.assertTrue(text.endswith("at least 1.10x: not met."), text)

    def test_vm_section_names_the_emulation_and_the_host(self):
        r = ipip_results()
        r["vm"] = {"qemu": "QEMU emulator version 7.2.0", "accel": "tcg", "vcpus": 2,
                   "memory_mib": 3072}
        r["host"] = {"cores": 2, "cpu": "Host CPU", "kernel": "6.18-host",
                     "load_average": {"before": "1.50", "after": "2.00"}}
        text = " ".join(nr.section(r, "netperf-vm.png").split())
        for want in ("in the VM", "TCG emulation", "Debian's kernel 6.1.0-test",
                     "2 cores (Host CPU, kernel 6.18-host)", "Under emulation.",
                     "`ipip-always`", "load average 1.50", "IPIP against VXLAN",
                     "](netperf-vm.png)", "| pod to pod, IPIP | 4,200 |"):
            self.assertIn(want, text)
        self.assertIn("in the VM, qemu TCG", nr.chart_script(r, "/tmp/d", "/tmp/p.png"))


class Section(unittest.TestCase):
    def test_names_command_date_machine_and_links_the_chart(self):
        text = " ".join(nr.section(results(SAMPLES)).split())  # the prose is wrapped at 100
        for want in ("`scripts/netperf-bench.sh 3 3`", "2026-12-02", "2 cores, Test CPU",
                     "kernel 6.1.0-test", "](netperf.png)", "| 17,500 |"):
            self.assertIn(want, text)
        self.assertNotIn("shared with other work", text)

    def assert_described_only_when_measured(self, row_id, label, marker, wants):
        """Without the row the section lacks `marker`; with it (measured) it has every want."""
        r = results(SAMPLES)
        self.assertNotIn(marker, " ".join(nr.section(r).split()))
        r["rows"].append({"id": row_id, "label": label})
        for test in ("tcp_rr", "stream1"):
            r["samples"].append({"round": 1, "row": row_id, "test": test, "value": 1,
                                 "flows": [1]})
        text = " ".join(nr.section(r).split())
        for want in (marker,) + wants:
            self.assertIn(want, text)

    def test_conntrack_pairs_are_described_only_when_measured(self):
        self.assert_described_only_when_measured(
            "ptpct", "ptp, conntrack on", "what conntrack costs",
            ("`networkPolicy: false`", "--ctstate ESTABLISHED"))

    def test_floating_ip_rows_are_described_only_when_measured(self):
        self.assert_described_only_when_measured(
            "fipmacvlan", "floating-IP pod (macvlan)", "FloatingIPPools",
            ("a plain host on the subnet", "floating-IP pod (macvlan)"))

    def test_eni_rows_are_described_only_when_measured(self):
        self.assert_described_only_when_measured(
            "eni", "ENI secondary-IP pod", "vpc-sim",
            ("ENI mode", "`vpcnode` row", "ENI secondary-IP pod"))

    def test_says_so_when_the_cpu_was_busy_before_the_run(self):
        r = results(SAMPLES)
        r["load_average"]["before"] = "3.20"
        self.assertIn("The CPU was shared with other work", " ".join(nr.section(r).split()))

    def test_cli_writes_the_section_and_fails_on_broken_input(self):
        with tempfile.TemporaryDirectory() as tmp:
            good = os.path.join(tmp, "good.json")
            with open(good, "w") as f:
                json.dump(results(SAMPLES), f)
            out = os.path.join(tmp, "section.md")
            script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "netperf_report.py")
            subprocess.run([sys.executable, script, good, "--section", out], check=True)
            with open(out) as f:
                self.assertIn("| 17,500 |", f.read())
            broken = copy.deepcopy(results(SAMPLES))
            broken["samples"] = broken["samples"][1:]
            broken["samples"] = [s for s in broken["samples"] if s["row"] != "node"]
            bad = os.path.join(tmp, "bad.json")
            with open(bad, "w") as f:
                json.dump(broken, f)
            p = subprocess.run([sys.executable, script, bad, "--table"], capture_output=True,
                               text=True)
            self.assertEqual(p.returncode, 1)
            self.assertIn("no sample for row node", p.stderr)


if __name__ == "__main__":
    unittest.main()
