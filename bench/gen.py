#!/usr/bin/env python3
"""Generates a benchmark pair: a WooCommerce product export and a Comax export of N products,
about 5 % of them differing (stock or price), plus orders and translations.

usage: gen.py N OUTDIR
"""
import os
import random
import sys


def main():
    n, out = int(sys.argv[1]), sys.argv[2]
    os.makedirs(out, exist_ok=True)
    rnd = random.Random(42)
    web = ["ID,Type,SKU,Name,Published,In stock?,Stock,Regular price,Categories,Parent"]
    comax = ["sku,name,group,price,stock,active,sell_online"]
    trans = ["product_id,language,original_product_id"]
    orders = ["order_id,order_number,status,date_created,customer_name,customer_email,sku,quantity,line_total,currency"]
    pid = 1
    i = 0
    while i < n:
        if i % 50 == 0 and i + 3 <= n:
            # A variable product with three variations (the parent is not compared).
            parent = pid
            web.append(f"{pid},variable,VAR{i},Variable {i},1,1,,,Wines,")
            pid += 1
            for v in range(3):
                sku = f"SKU{i:07d}"
                stock, price = rnd.randint(0, 40), rnd.randint(1000, 50000)
                web_stock, web_price = stock, price
                r = rnd.random()
                if r < 0.025:
                    web_stock = stock + 1
                elif r < 0.05:
                    web_price = price + 10
                web.append(f"{pid},variation,{sku},Variation {i},1,1,{web_stock},{web_price // 100}.{web_price % 100:02d},,VAR{i}")
                comax.append(f"{sku},Variation {i},wine,{price // 100}.{price % 100:02d},{stock},1,1")
                pid += 1
                i += 1
            continue
        sku = f"SKU{i:07d}"
        stock, price = rnd.randint(0, 40), rnd.randint(1000, 50000)
        web_stock, web_price = stock, price
        r = rnd.random()
        if r < 0.025:
            web_stock = stock + 2
        elif r < 0.05:
            web_price = price - 5
        web.append(f"{pid},simple,{sku},Product {i},1,1,{web_stock},{web_price // 100}.{web_price % 100:02d},Wines,")
        comax.append(f"{sku},מוצר {i},wine,{price // 100}.{price % 100:02d},{stock},1,1")
        if i % 10 == 0:
            # Its English translation, with an empty SKU (matched through the original).
            tid = 10_000_000 + pid
            trans.append(f"{tid},en,{pid}")
            web.append(f"{tid},simple,,Product {i} (EN),1,1,{web_stock},{web_price // 100}.{web_price % 100:02d},Wines,")
        if i % 500 == 7:
            status = "on-hold" if i % 1000 == 7 else "processing"
            orders.append(f"{i},{i},{status},2026-11-24T10:00:00,Customer {i},c{i}@example.com,{sku},1,{price // 100}.{price % 100:02d},ILS")
        pid += 1
        i += 1
    for name, rows in [("WebProducts.csv", web), ("ComaxProducts.csv", comax), ("WebTranslations.csv", trans), ("WebOrders.csv", orders)]:
        with open(os.path.join(out, name), "w", encoding="utf-8", newline="") as f:
            f.write("\n".join(rows))
            f.write("\n")


if __name__ == "__main__":
    main()
