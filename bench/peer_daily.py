#!/usr/bin/env python3
"""The peer of `storesync daily`: a plain Python script that follows the same rules (on-hold
stock, translations matched through their original, inactive and negative stock as 0, the
export of differing rows) on the same four files, as a merchant's own script would.

usage: peer_daily.py WEB_PRODUCTS WEB_ORDERS WEB_TRANSLATIONS COMAX OUT
"""
import csv
import sys
from decimal import Decimal


def cents(s):
    s = (s or "").strip()
    return int((Decimal(s) * 100).quantize(Decimal(1))) if s else None


def main():
    web_products, web_orders, web_translations, comax_path, out = sys.argv[1:6]
    held = {}
    with open(web_orders, encoding="utf-8-sig", newline="") as f:
        for r in csv.DictReader(f):
            if r["status"] == "on-hold":
                k = r["sku"].strip().lower()
                held[k] = held.get(k, 0) + int(r["quantity"])
    original_of = {}
    with open(web_translations, encoding="utf-8-sig", newline="") as f:
        for r in csv.DictReader(f):
            original_of[int(r["product_id"])] = int(r["original_product_id"])
    comax = {}
    with open(comax_path, encoding="utf-8-sig", newline="") as f:
        for r in csv.DictReader(f):
            k = r["sku"].strip().lower()
            if k in comax:
                sys.exit(f"duplicate SKU {k}")
            stock = int(r["stock"]) if r["active"] == "1" else 0
            comax[k] = (cents(r["price"]), max(0, stock))
    rows, sku_of = [], {}
    with open(web_products, encoding="utf-8-sig", newline="") as f:
        for r in csv.DictReader(f):
            pid = int(r["ID"])
            sku_of[pid] = r["SKU"].strip().lower()
            rows.append(r)
    with open(out, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["ID", "SKU", "Stock", "In stock?", "Regular price"])
        for r in rows:
            kinds = {t.strip() for t in r["Type"].split(",")} - {"virtual", "downloadable", ""}
            if not kinds <= {"simple", "variation"}:
                continue
            pid = int(r["ID"])
            key = r["SKU"].strip().lower() or sku_of.get(original_of.get(pid), "")
            if key not in comax:
                continue
            price, stock = comax[key]
            stock = max(0, stock - held.get(key, 0))
            web_stock = r["Stock"].strip()
            if web_stock == "" or int(web_stock) != stock or cents(r["Regular price"]) != price:
                w.writerow([pid, r["SKU"], stock, 1 if stock > 0 else 0, f"{price / 100:.2f}"])


if __name__ == "__main__":
    main()
