#!/usr/bin/env python3
"""Runs each benchmark case several times under /usr/bin/time and prints a Markdown table of the
median wall time and the peak memory (max RSS), side by side with the peers.

usage: measure.py STORESYNC_BINARY CSV_DIFF_BINARY
"""
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
D1M, D100K = os.path.join(HERE, "data/1m"), os.path.join(HERE, "data/100k")


def run(cmd, runs):
    walls, rss = [], []
    for _ in range(runs):
        p = subprocess.run(["/usr/bin/time", "-f", "%e %M"] + cmd, capture_output=True, text=True)
        if p.returncode not in (0, 1):  # csv-diff exits 1 when the files differ
            sys.exit(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stderr[-2000:]}")
        wall, kb = p.stderr.strip().splitlines()[-1].split()
        walls.append(float(wall))
        rss.append(int(kb))
    return statistics.median(walls), max(rss) / 1024


def diff_cmd(bin_, d, out):
    return [bin_, "--state", tempfile.mkdtemp(), "diff", "--web-products", f"{d}/WebProducts.csv",
            "--comax", f"{d}/ComaxProducts.csv", "--web-orders", f"{d}/WebOrders.csv",
            "--web-translations", f"{d}/WebTranslations.csv", "--out", out]


def daily_cmd(bin_, d, out):
    return [bin_, "--state", tempfile.mkdtemp(), "daily", "--web-products", f"{d}/WebProducts.csv",
            "--web-orders", f"{d}/WebOrders.csv", "--web-translations", f"{d}/WebTranslations.csv",
            "--comax", f"{d}/ComaxProducts.csv", "--out", out, "--yes"]


def keyed_comax(d):
    """csv-diff compares two files by one key column of the same name: the Comax file with the
    web export's header names (SKU, Regular price, Stock), same rows and values."""
    path = os.path.join(d, "ComaxProducts.keyed.csv")
    if not os.path.exists(path):
        with open(os.path.join(d, "ComaxProducts.csv"), encoding="utf-8") as src, open(path, "w", encoding="utf-8") as dst:
            src.readline()
            dst.write("SKU,name,group,Regular price,Stock,active,sell_online\n")
            for line in src:
                dst.write(line)
    return path


def main():
    storesync, csv_diff = sys.argv[1], sys.argv[2]
    out = tempfile.mkdtemp()
    rows = []
    w, m = run(diff_cmd(storesync, D1M, f"{out}/inv.csv"), 7)
    rows.append(("step-5 diff + export, 1,000,000 products", "storesync diff", w, m))
    w, m = run(diff_cmd(storesync, D100K, f"{out}/inv.csv"), 7)
    rows.append(("step-5 diff + export, 100,000 products", "storesync diff", w, m))
    w2, m2 = run([csv_diff, f"{D100K}/WebProducts.csv", keyed_comax(D100K), "--key=SKU"], 3)
    rows.append(("diff, 100,000 products", "csv-diff (PyPI)", w2, m2))
    ratio = w2 / w
    w, m = run(daily_cmd(storesync, D100K, f"{out}/daily"), 5)
    rows.append(("whole daily flow, 100,000 products", "storesync daily --yes", w, m))
    w3, m3 = run(["python3", os.path.join(HERE, "peer_daily.py"), f"{D100K}/WebProducts.csv", f"{D100K}/WebOrders.csv",
                  f"{D100K}/WebTranslations.csv", f"{D100K}/ComaxProducts.csv", f"{out}/peer.csv"], 5)
    rows.append(("export rules only, 100,000 products", "plain Python (bench/peer_daily.py)", w3, m3))
    print("| case | program | median wall (s) | peak RSS (MB) |")
    print("|---|---|---|---|")
    for case, prog, w, m in rows:
        print(f"| {case} | {prog} | {w:.3f} | {m:.0f} |")
    print(f"\nstoresync diff is {ratio:.0f}x faster than csv-diff on the 100,000-product pair.")


if __name__ == "__main__":
    main()
