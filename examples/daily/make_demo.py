#!/usr/bin/env python3
"""Writes the demo data set of the wine shop (see ../../../shared/MERCHANTS.md, merchant 1).

Run it to regenerate the files beside it; they are committed, so the demo needs no Python.
"""
import csv
import io

WINES = [
    # sku, Hebrew name, English name, web price, web stock, comax price, comax stock, note
    ("W1001", "קברנה סוביניון 2021", "Cabernet Sauvignon 2021", "89.90", "12", "89.90", "12", ""),
    ("W1002", "מרלו 2020", "Merlot 2020", "74.90", "8", "79.90", "8", "price up"),
    ("W1003", "שרדונה 2022", "Chardonnay 2022", "69.90", "5", "69.90", "9", "on hold 2"),
    ("W1004", "סוביניון בלאן 2023", "Sauvignon Blanc 2023", "59.90", "20", "59.90", "17", "sold 3"),
    ("W1005", "רוזה 2023", "Rosé 2023", "54.90", "0", "54.90", "6", "back in stock"),
    ("W1006", "שיראז רזרב 2019", "Shiraz Reserve 2019", "149.00", "3", "149.00", "-2", "negative"),
    ("W1007", "מוסקט קינוח", "Dessert Muscat", "45.00", "7", "45.00", "7", "archived"),
    ("W1008", "פינו נואר 2021", "Pinot Noir 2021", "99.00", "4", "99.00", "4", ""),
    ("W1009", "קאווה ברוט", "Cava Brut", "64.90", "10", "64.90", "10", ""),
    ("W1010", "גוורצטרמינר 2022", "Gewürztraminer 2022", "72.00", "", "72.00", "6", "empty web stock"),
    ("W1011", "מלבק 2020", "Malbec 2020", "84.90", "6", "84.90", "6", ""),
    ("W1012", "ריזלינג 2022", "Riesling 2022", "66.00", "9", "66.00", "9", ""),
    ("W1013", "טמפרניו 2019", "Tempranillo 2019", "92.00", "2", "92.00", "2", ""),
    ("W1014", "קברנה פרנק 2020", "Cabernet Franc 2020", "110.00", "5", "55.00", "5", "price halved"),
    ("W1015", "ויונייה 2022", "Viognier 2022", "68.00", "11", "68.00", "11", ""),
]

HEADER = ["ID", "Type", "SKU", "Name", "Published", "Is featured?", "Visibility in catalog",
          "Short description", "Description", "Tax status", "In stock?", "Stock",
          "Backorders allowed?", "Sale price", "Regular price", "Categories", "Parent"]


def product(pid, kind, sku, name, stock, price, cat="יינות", parent="", desc=""):
    in_stock = "1" if stock and int(stock) > 0 else ("0" if stock != "" else "1")
    return [str(pid), kind, sku, name, "1", "0", "visible", "", desc, "taxable", in_stock, stock,
            "0", "", price, cat, parent]


def main():
    web, translations = [], []
    for i, (sku, he, en, wp, ws, _cp, _cs, _note) in enumerate(WINES):
        pid, tid = 100 + i, 500 + i
        web.append(product(pid, "simple", sku, he, ws, wp, desc="יין ישראלי \"בוטיק\"\nמהגליל"))
        # English translations: half carry the original's SKU, half leave it empty (WPML style).
        web.append(product(tid, "simple", sku if i % 2 == 0 else "", en, ws, wp, cat="Wines"))
        translations.append([str(tid), "en", str(pid)])
    # A gift set: a variable product with two variations, and its translation.
    web.append(product(130, "variable", "GS", "מארז מתנה", "", "", cat="מארזים"))
    web.append(product(131, "variation", "GS-2", "מארז מתנה - 2 בקבוקים", "4", "159.00", cat="", parent="GS"))
    web.append(product(132, "variation", "GS-3", "מארז מתנה - 3 בקבוקים", "2", "229.00", cat="", parent="GS"))
    web.append(product(530, "variable", "", "Gift box", "", "", cat="Gift boxes"))
    translations.append(["530", "en", "130"])
    # A downloadable tasting guide, a grouped set and an external product.
    web.append(product(140, "simple, downloadable, virtual", "GUIDE", "מדריך טעימות", "", "19.90", cat="מדריכים"))
    web.append(product(540, "simple, downloadable, virtual", "", "Tasting guide", "", "19.90", cat="Guides"))
    translations.append(["540", "en", "140"])
    web.append(product(150, "grouped", "", "סדרת הגליל", "", "", cat="יינות"))
    web.append(product(160, "external", "EXT-1", "סדנת יין (אתר חיצוני)", "", "120.00", cat="סדנאות"))
    # A product the ERP does not know, and one without a SKU.
    web.append(product(170, "simple", "W9999", "יין מהדורה מוגבלת", "1", "250.00"))
    web.append(product(171, "simple", "", "כוס יין ממותגת", "30", "25.00", cat="אביזרים"))

    with open("WebProducts.csv", "w", encoding="utf-8-sig", newline="") as f:
        w = csv.writer(f, lineterminator="\r\n")
        w.writerow(HEADER)
        w.writerows(web)
    with open("WebTranslations.csv", "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["product_id", "language", "original_product_id"])
        w.writerows(translations)

    orders = [
        ["5001", "1001", "processing", "2026-11-24T18:02:11", "דנה לוי", "dana@example.co.il", "W1001", "2", "179.80", "ILS"],
        ["5001", "1001", "processing", "2026-11-24T18:02:11", "דנה לוי", "dana@example.co.il", "GS-2", "1", "159.00", "ILS"],
        ["5002", "1002", "processing", "2026-11-24T20:45:03", "Noam Cohen", "noam@example.com", "W1009", "1", "64.90", "ILS"],
        ["5003", "1003", "on-hold", "2026-11-24T21:10:40", "יוסי מזרחי", "yossi@example.co.il", "W1003", "2", "139.80", "ILS"],
        ["5000", "1000", "completed", "2026-11-23T10:00:00", "Maya Katz", "maya@example.com", "W1004", "3", "179.70", "ILS"],
    ]
    with open("WebOrders.csv", "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["order_id", "order_number", "status", "date_created", "customer_name",
                    "customer_email", "sku", "quantity", "line_total", "currency"])
        w.writerows(orders)

    # The Comax export: Windows-1255, CMX headers, a blank header over the price column.
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(["CMX SKU", "CMX NAME", "CMX DIV", "CMX ARCHIVE", "", "CMX STOCK", "CMX WEB"])
    for sku, he, _en, _wp, _ws, cp, cs, note in WINES:
        w.writerow([sku, he, "יין", "X" if note == "archived" else "", cp, cs, "1"])
    w.writerow(["GS-2", "מארז 2 בקבוקים", "מארזים", "", "159.00", "4", "1"])
    w.writerow(["GS-3", "מארז 3 בקבוקים", "מארזים", "", "239.00", "2", "1"])
    w.writerow(["GUIDE", "מדריך טעימות", "שונות", "", "19.90", "500", "1"])
    w.writerow(["W1016", "קריניאן 2021", "יין", "", "79.00", "14", "1"])
    w.writerow(["OFF-1", "פותחן מקצועי", "אביזרים", "", "35.00", "40", "0"])
    with open("ComaxProducts.csv", "wb") as f:
        f.write(out.getvalue().encode("cp1255"))


if __name__ == "__main__":
    main()
